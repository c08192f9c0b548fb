"""PostgreSQL's postings stay exact under every write, and the bounded lexical search finds rare words."""

from __future__ import annotations

import psycopg
import pytest

from retrieval.models import Paper
from retrieval.storage.postgres import lexical
from retrieval.storage.postgres.schema import MIGRATIONS, POSTINGS_SQL
from retrieval.storage.postgres.storage import PostgresStorage

PAPERS = [
    Paper(
        title="Gradient noise for deep nets", abstract="Adding gradient noise helps deep networks train.", ext_id="a"
    ),
    Paper(title="Noise in labels", abstract="Label noise hurts. We clean noisy labels with a small model.", ext_id="b"),
    Paper(title="Deep sets", abstract="Permutation invariant deep models for sets of points.", ext_id="c"),
]


def _recomputed(conn: psycopg.Connection) -> tuple[set[tuple[int, str]], dict[str, int], tuple[int, int]]:
    """What the postings, document frequencies and totals must be, computed from ``papers`` alone."""
    postings = {(int(r[0]), str(r[1])) for r in conn.execute("SELECT p.id, u.lexeme FROM papers p, unnest(p.tsv) u")}
    freqs: dict[str, int] = {}
    for _, lexeme in postings:
        freqs[lexeme] = freqs.get(lexeme, 0) + 1
    row = conn.execute("SELECT COUNT(*), COALESCE(SUM(doc_len), 0) FROM papers").fetchone()
    assert row is not None
    return postings, freqs, (int(row[0]), int(row[1]))


def _kept(conn: psycopg.Connection) -> tuple[set[tuple[int, str]], dict[str, int], tuple[int, int]]:
    """What the triggers keep."""
    postings = {(int(r[0]), str(r[1])) for r in conn.execute("SELECT paper_id, lexeme FROM paper_terms")}
    freqs = {str(r[0]): int(r[1]) for r in conn.execute("SELECT lexeme, df FROM term_stats WHERE df > 0")}
    row = conn.execute("SELECT papers, length FROM lexical_totals").fetchone()
    assert row is not None
    return postings, freqs, (int(row[0]), int(row[1]))


def test_postings_follow_inserts_text_changes_and_deletes(pg_url):
    storage = PostgresStorage(pg_url)
    try:
        storage.papers.upsert(PAPERS)
        with psycopg.connect(pg_url, autocommit=True) as conn:
            assert _kept(conn) == _recomputed(conn)
            assert len(_kept(conn)[0]) > 20
        # A new version of paper "b" (longer abstract, one word gone), and an upvote-only change.
        storage.papers.upsert(
            [
                Paper(title="Noise in labels", abstract="Label noise hurts badly; zebra crossings.", ext_id="b"),
                Paper(title="Deep sets", abstract=PAPERS[2].abstract, ext_id="c", upvotes=5),
            ]
        )
        with psycopg.connect(pg_url, autocommit=True) as conn:
            kept = _kept(conn)
            assert kept == _recomputed(conn)
            assert "zebra" in kept[1] and "clean" not in kept[1]
            conn.execute("DELETE FROM papers WHERE ext_id = 'a'")
            assert _kept(conn) == _recomputed(conn)
    finally:
        storage.close()


def test_an_existing_library_gets_its_postings_when_migrated(pg_url):
    # A library at schema v2 (before postings), written by the SQL of that version.
    version = MIGRATIONS.index(POSTINGS_SQL)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ)")
        for number in range(version):
            conn.execute(MIGRATIONS[number])  # type: ignore[arg-type]
            conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (number + 1,))
        for paper in PAPERS:
            conn.execute(
                "INSERT INTO papers (ext_id, title, norm_title, abstract, source, text_hash)"
                " VALUES (%s, %s, %s, %s, 'test', 'h')",
                (paper.ext_id, paper.title, paper.title.lower(), paper.abstract),
            )
    storage = PostgresStorage(pg_url)
    try:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            assert _kept(conn) == _recomputed(conn)
        assert storage.papers.doc_freqs(["noise", "absent"]) == ({"noise": 2, "absent": 0}, 3)
        assert [i for i, _ in storage.papers.lexical_search(["permutation"], 10)] == [3]
    finally:
        storage.close()


def test_bounded_search_still_finds_the_paper_with_the_rare_word(pg_url, monkeypatch):
    # 40 papers share a common word; one also has a rare one. Read only 5 postings per word.
    monkeypatch.setattr(lexical, "PER_TERM", 5)
    monkeypatch.setattr(lexical, "POOL", 5)
    papers = [
        Paper(title=f"Study {i} of transformers", abstract=f"Transformers {'again ' * (i % 7)}here.", ext_id=f"p{i}")
        for i in range(40)
    ]
    papers.append(Paper(title="Axolotl regeneration", abstract="Transformers meet axolotl limbs.", ext_id="rare"))
    storage = PostgresStorage(pg_url)
    try:
        storage.papers.upsert(papers)
        rare = storage.papers.get_by_ext_id("rare")
        assert rare is not None
        hits = storage.papers.lexical_search(["transformers", "axolotl"], 3)
        assert hits[0][0] == rare.id
        # Scores are exact BM25 whatever the bound: the same as with every posting read (the
        # papers after the first tie, so which of them come back may differ).
        monkeypatch.setattr(lexical, "PER_TERM", 10_000)
        monkeypatch.setattr(lexical, "POOL", 10_000)
        full = storage.papers.lexical_search(["transformers", "axolotl"], 3)
        assert full[0][0] == rare.id
        assert [s for _, s in full] == pytest.approx([s for _, s in hits])
    finally:
        storage.close()
