"""The library on both backends: search and answers, other processes' papers, stats; PostgreSQL specifics."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from retrieval.library import Library
from retrieval.settings import Settings
from retrieval.storage.errors import StorageError
from retrieval.storage.postgres.schema import SCHEMA_VERSION
from retrieval.storage.postgres.storage import PostgresStorage
from tests.conftest import BACKENDS, SETTINGS, make_papers

ROOT = Path(__file__).resolve().parents[2]


@BACKENDS
def test_search_ask_and_digest_work_alike_on_both_backends(open_library, backend):
    lib = open_library()
    report = lib.add_papers(make_papers(8))
    assert len(report.new) == 8 and lib.index.size == 8 and lib.index.sentence_count == 24
    hits = lib.search("self-supervised audio pretraining for speech", 3)
    assert hits[0].paper.ext_id == "paper-2" and "audio" in hits[0].best_sentence
    exact = lib.search("Paper 6: Quantization of large language models", 3)
    assert exact[0].exact and exact[0].paper.ext_id == "paper-6"
    answer = lib.ask("How do models route tokens to experts?")
    assert not answer.abstained and answer.sources[0].id == "paper-0"
    assert [h.paper.ext_id for h in lib.similar(hits[0].paper.id, 2)] != []
    assert lib.digest().total == 8
    stats = lib.stats()
    assert stats.backend == backend and stats.papers == 8 and stats.index_vectors == 8


@BACKENDS
def test_reimporting_embeds_nothing_and_another_process_papers_are_searchable(open_library, monkeypatch):
    import retrieval.storage.postgres.store as pg_store

    monkeypatch.setattr(pg_store, "CHECK_EVERY", 0.0)
    bot_side = open_library("shared")
    bot_side.add_papers(make_papers(2))
    cli_side = open_library("shared")
    assert cli_side.add_papers(make_papers(2)).unchanged == 2
    cli_side.add_papers(make_papers(2, prefix="Fetched"))
    hits = bot_side.search("Fetched 1: Protein structure prediction with attention", 1)
    assert hits[0].paper.ext_id == "fetched-1" and bot_side.index.size == 4 and bot_side.store.count() == 4


def test_migrations_run_once_even_when_processes_start_together(pg_url):
    errors: list[BaseException] = []

    def start() -> None:
        try:
            PostgresStorage(pg_url).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with psycopg.connect(pg_url) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
    assert versions == list(range(1, SCHEMA_VERSION + 1))


def test_a_database_from_a_newer_paperbot_is_refused(pg_url):
    PostgresStorage(pg_url).close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (SCHEMA_VERSION + 3,))
    with pytest.raises(StorageError, match="newer than this paperbot"):
        PostgresStorage(pg_url)


def test_an_unreachable_server_is_a_clear_error():
    with pytest.raises(
        StorageError, match=r"cannot use the PostgreSQL library at postgresql://u:\*\*\*@127\.0\.0\.1:9"
    ):
        PostgresStorage("postgresql://u:secret@127.0.0.1:9/x")


def test_an_import_killed_midway_resumes_without_duplicates_or_papers_missing_vectors(pg_url, tmp_path):
    script = (
        "import sys\n"
        "from retrieval.ingest import ingest_papers\n"
        "from retrieval.library import Library\n"
        "from tests.conftest import make_papers\n"
        "from retrieval.settings import Settings\n"
        "lib = Library.open(sys.argv[1], settings=Settings.from_env(), database_url=sys.argv[2], seed_default_corpus=False)\n"
        "ingest_papers(lib.store, lib.embedder, make_papers(160), chunk=16)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "x"), pg_url], env=env, cwd=ROOT)
    stored = 0
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            with psycopg.connect(pg_url) as conn:
                found = conn.execute("SELECT to_regclass('paper_vectors') IS NOT NULL").fetchone()
                if found and found[0]:
                    stored = conn.execute("SELECT COUNT(*) FROM paper_vectors").fetchone()[0]
            if stored >= 32:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the import finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    with psycopg.connect(pg_url) as conn:
        papers, vectors = conn.execute(
            "SELECT (SELECT COUNT(*) FROM papers), (SELECT COUNT(*) FROM paper_vectors)"
        ).fetchone()
    # Papers commit with their vectors, chunk by chunk: the kill left whole chunks only.
    assert 32 <= papers == vectors < 160 and papers % 16 == 0
    lib = Library.open(tmp_path / "y", database_url=pg_url, seed_default_corpus=False)
    try:
        report = lib.add_papers(make_papers(160))
        assert report.unchanged == papers and len(report.new) == 160 - papers
        assert report.embedded == 160 - papers  # nothing that was stored is embedded again
        assert lib.store.count() == 160 and lib.index.size == 160
    finally:
        lib.close()
    with psycopg.connect(pg_url) as conn:
        dupes = conn.execute("SELECT COUNT(*) - COUNT(DISTINCT ext_id) FROM papers").fetchone()[0]
    assert dupes == 0


def test_vectors_from_another_model_are_replaced(pg_url, tmp_path, caplog):
    lib = Library.open(tmp_path, database_url=pg_url, seed_default_corpus=False)
    lib.add_papers(make_papers(3))
    lib.close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE library_meta SET value = 'another-model#split2' WHERE key = 'vector_model'")
    again = Library.open(tmp_path, database_url=pg_url, seed_default_corpus=False)
    try:
        assert "replacing them" in caplog.text and again.index.size == 3
        assert again.search("speech recognition word error rates", 1)[0].paper.ext_id == "paper-2"
    finally:
        again.close()


def test_the_default_sqlite_library_never_imports_the_postgres_backend(tmp_path):
    code = (
        "import sys; from retrieval.library import Library\n"
        f"from retrieval.settings import Settings; lib = Library.open({str(tmp_path)!r}, settings=Settings.from_env(), seed_default_corpus=False); lib.close()\n"
        "assert not [m for m in sys.modules if m.startswith(('psycopg', 'pgvector', 'retrieval.storage.postgres'))]\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PAPERBOT_DATABASE_URL"}
    subprocess.run([sys.executable, "-c", code], env={**env, "PYTHONPATH": str(ROOT)}, cwd=ROOT, check=True)


def test_library_open_takes_the_database_url_from_the_settings(pg_url, tmp_path):
    url = Settings.from_env({"PAPERBOT_DATABASE_URL": pg_url}, dotenv=False).database_url
    lib: Library = Library.open(tmp_path, settings=replace(SETTINGS, database_url=url), seed_default_corpus=False)
    try:
        assert lib.storage.backend == "postgres" and lib.stats().data_dir == pg_url
    finally:
        lib.close()
