"""The SQLite store: migrations, FTS5 BM25 and its caches (merge rules for both backends: ../test_paper_store.py)."""

from __future__ import annotations

import sqlite3

import pytest

from retrieval.models import Paper
from retrieval.storage.sqlite.db import SCHEMA_VERSION, Database, DatabaseError
from retrieval.storage.sqlite.store import SqlitePaperStore

ABSTRACT = "We propose a method. It works well on many benchmarks."


@pytest.fixture
def store(tmp_path):
    db = Database(tmp_path / "lib.sqlite3")
    yield SqlitePaperStore(db)
    db.close()


def test_a_new_database_is_migrated_to_the_current_schema_and_reopening_is_a_no_op(tmp_path):
    path = tmp_path / "lib.sqlite3"
    db = Database(path)
    assert db.schema_version == SCHEMA_VERSION
    SqlitePaperStore(db).upsert([Paper(title="T", abstract=ABSTRACT)])
    db.close()
    db = Database(path)
    assert db.schema_version == SCHEMA_VERSION and SqlitePaperStore(db).count() == 1
    db.close()


def test_a_database_from_a_newer_paperbot_is_refused_with_a_clear_error(tmp_path):
    path = tmp_path / "lib.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.close()
    with pytest.raises(DatabaseError, match="newer than this paperbot"):
        Database(path)


def test_a_file_that_is_not_sqlite_is_refused_with_a_clear_error(tmp_path):
    path = tmp_path / "lib.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(DatabaseError):
        Database(path)


def test_in_a_large_library_very_common_terms_are_left_out_of_bm25_queries(tmp_path):
    db = Database(tmp_path / "big.sqlite3")
    store = SqlitePaperStore(db, prune_from=50)
    store.upsert(
        Paper(
            title=f"Common study {i}", abstract=f"Common words everywhere. Item {i}{' zebra' if i % 20 == 0 else ''}."
        )
        for i in range(100)
    )
    hits = store.lexical_search(["common", "zebra"], 100)
    # "common" is in every paper: dropped, so only the five zebra papers match.
    assert len(hits) == 5
    assert len(store.lexical_search(["common", "words"], 100)) == 100  # all common: the rarest are kept
    assert len(SqlitePaperStore(db).lexical_search(["common", "zebra"], 100)) == 100  # small library: plain BM25
    db.close()


def test_bm25_from_cached_term_postings_equals_fts5s_own_or_query(store):
    store.upsert(
        [
            Paper(title="Gradient noise for deep nets", abstract="Adding gradient noise helps deep networks train."),
            Paper(title="Noise in labels", abstract="Label noise hurts. We clean noisy labels with a small model."),
            Paper(title="Deep sets", abstract="Permutation invariant deep models for sets of points."),
            Paper(title="Other", abstract=ABSTRACT),
        ]
    )
    terms = ["noise", "deep", "labels", "absent"]
    with store.db.read() as conn:
        expected = conn.execute(
            "SELECT rowid, -bm25(papers_fts, 2.0, 1.0) AS s FROM papers_fts"
            ' WHERE papers_fts MATCH \'"noise" OR "deep" OR "labels" OR "absent"\' ORDER BY s DESC'
        ).fetchall()
    for _ in range(2):  # the second time from the cache
        got = store.lexical_search(terms, 10)
        assert [i for i, _ in got] == [r[0] for r in expected]
        assert [s for _, s in got] == pytest.approx([r[1] for r in expected], rel=1e-9)
    assert store.lexical_search(terms, 2) == got[:2]


def test_cached_term_postings_see_papers_written_by_this_and_by_another_connection(tmp_path):
    db = Database(tmp_path / "lib.sqlite3")
    store = SqlitePaperStore(db)
    store.upsert([Paper(title="Zebra stripes", abstract="Why zebras have stripes.")])
    assert len(store.lexical_search(["zebra"], 10)) == 1
    store.upsert([Paper(title="Zebra crossings", abstract="Pedestrian zebra crossings and safety.")])
    assert len(store.lexical_search(["zebra"], 10)) == 2
    other = Database(tmp_path / "lib.sqlite3")
    SqlitePaperStore(other).upsert([Paper(title="Zebra finches", abstract="Song learning in zebra finches.")])
    other.close()
    assert len(store.lexical_search(["zebra"], 10)) == 3
    db.close()
