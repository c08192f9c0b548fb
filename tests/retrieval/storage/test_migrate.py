"""`paperbot migrate --to postgresql://…`: a SQLite library copied without re-embedding; twice changes nothing."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time

import psycopg
import pytest

from bot.cli import main
from bot.state import POSTED, BotState
from retrieval.library import Library
from retrieval.storage.protocol import StorageError
from tests.conftest import make_papers

TABLES = {
    "papers": "SELECT id, ext_id, title, abstract, text_hash, authors::text, published FROM papers ORDER BY id",
    "paper_days": "SELECT paper_id, day FROM paper_days ORDER BY 1, 2",
    "paper_vectors": "SELECT paper_id, text_hash, embedding::text, md5(sentences), n_sentences FROM paper_vectors ORDER BY 1",
    "guild_settings": "SELECT * FROM guild_settings ORDER BY 1",
    "digest_log": "SELECT * FROM digest_log ORDER BY 1, 2",
    "feedback": "SELECT question, paper_ext_id, user_id, vote FROM feedback ORDER BY 1, 2, 3",
}


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
    state.finish(70, date(2026, 11, 20), POSTED, 1234)
    state.record_feedback("what is moe?", "paper-0", 42, 1)
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
    assert [len(first[t]) for t in TABLES] == [6, 6, 6, 1, 1, 1]
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
    from retrieval.storage.migrate import migrate_library

    with pytest.raises(StorageError, match="already holds other papers"):
        migrate_library(sqlite_library, pg_url)
