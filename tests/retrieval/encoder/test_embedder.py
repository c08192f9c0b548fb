"""The ONNX Runtime embedder: agreement with sentence-transformers, tokenization, no torch at run time."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from retrieval.encoder.embedder import load_embedder
from retrieval.sources.pages import DEFAULT_PAGES_DIR, parse_pages_dir
from retrieval.text import split_sentences
from tests.conftest import SETTINGS

ROOT = Path(__file__).resolve().parents[3]


def real_sentences() -> list[str]:
    papers = parse_pages_dir(DEFAULT_PAGES_DIR)[:6]
    sentences = [s for p in papers for s in split_sentences(p.abstract)]
    # Titles, questions, one word, and a text far past the model's 256 tokens (truncated alike).
    return [
        *sentences,
        *(p.title for p in papers),
        "how do transformers learn in context?",
        "GANs",
        papers[0].abstract * 6,
    ]


def test_vectors_agree_with_sentence_transformers_on_real_sentences():
    from sentence_transformers import SentenceTransformer

    texts = real_sentences()
    embedder = load_embedder(cache_dir=SETTINGS.cache_dir)
    ours = embedder.encode(texts)
    reference = SentenceTransformer(embedder.path, device="cpu").encode(texts, normalize_embeddings=True, batch_size=16)
    cosines = (ours * reference).sum(axis=1)
    assert ours.shape == reference.shape == (len(texts), embedder.dimension)
    assert cosines.min() >= 0.99, cosines.min()
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    # A question alone gives the vector it gets inside a batch (no padding leaks into the pooling).
    assert float(embedder.encode_query(texts[-3]) @ ours[-3]) > 0.9999


def test_questions_are_not_padded_and_long_texts_are_truncated_to_the_model_length():
    embedder = load_embedder(cache_dir=SETTINGS.cache_dir)
    short, long = embedder.tokenize(["GANs", "word " * 1000])
    assert len(short) < 8  # the model's tokenizer.json pads to 128 unless told not to
    assert len(long) == embedder.spec.max_length == 256


def test_an_ask_and_an_import_on_a_built_library_import_neither_torch_nor_sentence_transformers(
    library, library_dir, tmp_path
):
    copy = tmp_path / "copy"
    shutil.copytree(library_dir, copy)  # this test adds a paper; the session library stays as it is
    code = "\n".join(
        [
            "import json, sys",
            "from retrieval.library import Library",
            "from retrieval.models import Paper",
            "from retrieval.settings import Settings",
            f"lib = Library.open({str(copy)!r}, settings=Settings.from_env())",
            "answer = lib.ask('can I merge fine-tuned models without retraining?')",
            "lib.add_papers([Paper(title='A new paper', abstract='It is new. It has two sentences.', ext_id='new-1')])",
            "print(json.dumps({'torch': 'torch' in sys.modules, 'st': 'sentence_transformers' in sys.modules,"
            " 'sources': len(answer.sources)}))",
        ]
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, cwd=ROOT)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"torch": False, "st": False, "sources": result["sources"]} and result["sources"] > 0
