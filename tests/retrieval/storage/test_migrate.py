"""`paperbot migrate --to postgresql://…`: a SQLite library (papers, vectors, bot state, follows) copied without
re-embedding; twice changes nothing."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time

import numpy as np
import psycopg
import pytest

from bot.cli import main
from bot.state import BotState, PostStatus
from retrieval import ingest
from retrieval.library import Library
from retrieval.storage.errors import StorageError
from retrieval.storage.protocol import DmStatus
from tests.conftest import make_papers

TABLES = {
    "papers": "SELECT id, ext_id, title, abstract, text_hash, authors::text, published FROM papers ORDER BY id",
    "paper_days": "SELECT paper_id, day FROM paper_days ORDER BY 1, 2",
    "paper_vectors": "SELECT paper_id, text_hash, embedding::text, md5(sentences), n_sentences FROM paper_vectors ORDER BY 1",
    "paper_whole": "SELECT paper_id, model, text_hash, md5(vector) FROM paper_whole ORDER BY 1",
    "guild_settings": "SELECT * FROM guild_settings ORDER BY 1",
    "digest_log": "SELECT * FROM digest_log ORDER BY 1, 2",
    "feedback": "SELECT question, paper_ext_id, user_id, vote FROM feedback ORDER BY 1, 2, 3",
    "library_roles": "SELECT * FROM library_roles ORDER BY 1",
    "follows": "SELECT id, user_id, kind, value, norm FROM follows ORDER BY 1",
    "follow_users": "SELECT * FROM follow_users ORDER BY 1",
    "follow_dm_log": "SELECT * FROM follow_dm_log ORDER BY 1, 2",
    "follow_sent": "SELECT * FROM follow_sent ORDER BY 1, 2",
}
DAY = date(2026, 11, 20)
AT = datetime(2026, 11, 20, 12, tzinfo=UTC)


def snapshot(url: str) -> dict[str, list[tuple]]:
    with psycopg.connect(url) as conn:
        return {name: conn.execute(sql).fetchall() for name, sql in TABLES.items()}


@pytest.fixture
def sqlite_library(tmp_path):
    lib = Library.open(tmp_path / "src", seed_default_corpus=False, database_url="")
    lib.add_papers(make_papers(6))
    state = BotState(lib.storage.state)
    settings = state.save_settings(
        7, 70, time(9), "Europe/Paris", ("diffusion",), now=datetime(2026, 11, 1, tzinfo=UTC)
    )
    assert state.claim(settings, date(2026, 11, 20), datetime(2026, 11, 20, 9, tzinfo=UTC))
    state.finish(70, date(2026, 11, 20), PostStatus.POSTED, 1234)
    state.record_feedback("what is moe?", "paper-0", 42, 1)
    state.save_settings(8, 80, time(18), "UTC", frequency="weekly", weekday=4, now=datetime(2026, 11, 1, tzinfo=UTC))
    state.set_library_role(7, 77)
    state.follows.add(5, "topic", "mixture of experts")
    state.follows.add(6, "topic", "robots")
    removed = state.follows.add(5, "topic", "removed later")
    state.follows.add(5, "author", "Grace Hopper")
    state.follows.remove(5, removed.id)  # ids 1, 2, 4 remain: the copy must keep them as they are
    assert state.follows.claim(5, DAY, [1, 2], AT) == [1, 2]
    state.follows.finish(5, DAY, DmStatus.SENT, [1, 2])
    state.follows.mark_closed(6, "403 Cannot send messages to this user", AT)
    yield lib
    lib.close()


def test_migrating_twice_copies_everything_once_and_then_changes_nothing(
    sqlite_library, tmp_path, pg_url, capsys, monkeypatch
):
    sqlite_library.close()
    argv = ["--data-dir", str(tmp_path / "src"), "migrate", "--to", pg_url]
    assert main(argv) == 0
    first_out = capsys.readouterr().out
    assert "papers: 6 new rows" in first_out and "paper_vectors: 6 new rows" in first_out
    first = snapshot(pg_url)
    assert [len(first[t]) for t in TABLES] == [6, 6, 6, 6, 2, 1, 1, 1, 3, 1, 1, 2]
    assert "paper_whole: 6 new rows" in first_out
    # Opening the PostgreSQL library (stats below, the library at the end) encodes no whole-paper vector.
    monkeypatch.setattr(ingest, "embed_whole", lambda *a: pytest.fail("whole-paper vectors encoded again"))
    with psycopg.connect(pg_url) as conn:
        # The vectors arrived whole through the binary COPY: each paper vector is its sentences' mean.
        for embedding, blob in conn.execute("SELECT embedding::text, sentences FROM paper_vectors"):
            sentences = np.frombuffer(blob, dtype="<f2").reshape(-1, 384).astype(np.float32)
            assert sentences.shape[0] >= 1
            mean = sentences.sum(axis=0)
            assert np.allclose(json.loads(embedding), mean / np.linalg.norm(mean), atol=1e-6)
        # The copied papers are searchable by word: their postings were written in the same transaction.
        postings = conn.execute("SELECT COUNT(DISTINCT paper_id) FROM paper_terms").fetchone()
        assert postings == (6,)
    assert main(argv) == 0
    assert all(line.endswith(": 0 new rows") for line in capsys.readouterr().out.splitlines()[1:])
    assert snapshot(pg_url) == first
    assert main(["--data-dir", str(tmp_path / "unused"), "--database-url", pg_url, "stats", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["backend"] == "postgres" and stats["papers"] == 6 and stats["index_vectors"] == 6

    import retrieval.ingest

    monkeypatch.setattr(retrieval.ingest, "embed_texts", lambda *a: pytest.fail("migrated papers were embedded again"))
    lib = Library.open(tmp_path / "unused", database_url=pg_url, seed_default_corpus=False)
    try:
        assert lib.stats().backend == "postgres" and lib.index.size == 6
        assert lib.search("self-supervised audio pretraining for speech", 1)[0].paper.ext_id == "paper-2"
        state = BotState(lib.storage.state)
        assert state.get_settings(7).topics == ("diffusion",)
        assert state.log_entry(70, date(2026, 11, 20)).message_id == 1234
        assert state.feedback_totals("what is moe?") == (1, 0)
        weekly = state.get_settings(8)
        assert (weekly.frequency, weekly.weekday) == ("weekly", 4)
        assert state.library_role(7) == 77
        assert [(f.id, f.value) for f in state.follows.of_user(5)] == [(1, "mixture of experts"), (4, "Grace Hopper")]
        assert state.follows.dm_status(5, DAY) == DmStatus.SENT and state.follows.unsent(5, [1, 2, 3]) == [3]
        assert state.follows.claim(5, DAY, [3], AT) == []  # the day's DM was sent before the move
        assert state.follows.closed_since(6) == AT and {f.user_id for f in state.follows.active()} == {5}
        assert state.follows.add(7, "topic", "after the move").id == 5
    finally:
        lib.close()
    # New papers after the copy get new ids.
    again = Library.open(tmp_path / "unused", database_url=pg_url, seed_default_corpus=False)
    try:
        monkeypatch.undo()
        assert min(again.add_papers(make_papers(1, prefix="Later")).new) > 6
    finally:
        again.close()


def test_a_target_holding_other_papers_is_refused(sqlite_library, pg_url, tmp_path):
    other = Library.open(tmp_path / "other", database_url=pg_url, seed_default_corpus=False)
    other.add_papers(make_papers(2, prefix="Elsewhere"))
    other.close()
    with pytest.raises(StorageError, match="already holds other papers"):
        sqlite_library.migrate_to(pg_url)
