"""PostgreSQL's lexical search scores BM25 as SQLite's FTS5 does (the fused ranking relies on it)."""

from __future__ import annotations

import pytest

from retrieval.models import Paper
from retrieval.storage.postgres.storage import PostgresStorage
from retrieval.storage.sqlite.storage import SqliteStorage

PAPERS = [
    Paper(title="Gradient noise for deep nets", abstract="Adding gradient noise helps deep networks train."),
    Paper(title="Noise in labels", abstract="Label noise hurts. We clean noisy labels with a small model."),
    Paper(title="Deep sets", abstract="Permutation invariant deep models for sets of points."),
    Paper(
        title="Label smoothing", abstract="Soft targets regularize classifiers; labels are mixed with uniform noise."
    ),
    Paper(title="Other", abstract="We propose a method. It works well on many benchmarks."),
]


def test_bm25_ranks_and_scores_like_fts5(pg_url, tmp_path):
    sqlite, pg = SqliteStorage(tmp_path), PostgresStorage(pg_url)
    try:
        sqlite.papers.upsert(PAPERS)
        pg.papers.upsert(PAPERS)
        for terms in (["noise", "deep", "labels", "absent"], ["label", "smoothing"], ["deep"]):
            expected = sqlite.papers.lexical_search(terms, 10)
            got = pg.papers.lexical_search(terms, 10)
            assert [i for i, _ in got] == [i for i, _ in expected], terms
            # Document lengths are counted a little differently (whitespace words vs FTS5 tokens).
            assert [s for _, s in got] == pytest.approx([s for _, s in expected], rel=0.15), terms
    finally:
        sqlite.close()
        pg.close()
