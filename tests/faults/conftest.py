"""Helpers of the fault suite: run the CLI as a user would, and check a library is whole afterwards."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.cli import main
from retrieval.library import Library
from retrieval.models import Paper
from retrieval.storage.sqlite.storage import DB_NAME
from tests.conftest import make_papers

CliRun = Callable[..., tuple[int, str, str]]


def paper_rows(papers: list[Paper]) -> list[dict[str, object]]:
    """JSONL records of ``papers``."""
    return [{"id": p.ext_id, "title": p.title, "abstract": p.abstract} for p in papers]


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    """A JSONL file of ``rows``."""
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> CliRun:
    """``code, out, err = cli("--data-dir", d, "ask", "q")``: the real CLI in this process.

    ``err`` holds what the command printed to stderr and the log lines it wrote; no traceback
    may be among them (the suite's first rule: no traceback reaches a user).
    """

    def run(*argv: str) -> tuple[int, str, str]:
        caplog.clear()
        code = main(list(argv))
        out, err = capsys.readouterr()
        # What a user sees without -v: warnings and errors.
        err += "".join(f"{r.levelname} {r.getMessage()}\n" for r in caplog.records if r.levelno >= logging.WARNING)
        assert "Traceback" not in err and "Traceback" not in out
        return code, out, err

    return run


@pytest.fixture
def built(tmp_path: Path) -> Iterator[Path]:
    """A small library (8 papers) built on disk and closed: the data folder."""
    data_dir = tmp_path / "lib"
    lib = Library.open(data_dir, seed_default_corpus=False)
    lib.add_papers(make_papers(8))
    lib.close()
    yield data_dir


def assert_consistent(data_dir: Path) -> int:
    """SQLite's integrity check passes and every paper is found first by its own title; the paper count."""
    conn = sqlite3.connect(data_dir / DB_NAME)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()
    lib = Library.open(data_dir, seed_default_corpus=False)
    try:
        papers = lib.store.get_many(sorted(lib.store.id_hashes()))
        assert lib.index.size == len(papers)
        for paper_id, paper in papers.items():
            hits = lib.search(paper.title, 1)
            assert hits and hits[0].paper.id == paper_id, paper.title
        return len(papers)
    finally:
        lib.close()
