"""The SQLite store: migrations, deduplicating upserts, full-text search."""

from __future__ import annotations

import sqlite3
from datetime import date

import pytest

from retrieval.models import Paper
from retrieval.storage.sqlite.db import SCHEMA_VERSION, Database, DatabaseError
from retrieval.storage.sqlite.store import PaperStore

ABSTRACT = "We propose a method. It works well on many benchmarks."


@pytest.fixture
def store(tmp_path):
    db = Database(tmp_path / "lib.sqlite3")
    yield PaperStore(db)
    db.close()


def test_a_new_database_is_migrated_to_the_current_schema_and_reopening_is_a_no_op(tmp_path):
    path = tmp_path / "lib.sqlite3"
    db = Database(path)
    assert db.schema_version == SCHEMA_VERSION
    PaperStore(db).upsert([Paper(title="T", abstract=ABSTRACT)])
    db.close()
    db = Database(path)
    assert db.schema_version == SCHEMA_VERSION and PaperStore(db).count() == 1
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


def test_the_same_paper_from_two_sources_is_one_record_with_its_arxiv_id_attached(store):
    page = Paper(title="Pointer Networks", abstract=ABSTRACT, listed_on=date(2026, 3, 11), source="hf-page")
    first = store.upsert([page])
    feed = Paper(
        title="Pointer  networks",
        abstract="A different summary of the same paper, from the API.",
        arxiv_id="1506.03134",
        ext_id="1506.03134",
        upvotes=12,
        github="https://github.com/x/ptr",
        listed_on=date(2026, 11, 20),
        source="hf-daily",
    )
    second = store.upsert([feed])
    assert first.new == second.updated and store.count() == 1
    paper = store.get(first.new[0])
    assert paper.arxiv_id == "1506.03134" and paper.upvotes == 12 and paper.github == "https://github.com/x/ptr"
    assert paper.abstract == ABSTRACT  # a title match keeps the stored text
    assert store.newest_day() == date(2026, 11, 20)
    assert [p.title for p in store.papers_on(date(2026, 3, 11))] == ["Pointer Networks"]


def test_reimporting_the_same_records_changes_nothing(store):
    papers = [Paper(title=f"Title {i}", abstract=ABSTRACT, ext_id=f"id-{i}", upvotes=i) for i in range(5)]
    store.upsert(papers)
    before = store.fingerprint()
    report = store.upsert(papers)
    assert (report.new, report.updated, report.unchanged) == ([], [], 5)
    assert store.fingerprint() == before and store.count() == 5


def test_two_different_arxiv_papers_with_the_same_title_stay_apart(store):
    store.upsert([Paper(title="Same", abstract=ABSTRACT, arxiv_id="2401.00001")])
    store.upsert([Paper(title="Same", abstract=ABSTRACT, arxiv_id="2401.00002")])
    assert store.count() == 2


def test_lexical_search_treats_fts_syntax_in_questions_as_plain_words(store):
    store.upsert([Paper(title="Gradient noise", abstract="Adding gradient noise helps very deep networks train.")])
    store.upsert([Paper(title="Other", abstract=ABSTRACT)])
    hits = store.lexical_search(['noise"', "AND", "NEAR(", "deep*"], 10)
    assert hits and store.get(hits[0][0]).title == "Gradient noise"
    assert store.lexical_search([], 10) == []


def test_title_suggestions_put_prefix_matches_first(store):
    store.upsert([Paper(title=t, abstract=ABSTRACT) for t in ["Deep Pointer Nets", "Pointer Networks", "Other"]])
    titles = [t for _, t in store.suggest_titles("pointer", 25)]
    assert titles == ["Pointer Networks", "Deep Pointer Nets"]
    assert len(store.suggest_titles("", 2)) == 2
    assert store.suggest_titles("100%_\\", 25) == []


def test_in_a_large_library_very_common_terms_are_left_out_of_bm25_queries(tmp_path):
    db = Database(tmp_path / "big.sqlite3")
    store = PaperStore(db, prune_from=50)
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
    assert len(PaperStore(db).lexical_search(["common", "zebra"], 100)) == 100  # small library: plain BM25
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
    store = PaperStore(db)
    store.upsert([Paper(title="Zebra stripes", abstract="Why zebras have stripes.")])
    assert len(store.lexical_search(["zebra"], 10)) == 1
    store.upsert([Paper(title="Zebra crossings", abstract="Pedestrian zebra crossings and safety.")])
    assert len(store.lexical_search(["zebra"], 10)) == 2
    other = Database(tmp_path / "lib.sqlite3")
    PaperStore(other).upsert([Paper(title="Zebra finches", abstract="Song learning in zebra finches.")])
    other.close()
    assert len(store.lexical_search(["zebra"], 10)) == 3
    db.close()
