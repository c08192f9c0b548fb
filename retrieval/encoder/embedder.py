"""Sentence embeddings with ONNX Runtime: the configured sentence-transformers model, offline.

The transformer runs as an ONNX graph exported once per model (see :mod:`retrieval.encoder.export`);
tokenization uses the model's own ``tokenizer.json`` (truncated to the model's max length, never
padded beyond the longest text of a batch); pooling and normalization follow the model folder's
configuration. Neither torch nor sentence-transformers is imported here.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from retrieval.encoder.export import ONNX_FILE, ensure_exported, read_manifest
from retrieval.encoder.spec import DEFAULT_MODEL, EmbedderError, ModelSpec, resolve_model

__all__ = ["DEFAULT_MODEL", "Embedder", "EmbedderError", "load_embedder"]

log = logging.getLogger(__name__)

# Texts per forward pass in bulk encoding, after sorting by length (little padding either way;
# larger batches gained nothing measurable on 2 cores).
BATCH = 32
# At most this many tokens (texts x longest) per forward pass: attention activations grow with
# batch x length², and the runtime's memory arena keeps its largest size (the SciFact corpus's
# longest sentences took peak RSS past 800 MB with plain batches of 32).
TOKEN_BUDGET = 2048
# Threads of one forward pass (env PAPERBOT_ENCODER_THREADS), with spinning off: idle threads
# sleep instead of burning a core that another process (or the event loop) needs. Measured on
# this 2-core machine while it was shared (load 8-12; three interleaved rounds, question p50 /
# bulk sentences/s): as is, 1 thread 44-98 ms / 4-8, 2 threads 6.5-64 ms / 6-7; with one more
# busy-loop process, 1 thread 68-95 ms / 4, 2 threads 14-58 ms / 5-7. Two threads won every round
# for questions and tied with two single-threaded batches in bulk. (The measurement that
# two threads fall apart under load was with spinning on.) `paperbot bench` prints the comparison.
DEFAULT_THREADS = min(2, os.cpu_count() or 1)


DEVICES = ("cpu", "cuda")


def execution_providers(device: str) -> tuple[str, ...]:
    """ONNX Runtime's providers for ``device`` (``cpu`` or ``cuda``, the CPU as fallback for unsupported ops).

    Raises :class:`EmbedderError` in one line when ``cuda`` is asked for and this ONNX Runtime has
    no CUDA provider (the CPU-only ``onnxruntime`` package, or no NVIDIA driver).
    """
    if device not in DEVICES:
        raise EmbedderError(f"unknown device {device!r}: use one of {', '.join(DEVICES)}")
    if device == "cpu":
        return ("CPUExecutionProvider",)
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        raise EmbedderError(
            "device cuda: this ONNX Runtime has no CUDA provider (available: "
            f"{', '.join(ort.get_available_providers())}); install paperbot[gpu] (onnxruntime-gpu) on a machine "
            "with an NVIDIA GPU, or use --device cpu"
        )
    return ("CUDAExecutionProvider", "CPUExecutionProvider")


class Embedder:
    """Encodes questions and passages into float32 vectors (normalized when the model says so)."""

    def __init__(
        self, name: str, threads: int | None = None, cache_dir: Path | None = None, device: str = "cpu"
    ) -> None:
        self.name = name
        self.threads = threads or DEFAULT_THREADS  # PAPERBOT_ENCODER_THREADS
        self.cache_dir = cache_dir  # PAPERBOT_CACHE_DIR: where the ONNX export is kept
        self.providers = execution_providers(device)  # PAPERBOT_DEVICE
        # Batches encoded at once in bulk, each on its own thread (onnxruntime releases the GIL while
        # it runs): as many as the cores the intra-op threads leave, so none is oversubscribed.
        self.workers = max(1, (os.cpu_count() or 1) // self.threads)
        self.spec = ModelSpec.read(resolve_model(name))
        self.path = str(self.spec.path)
        self.dimension = self.spec.dimension
        self._tokenizer = self._load_tokenizer()
        self._session, manifest = self._load_session()
        # Vectors are stored under this id: a different model, or new weights under the same name, re-embeds.
        self.model_id = f"{name}@{str(manifest.get('weights_sha256', ''))[:12]}"
        self.fused = bool(manifest.get("fused"))
        self._inputs = [i.name for i in self._session.get_inputs()]

    def _load_tokenizer(self) -> object:
        from tokenizers import Tokenizer

        try:
            tokenizer = Tokenizer.from_file(str(self.spec.path / "tokenizer.json"))
        except Exception as exc:  # the tokenizers library raises plain Exceptions on bad files
            raise EmbedderError(f"cannot read {self.spec.path}/tokenizer.json: {exc}") from exc
        # The file may pad and truncate to a fixed length (this model's pads every text to 128).
        tokenizer.enable_truncation(max_length=self.spec.max_length)
        tokenizer.no_padding()
        return tokenizer

    def _load_session(self) -> tuple[object, dict]:
        directory = ensure_exported(self.spec, cache_dir=self.cache_dir)
        try:
            return self._open(directory / ONNX_FILE), read_manifest(directory) or {}
        except Exception as exc:  # onnxruntime raises its own exception types for unreadable graphs
            log.warning("ONNX model in %s does not load (%s); exporting it again", directory, exc)
        directory = ensure_exported(self.spec, cache_dir=self.cache_dir, force=True)
        try:
            return self._open(directory / ONNX_FILE), read_manifest(directory) or {}
        except Exception as exc:
            raise EmbedderError(f"cannot load the ONNX export of {self.name!r} ({directory}): {exc}") from exc

    def _open(self, path: Path) -> object:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # Spinning threads burn a core waiting for work; with other processes on the cores
        # that starves them and us (see README figures).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        return ort.InferenceSession(str(path), options, providers=list(self.providers))

    # -- encoding ------------------------------------------------------------------------

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text (truncated to the model's max length)."""
        return [e.ids for e in self._tokenizer.encode_batch(list(texts))]  # type: ignore[attr-defined]

    def encode_query(self, text: str) -> np.ndarray:
        """One vector, shape (dimension,)."""
        return self.encode([text])[0]

    def encode(self, texts: Sequence[str], on_progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Vectors for many texts, shape (n, dimension); ``on_progress(k)`` after each batch of k."""
        return self.encode_ids(self.tokenize(texts), on_progress)

    def encode_ids(
        self,
        ids: Sequence[Sequence[int]],
        on_progress: Callable[[int], None] | None = None,
        workers: int | None = None,
    ) -> np.ndarray:
        """Vectors for tokenized texts: batched by length so batches pad little, ``workers`` batches at once."""
        out = np.empty((len(ids), self.dimension), dtype=np.float32)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        chunks: list[list[int]] = []
        for i in order:
            # Sorted by length, so this text is the batch's longest: keep batch x length under the budget.
            if chunks and len(chunks[-1]) < BATCH and (len(chunks[-1]) + 1) * len(ids[i]) <= TOKEN_BUDGET:
                chunks[-1].append(i)
            else:
                chunks.append([i])
        workers = min(workers or self.workers, len(chunks))

        def run(chunk: list[int]) -> None:
            out[chunk] = self._forward([ids[i] for i in chunk])
            if on_progress:
                on_progress(len(chunk))

        if workers <= 1:
            for chunk in chunks:
                run(chunk)
        else:
            with ThreadPoolExecutor(workers, thread_name_prefix="encode") as pool:
                list(pool.map(run, chunks))
        return out

    def _forward(self, batch: list[Sequence[int]]) -> np.ndarray:
        width = max(1, max(len(seq) for seq in batch))
        input_ids = np.zeros((len(batch), width), dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for row, seq in enumerate(batch):
            input_ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1
        feed = {"input_ids": input_ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(input_ids)
        hidden = self._session.run(None, feed)[0]  # type: ignore[attr-defined]
        return self._pool(hidden, mask)

    def _pool(self, hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if self.spec.pooling == "cls":
            pooled = hidden[:, 0]
        elif self.spec.pooling == "max":
            pooled = np.where(mask[:, :, None] > 0, hidden, -1e9).max(axis=1)
        else:
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        if self.spec.normalize:
            pooled = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return pooled.astype(np.float32, copy=False)


_CACHE: dict[tuple[str, Path | None, int | None], Embedder] = {}
_CACHE_LOCK = threading.Lock()


def load_embedder(name: str = DEFAULT_MODEL, *, cache_dir: Path | None = None, threads: int | None = None) -> Embedder:
    """A process-wide shared embedder per model name and settings (one session per model is enough)."""
    key = (name, cache_dir, threads)
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = Embedder(name, threads=threads, cache_dir=cache_dir)
        return _CACHE[key]
