"""The store's ingest operations: papers and their sentence vectors in one transaction."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from retrieval.models import Paper
from retrieval.storage.sqlite.db import Database
from retrieval.storage.sqlite.store import SqlitePaperStore
from retrieval.storage.sqlite.vectors import MissingVectors
from retrieval.text import text_hash

MODEL = "m@1#split2"


@pytest.fixture
def store(tmp_path):
    db = Database(tmp_path / "lib.sqlite3")
    yield SqlitePaperStore(db)
    db.close()


def paper(n: int, abstract: str = "One sentence. Another one.") -> Paper:
    return Paper(title=f"Title {n}", abstract=abstract, ext_id=f"p{n}")


def vectors_for(*papers: Paper) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {text_hash(p.title, p.abstract): rng.standard_normal((2, 4)).astype(np.float32) for p in papers}


def test_papers_and_their_vectors_are_written_together_and_read_back_as_float16(store):
    a, b = paper(1), paper(2)
    given = vectors_for(a, b)
    report = store.upsert_with_vectors([a, b], MODEL, given)
    assert len(report.new) == 2
    stored = list(store.iter_vectors(MODEL))
    assert [h for _, h, _ in stored] == [text_hash(a.title, a.abstract), text_hash(b.title, b.abstract)]
    for _, h, vecs in stored:
        assert vecs.dtype == np.float16 and vecs.shape == (2, 4)
        np.testing.assert_allclose(vecs, given[h], atol=2e-3)
    assert store.plan_embedding([a, b, paper(3)], MODEL) == [None, None, ("Title 3", "One sentence. Another one.")]
    assert store.plan_embedding([a], "another-model") == [("Title 1", "One sentence. Another one.")]


def test_a_chunk_with_a_paper_lacking_vectors_writes_nothing(store):
    a, b = paper(1), paper(2)
    with pytest.raises(MissingVectors):
        store.upsert_with_vectors([a, b], MODEL, vectors_for(a))
    assert store.count() == 0 and store.vector_hashes(MODEL) == {}


def test_vectors_of_an_old_text_are_not_current_and_the_paper_needs_embedding_again(store):
    a = paper(1)
    store.upsert_with_vectors([a], MODEL, vectors_for(a))
    changed = replace(a, abstract="A rewritten abstract. With two sentences.")
    assert store.plan_embedding([changed], MODEL) == [(changed.title, changed.abstract)]
    store.upsert([changed])  # a writer that brings no vectors
    assert store.vector_hashes(MODEL) == {} and store.papers_without_vectors(MODEL, 10)[0][2] == changed.abstract
    paper_id = store.papers_without_vectors(MODEL, 10)[0][0]
    stale = {paper_id: (text_hash(a.title, a.abstract), np.zeros((2, 4), np.float32))}
    assert store.add_vectors(MODEL, stale) == 0  # vectors of a text the paper no longer has are refused
    fresh = {paper_id: (text_hash(changed.title, changed.abstract), np.ones((2, 4), np.float32))}
    assert store.add_vectors(MODEL, fresh) == 1 and store.papers_without_vectors(MODEL, 10) == []
