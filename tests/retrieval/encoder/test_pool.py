"""Encoding in worker processes: the same vectors as one process, and a clear line where no GPU is."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from retrieval.encoder.embedder import DEFAULT_MODEL, EmbedderError, load_embedder
from retrieval.encoder.pool import EncoderPool
from retrieval.ingest import sentences_of
from retrieval.sources.pages import DEFAULT_PAGES_DIR, parse_pages_dir


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """Sentences of the bundled papers, of every length (~400)."""
    papers = parse_pages_dir(DEFAULT_PAGES_DIR)[:40]
    return [s for p in papers for s in sentences_of(p.abstract)]


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_one_and_two_workers_give_the_vectors_of_one_process(texts):
    with EncoderPool(DEFAULT_MODEL, workers=1) as one, EncoderPool(DEFAULT_MODEL, workers=2, threads=1) as two:
        by_one, by_two = one.encode(texts), two.encode(texts)
    in_process = load_embedder(DEFAULT_MODEL).encode(texts)
    assert by_one.shape == by_two.shape == (len(texts), in_process.shape[1])
    assert cosines(by_one, by_two).min() >= 0.999
    assert cosines(by_two, in_process).min() >= 0.999


@pytest.mark.skipif("CUDAExecutionProvider" in ort.get_available_providers(), reason="this machine has CUDA")
def test_cuda_without_a_cuda_runtime_fails_in_one_line():
    with pytest.raises(EmbedderError, match=r"^device cuda: this ONNX Runtime has no CUDA provider .*paperbot\[gpu\]"):
        EncoderPool(DEFAULT_MODEL, workers=2, device="cuda")


def test_an_unknown_device_is_named():
    with pytest.raises(EmbedderError, match="unknown device 'tpu'"):
        EncoderPool(DEFAULT_MODEL, workers=1, device="tpu")
