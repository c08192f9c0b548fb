"""Bulk encoding in worker processes: each its own tokenizer and ONNX Runtime session with few threads.

One process encodes at most as fast as its serial parts allow (tokenizing, padding, pooling in
Python and NumPy between the runtime's parallel operators); N processes each with ``cores / N``
intra-op threads keep every core busy. :class:`EncoderPool` is what the ingest path calls instead of
the in-process embedder when ``paperbot index --workers N`` asks for more than one, or for a GPU
(``--device cuda``: every worker its own CUDA session; tokenizing, the CPU-bound part, still runs
in parallel). Workers are started with ``spawn`` (no forked runtime threads) and load the model
once; texts go out and float32 vectors come back over the pool's pipes.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from retrieval.encoder.embedder import Embedder, execution_providers

log = logging.getLogger(__name__)

# Texts per task: enough to batch well inside a worker (its own length-sorted batches of 32),
# few enough that the workers finish a chunk of papers together.
SLICE = 128

_WORKER: Embedder | None = None


def _start_worker(name: str, threads: int, cache_dir: Path | None, device: str) -> None:
    global _WORKER
    _WORKER = Embedder(name, threads=threads, cache_dir=cache_dir, device=device)


def _encode_slice(texts: list[str]) -> np.ndarray:
    assert _WORKER is not None, "worker not initialised"
    return _WORKER.encode_ids(_WORKER.tokenize(texts), workers=1)


def _ready(_: int) -> int:
    return os.getpid()


def default_workers() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class EncoderPool:
    """``workers`` processes encoding texts with the model ``name`` on ``device``; use as a context manager."""

    def __init__(
        self,
        name: str,
        *,
        workers: int,
        threads: int | None = None,
        cache_dir: Path | None = None,
        device: str = "cpu",
    ) -> None:
        execution_providers(device)  # a missing CUDA provider fails here, in one line, not in a worker
        self.name, self.device, self.workers = name, device, max(1, workers)
        self.threads = threads or max(1, default_workers() // self.workers)
        self._pool = ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(name, self.threads, cache_dir, device),
        )
        # Start every worker and load its model now, so the first chunk is not billed for it.
        pids = set(self._pool.map(_ready, range(self.workers * 4)))
        log.info(
            "encoder pool: %d worker(s) x %d thread(s) on %s (pids %s)",
            self.workers,
            self.threads,
            device,
            ",".join(map(str, sorted(pids))),
        )

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of ``texts`` in order, shape (n, dimension): slices of similar length, spread over the workers."""
        if not texts:
            raise ValueError("nothing to encode")
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        size = max(1, min(SLICE, -(-len(texts) // self.workers)))
        slices = [order[start : start + size] for start in range(0, len(order), size)]
        out: np.ndarray | None = None
        for indices, vectors in zip(
            slices, self._pool.map(_encode_slice, [[texts[i] for i in s] for s in slices]), strict=True
        ):
            if out is None:
                out = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
            out[indices] = vectors
        assert out is not None
        return out

    def close(self) -> None:
        """Stop the workers."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> EncoderPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
