"""The ingest path: chunks committed with their vectors, resumable after a kill, nothing embedded twice."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

import retrieval.ingest
from retrieval.ingest import Progress, embed_missing, vector_key
from retrieval.storage.sqlite.storage import DB_NAME
from tests.conftest import make_papers

ROOT = Path(__file__).resolve().parents[2]
TOTAL = 480
CHUNK = 8


def committed(db_file: Path) -> tuple[int, int]:
    """(papers, papers with vectors) as another process sees them."""
    try:
        conn = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True, timeout=5)
        try:
            papers = conn.execute("SELECT COUNT(*) FROM papers").fetchone()[0]
            with_vectors = conn.execute("SELECT COUNT(DISTINCT paper_id) FROM paper_vectors").fetchone()[0]
            return int(papers), int(with_vectors)
        finally:
            conn.close()
    except sqlite3.OperationalError:  # not created or not migrated yet
        return 0, 0


def library_content(lib) -> dict[str, tuple[str, str, np.ndarray]]:
    """ext id -> (title, abstract, sentence vectors) of every stored paper."""
    key = vector_key(lib.embedder)
    papers = lib.store.get_many(sorted(lib.store.id_hashes()))
    vectors = {pid: vecs for pid, _, vecs in lib.store.iter_vectors(key)}
    return {p.ext_id: (p.title, p.abstract, vectors[p.id]) for p in papers.values()}


def test_an_import_killed_midway_resumes_and_ends_with_the_same_library(open_library, tmp_path):
    data_dir = tmp_path / "killed"
    code = "\n".join(
        [
            "from pathlib import Path",
            "from retrieval.ingest import ingest_papers",
            "from retrieval.library import Library",
            "from tests.conftest import make_papers",
            "from retrieval.settings import Settings",
            f"lib = Library.open(Path({str(data_dir)!r}), settings=Settings.from_env(), seed_default_corpus=False)",
            f"ingest_papers(lib.store, lib.embedder, make_papers({TOTAL}), chunk={CHUNK})",
        ]
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    child = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=ROOT, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while committed(data_dir / DB_NAME)[0] < 3 * CHUNK and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL, child.stderr.read() if child.stderr else ""
    papers, with_vectors = committed(data_dir / DB_NAME)
    assert 3 * CHUNK <= papers < TOTAL and papers % CHUNK == 0  # whole chunks only
    assert with_vectors == papers  # no paper without its vectors

    resumed = open_library("killed")
    report = resumed.add_papers(make_papers(TOTAL))
    assert report.embedded == TOTAL - papers  # what was committed is not embedded again
    assert len(report.new) == TOTAL - papers and report.unchanged == papers
    assert resumed.index.size == TOTAL

    straight = open_library("straight")
    straight.add_papers(make_papers(TOTAL))
    got, expected = library_content(resumed), library_content(straight)
    assert got.keys() == expected.keys()
    for ext_id, (title, abstract, vectors) in expected.items():
        assert got[ext_id][:2] == (title, abstract)
        np.testing.assert_allclose(got[ext_id][2].astype(np.float32), vectors.astype(np.float32), atol=2e-3)
    question = "reward model trained on preferences, setting number 413"
    assert resumed.search(question, 1)[0].paper.ext_id == straight.search(question, 1)[0].paper.ext_id == "paper-413"


def test_importing_the_same_papers_again_embeds_nothing_and_a_changed_abstract_is_reembedded(open_library):
    lib = open_library()
    papers = make_papers(5)
    first = lib.add_papers(papers)
    assert first.embedded == 5 and len(first.new) == 5 and first.sentences >= 15
    again = lib.add_papers(papers)
    assert again.embedded == 0 and again.unchanged == 5
    changed = replace(papers[2], abstract="Entirely new text about coral reef bleaching. Oceans warm.")
    report = lib.add_papers([changed])
    assert report.embedded == 1 and len(report.updated) == 1
    assert lib.search("coral reef bleaching", 1)[0].paper.ext_id == "paper-2"


def test_papers_stored_without_vectors_are_embedded_on_open(open_library):
    lib = open_library("plain")
    lib.store.upsert(make_papers(3))  # a plain upsert, as an older paperbot wrote papers
    assert embed_missing(lib.store, lib.embedder).embedded == 3
    lib.close()
    again = open_library("plain")
    assert again.index.size == 3 and embed_missing(again.store, again.embedder).embedded == 0


def test_without_a_terminal_progress_is_a_log_line_with_papers_per_second(monkeypatch, caplog):
    monkeypatch.setattr(retrieval.ingest, "LOG_EVERY_S", 0.0)
    with caplog.at_level(logging.INFO, logger="retrieval.ingest"):
        progress = Progress(1000, "Importing papers", enabled=True)
        progress.update(128)
        progress.close()
    assert progress.bar is None  # pytest's stderr is not a terminal
    assert "Importing papers: 128/1000 papers" in caplog.text and "papers/s" in caplog.text and "ETA" in caplog.text


def test_an_import_through_worker_processes_stores_what_one_process_does(open_library):
    from retrieval.encoder.pool import EncoderPool

    papers = make_papers(40)
    alone = open_library("alone")
    alone.add_papers(papers)
    pooled = open_library("pooled")
    with EncoderPool(pooled.embedder.name, workers=2, threads=1) as pool:
        report = pooled.add_papers(papers, pool=pool)
        assert len(report.new) == 40 and report.embedded == 40
        again = pooled.add_papers(papers, pool=pool)  # resumable as ever: nothing embedded twice
    assert again.embedded == 0 and not again.new
    expected, got = library_content(alone), library_content(pooled)
    assert expected.keys() == got.keys()
    for ext_id, (title, abstract, vectors) in expected.items():
        assert got[ext_id][:2] == (title, abstract)
        assert np.allclose(got[ext_id][2], vectors, atol=1e-3)
    assert pooled.ingest_totals.papers == 80 and pooled.ingest_totals.last_rate > 0
