"""Faults of the disk under a library: full at each write, bytes changed in place, read-only, leftovers."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from retrieval.storage.sqlite.files import FILES
from retrieval.storage.sqlite.index import MANIFEST
from retrieval.storage.sqlite.storage import DB_NAME, INDEX_DIR
from tests.conftest import make_papers
from tests.faults.conftest import CliRun, assert_consistent, paper_rows, write_jsonl


def _full_disk_at(monkeypatch: pytest.MonkeyPatch, name: str) -> list[str]:
    """Make the write of the file ``name`` (or a temporary file of it) fail with ENOSPC, as a full disk does.

    The index writes every file through Python and fsyncs it; the failure comes at that real call site.
    """
    real_fsync = os.fsync
    failed: list[str] = []

    def fsync(fd: int) -> None:
        path = os.readlink(f"/proc/self/fd/{fd}")
        if name in os.path.basename(path):
            failed.append(path)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return failed


@pytest.mark.parametrize("name", [*FILES, MANIFEST])
def test_disk_full_while_the_index_is_saved(cli: CliRun, built: Path, tmp_path, monkeypatch, name):
    corpus = write_jsonl(tmp_path / "more.jsonl", paper_rows(make_papers(3, prefix="More")))
    failed = _full_disk_at(monkeypatch, name)
    code, out, err = cli("--data-dir", str(built), "index", "--no-default-corpus", "--corpus", str(corpus))
    assert failed, "the fault was not reached"
    # The papers are committed; the index could not be saved: one line says so and that nothing is lost.
    assert code == 0 and "3 new" in out and "index: 11 papers" in out
    assert "cannot save the search index" in err and "disk is full" in err and "nothing is lost" in err
    assert not list((built / INDEX_DIR).glob(".*.tmp"))  # nothing half-written left behind
    # With the disk still full, questions are answered (from the stored vectors, in memory).
    code, out, err = cli(
        "--data-dir",
        str(built),
        "ask",
        "--json",
        "--top-k",
        "1",
        "More 2: Speech recognition for low-resource languages",
    )
    assert code == 0 and json.loads(out)["sources"][0]["title"].startswith("More 2")
    code, out, _ = cli("--data-dir", str(built), "stats")
    assert code == 0 and "papers: 11" in out
    monkeypatch.undo()  # space again: the next start saves the index, without a manual step
    code, _, err = cli("--data-dir", str(built), "doctor")
    assert code == 0 and "problem" not in err
    manifest = json.loads((built / INDEX_DIR / MANIFEST).read_text())
    assert manifest["papers"] == 11
    assert assert_consistent(built) == 11


def test_leftovers_of_a_killed_index_save_are_removed_on_the_next_start(cli: CliRun, built: Path):
    index_dir = built / INDEX_DIR
    (index_dir / ".gen-000099.tmp").mkdir()
    (index_dir / ".gen-000099.tmp" / "papers.faiss").write_bytes(b"\0" * 1000)
    (index_dir / f".{MANIFEST}.4242.tmp").write_text("{")
    code, out, _ = cli("--data-dir", str(built), "stats")
    assert code == 0 and "papers: 8" in out
    assert not list(index_dir.glob(".*.tmp"))


def test_disk_full_during_the_database_commit(cli: CliRun, built: Path, tmp_path, monkeypatch):
    corpus = write_jsonl(tmp_path / "more.jsonl", paper_rows(make_papers(40, prefix="More")))
    real_connect = sqlite3.connect

    def connect(*args: object, **kwargs: object) -> sqlite3.Connection:
        conn = real_connect(*args, **kwargs)  # type: ignore[arg-type]
        # No page beyond what the file has: SQLite's own "database or disk is full" (SQLITE_FULL).
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")
        return conn

    monkeypatch.setattr(sqlite3, "connect", connect)
    code, out, err = cli("--data-dir", str(built), "index", "--no-default-corpus", "--corpus", str(corpus))
    assert code == 1 and out == ""
    assert err.startswith(f"error: the disk holding {built} is full") and "nothing stored before was lost" in err
    assert len(err.strip().splitlines()) == 1
    monkeypatch.undo()
    assert assert_consistent(built) == 8  # the chunk was rolled back whole
    code, out, _ = cli("--data-dir", str(built), "index", "--no-default-corpus", "--corpus", str(corpus))
    assert code == 0 and "40 new" in out
    assert assert_consistent(built) == 48


def test_a_bit_flipped_index_is_detected_by_checksum_and_rebuilt(cli: CliRun, built: Path):
    manifest = json.loads((built / INDEX_DIR / MANIFEST).read_text())
    faiss_file = built / INDEX_DIR / manifest["generation_dir"] / "papers.faiss"
    size = faiss_file.stat().st_size
    with open(faiss_file, "r+b") as fh:  # zero bytes in place: same size, still a loadable FAISS file
        fh.seek(1000)
        fh.write(b"\0" * 500)
    assert faiss_file.stat().st_size == size
    code, out, err = cli("--data-dir", str(built), "doctor")
    assert code == 0
    assert "repaired: index: papers.faiss does not match its checksum (changed on disk); rebuilt it" in out
    assert "papers.faiss does not match its checksum" in err  # the warning of the load itself
    code, out, err = cli("--data-dir", str(built), "doctor")
    assert code == 0 and "repaired" not in out and "ok: index files match the checksums" in out
    assert assert_consistent(built) == 8


def test_doctor_reports_a_damaged_database_and_fails(cli: CliRun, built: Path):
    db = built / DB_NAME
    with contextlib.closing(sqlite3.connect(db)) as conn:  # the papers table's root page: every command reads it
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'papers'").fetchone()[0]
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    data = bytearray(db.read_bytes())
    start = (root - 1) * page_size
    data[start : start + 12] = b"\xff" * 12  # scramble the header of that b-tree page
    db.write_bytes(bytes(data))
    code, out, _ = cli("--data-dir", str(built), "doctor")
    assert code == 1 and "problem: database" in out and "is damaged" in out
    code, out, err = cli("--data-dir", str(built), "stats")
    assert code == 1 and out == "" and err.startswith("error: the library database is unusable")
    assert "run paperbot doctor" in err and len(err.strip().splitlines()) == 1


def test_doctor_embeds_papers_without_vectors(cli: CliRun, built: Path):
    conn = sqlite3.connect(built / DB_NAME)
    conn.execute("DELETE FROM paper_vectors WHERE paper_id IN (SELECT id FROM papers ORDER BY id LIMIT 2)")
    conn.commit()
    conn.close()
    code, out, _ = cli("--data-dir", str(built), "doctor")
    assert code == 0 and "ok: 8 papers, each with vectors" in out
    assert assert_consistent(built) == 8


@pytest.fixture
def read_only(built: Path, tmp_path: Path) -> Iterator[Path]:
    """The built library in a read-only place: a read-only mount when root (chmod does not stop root),
    else a folder without write permission."""
    if os.geteuid() != 0:
        for path in [built, *built.rglob("*")]:
            if path.is_dir():
                path.chmod(0o555)
        yield built
        for path in [built, *built.rglob("*")]:
            if path.is_dir():
                path.chmod(0o755)
        return
    mount = tmp_path / "ro"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        shutil.copytree(built, mount, dirs_exist_ok=True)
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True, capture_output=True)
        yield mount
    finally:
        # Lazily: the CLI leaves its library open until the process ends (as a real command does at exit).
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_read_only_library_answers_and_refuses_changes_in_one_line(cli: CliRun, read_only: Path, tmp_path):
    with pytest.raises(OSError):
        (read_only / "probe").touch()  # the folder really cannot be written
    before = sorted(p.name for p in read_only.rglob("*"))
    code, out, _ = cli("--data-dir", str(read_only), "ask", "--json", "Paper 6: Quantization of large language models")
    assert code == 0 and "Quantization" in json.loads(out)["sources"][0]["title"]
    code, out, _ = cli("--data-dir", str(read_only), "stats")
    assert code == 0 and "papers: 8" in out
    code, out, _ = cli("--data-dir", str(read_only), "today", "--date", "2026-11-20")
    assert code == 0 and "Paper 7" in out
    corpus = write_jsonl(tmp_path / "more.jsonl", paper_rows(make_papers(2, prefix="More")))
    code, out, err = cli("--data-dir", str(read_only), "index", "--no-default-corpus", "--corpus", str(corpus))
    assert (
        code == 1
        and err.strip() == f"error: the library in {read_only} is read-only: questions work, changes cannot be saved"
    )
    code, out, _ = cli("--data-dir", str(read_only), "doctor")
    assert "problem" not in out and "ok: index holds the 8 papers of the store" in out, out
    assert code == 0
    assert sorted(p.name for p in read_only.rglob("*")) == before


def test_a_read_only_folder_without_a_library_is_one_line(cli: CliRun, read_only: Path):
    empty = read_only / INDEX_DIR  # a read-only folder that holds no library
    code, _, err = cli("--data-dir", str(empty), "stats")
    assert code == 1 and "is read-only and holds no library" in err
