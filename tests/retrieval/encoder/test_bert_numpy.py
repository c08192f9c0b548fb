"""The NumPy query encoder gives the same vectors as sentence-transformers."""

from __future__ import annotations

import numpy as np

from retrieval.encoder.bert_numpy import NumpyBertEncoder
from retrieval.encoder.embedder import DEFAULT_MODEL, load_embedder, resolve_model


def test_numpy_forward_pass_matches_sentence_transformers():
    from sentence_transformers import SentenceTransformer

    texts = [
        "is there a paper about pruning convolutional filters?",
        "Qu'est-ce que l'apprentissage par renforcement 🤖 ?",
        "word " * 400,  # longer than the model's 256-token window: truncated the same way
        "x",
    ]
    path = resolve_model(DEFAULT_MODEL)
    fast = NumpyBertEncoder(path).encode(texts)
    reference = SentenceTransformer(path, device="cpu").encode(texts, normalize_embeddings=True)
    assert fast.shape == reference.shape == (4, load_embedder().dimension)
    assert np.min(np.sum(fast * reference, axis=1)) > 0.9999


def test_the_dimension_is_read_from_the_model():
    assert load_embedder().dimension == 384
