"""A NumPy forward pass for BERT-family sentence-transformers models (mean pooling).

Why: importing torch and sentence-transformers takes ~4-5 s on this class of machine,
which alone breaks the cold-start budget of the CLI and of a bot restart. The weights
load from safetensors and the tokenizer from ``tokenizer.json`` in ~0.1 s, and a
6-layer MiniLM forward pass for a short question takes a few milliseconds in NumPy.
A test checks its vectors against sentence-transformers' own.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


class UnsupportedModel(ValueError):
    """The model folder is not a BERT + mean-pooling sentence-transformers model."""


def _erf(x: np.ndarray) -> np.ndarray:
    # Abramowitz-Stegun 7.1.26 is too coarse; use scipy when present, else a vectorized math.erf.
    try:
        from scipy.special import erf

        return erf(x)
    except ImportError:  # pragma: no cover - scipy comes with sentence-transformers
        return np.vectorize(math.erf, otypes=[np.float32])(x)


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


class NumpyBertEncoder:
    """Encodes texts like ``SentenceTransformer(path).encode(..., normalize_embeddings=True)``."""

    def __init__(self, model_dir: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        model_dir = Path(model_dir)
        config = json.loads((model_dir / "config.json").read_text())
        if config.get("model_type") != "bert":
            raise UnsupportedModel(f"model_type {config.get('model_type')!r} is not bert")
        if config.get("hidden_act", "gelu") != "gelu":
            raise UnsupportedModel(f"activation {config.get('hidden_act')!r} is not gelu")
        pooling = self._pooling_config(model_dir)
        if not pooling.get("pooling_mode_mean_tokens") or any(
            pooling.get(k) for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens", "pooling_mode_lasttoken")
        ):
            raise UnsupportedModel("pooling is not mean-of-tokens")
        weights_file = model_dir / "model.safetensors"
        if not weights_file.exists() or not (model_dir / "tokenizer.json").exists():
            raise UnsupportedModel("model.safetensors or tokenizer.json missing")
        st_config_file = model_dir / "sentence_bert_config.json"
        st_config = json.loads(st_config_file.read_text()) if st_config_file.exists() else {}
        self.max_len = int(st_config.get("max_seq_length") or config.get("max_position_embeddings", 512))
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.layers = int(config["num_hidden_layers"])
        raw = load_file(str(weights_file))
        self.w = {k.removeprefix("bert."): v.astype(np.float32) for k, v in raw.items()}
        # Linear weights are stored (out, in); transpose once so the forward pass is x @ W.
        for key in list(self.w):
            if key.endswith(".weight") and self.w[key].ndim == 2 and "embeddings" not in key:
                self.w[key] = np.ascontiguousarray(self.w[key].T)
        self.dimension = int(config["hidden_size"])
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=self.max_len)
        self.tokenizer.no_padding()
        self.normalize = (model_dir / "modules.json").exists() and "Normalize" in (
            model_dir / "modules.json"
        ).read_text()

    @staticmethod
    def _pooling_config(model_dir: Path) -> dict[str, bool]:
        modules_file = model_dir / "modules.json"
        if not modules_file.exists():
            raise UnsupportedModel("modules.json missing")
        for module in json.loads(modules_file.read_text()):
            if module.get("type", "").endswith("Pooling"):
                return json.loads((model_dir / module["path"] / "config.json").read_text())
        raise UnsupportedModel("no pooling module")

    def encode(self, texts: list[str], batch_size: int = 16) -> np.ndarray:
        """Normalized embeddings, shape (len(texts), dimension), float32."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        encodings = self.tokenizer.encode_batch(texts)
        # Sort by length so each batch pads little.
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            width = max(len(encodings[i].ids) for i in chunk)
            ids = np.zeros((len(chunk), width), dtype=np.int64)
            mask = np.zeros((len(chunk), width), dtype=np.float32)
            for row, i in enumerate(chunk):
                seq = encodings[i].ids
                ids[row, : len(seq)] = seq
                mask[row, : len(seq)] = 1.0
            out[chunk] = self._forward(ids, mask)
        return out

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        w = self.w
        batch, width = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][np.arange(width)][None]
            + w["embeddings.token_type_embeddings.weight"][0][None, None]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps)
        head_dim = self.dimension // self.heads
        bias = ((1.0 - mask) * -1e9)[:, None, None, :]
        scale = 1.0 / math.sqrt(head_dim)
        for n in range(self.layers):
            p = f"encoder.layer.{n}."

            def heads(t: np.ndarray) -> np.ndarray:
                return t.reshape(batch, width, self.heads, head_dim).transpose(0, 2, 1, 3)

            q = heads(x @ w[p + "attention.self.query.weight"] + w[p + "attention.self.query.bias"])
            k = heads(x @ w[p + "attention.self.key.weight"] + w[p + "attention.self.key.bias"])
            v = heads(x @ w[p + "attention.self.value.weight"] + w[p + "attention.self.value.bias"])
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
            scores -= scores.max(-1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(-1, keepdims=True)
            ctx = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, width, self.dimension)
            attn = ctx @ w[p + "attention.output.dense.weight"] + w[p + "attention.output.dense.bias"]
            x = _layer_norm(
                attn + x, w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"], self.eps
            )
            h = x @ w[p + "intermediate.dense.weight"] + w[p + "intermediate.dense.bias"]
            h = 0.5 * h * (1.0 + _erf(h / math.sqrt(2.0)))
            h = h @ w[p + "output.dense.weight"] + w[p + "output.dense.bias"]
            x = _layer_norm(h + x, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], self.eps)
        summed = (x * mask[:, :, None]).sum(1)
        pooled = summed / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        if self.normalize:
            pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return pooled.astype(np.float32)
