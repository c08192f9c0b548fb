"""What a demanding user types: bad arguments, pipes, the REPL's words, ambiguous paper names."""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import aiohttp
import pytest

from bot.cli import main
from retrieval.sources.feed_client import _describe
from tests.faults.conftest import CliRun

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def bundled(library, library_dir, cli: CliRun) -> CliRun:
    """The CLI against the session's bundled library."""
    return lambda *argv: cli("--data-dir", str(library_dir), *argv)


def _usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exit_:
        main(list(argv))
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_bad_arguments_get_messages_that_say_what_is_wrong(capsys, tmp_path):
    err = _usage_error(capsys, "ask", "--top-k", "abc", "q")
    assert "not a number: 'abc'" in err and "_positive" not in err
    assert "30 is out of range: use 1 to 25" in _usage_error(capsys, "ask", "--top-k", "30", "q")
    assert "a Discord user id is a positive number" in _usage_error(capsys, "follow", "list", "--user", "-5")


def test_a_data_dir_that_is_a_file_and_a_corpus_that_is_a_folder(cli: CliRun, tmp_path):
    afile = tmp_path / "notes.txt"
    afile.write_text("x")
    code, _, err = cli("--data-dir", str(afile), "stats")
    assert code == 1 and err.strip() == f"error: {afile} is a file; the library needs a folder (--data-dir)"
    code, _, err = cli("--data-dir", str(tmp_path / "lib"), "index", "--corpus", str(tmp_path))
    assert code == 2 and "is a folder; --corpus takes a JSONL file" in err


def test_follow_add_with_an_empty_topic_is_about_the_topic(cli: CliRun, built: Path):
    code, _, err = cli("--data-dir", str(built), "follow", "add", "--user", "5", "--topic", "")
    assert code == 1 and "topic" in err.lower() and "author" not in err.lower()


def test_follow_check_without_a_date_looks_at_today(cli: CliRun, built: Path):
    from retrieval.sources.feed import utc_today

    code, out, _ = cli("--data-dir", str(built), "follow", "check", "--user", "5")
    assert code == 0 and utc_today().isoformat() in out  # the library's newest day is 2026-11-20


def test_a_dns_failure_reads_as_one(tmp_path):
    key = SimpleNamespace(host="no-such-host.invalid", port=443, ssl=True)
    error = aiohttp.ClientConnectorError(key, socket.gaierror(-2, "Name or service not known"))  # type: ignore[arg-type]
    described = _describe(error)
    assert described == "cannot find the host no-such-host.invalid (DNS: Name or service not known)"
    assert "Unknown error" not in described


def test_stats_into_a_closed_pipe_is_quiet(built: Path):
    reader, writer = os.pipe()
    os.close(reader)  # `paperbot stats | head -1` once head has gone
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "--data-dir", str(built), "stats"],
        stdout=writer,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    os.close(writer)
    assert done.returncode == 0 and done.stderr == ""


def test_stats_in_words_and_answer_footers_count_what_they_show(cli: CliRun, built: Path):
    code, out, _ = cli("--data-dir", str(built), "stats")
    assert code == 0 and "sources: test 8" in out and "newest day: 2026-11-20" in out
    assert "{" not in out and "None" not in out
    code, out, _ = cli("--data-dir", str(built), "ask", "--top-k", "1", "four-bit weights quantization accuracy")
    assert code == 0 and ("(1 source from 8 papers" in out or "(1 closest title from 8 papers" in out)
    code, out, _ = cli("--data-dir", str(built), "ask", "how do volcanoes erupt under the sea floor?")
    assert "Not covered" in out and out.count("\n- ") == 3 and "(3 closest titles from 8 papers" in out


def test_an_answer_lists_each_link_once(bundled: CliRun):
    code, out, _ = bundled("ask", "pointer networks for combinatorial problems")
    assert code == 0 and "Also relevant" in out and "Sources:" in out
    urls = re.findall(r"https?://\S+", out)
    assert urls and len(urls) == len(set(urls))


def test_ask_about_an_ambiguous_paper_name_says_which_was_picked(bundled: CliRun):
    code, _, err = bundled("ask", "--paper", "network", "what do they propose?")
    assert code in (0, 1) and "titles contain 'network'; answering from" in err and "Others:" in err
    code, _, err = bundled("ask", "--paper", "Pointer Networks", "what do they propose?")
    assert code == 0 and "titles contain" not in err  # an exact title needs no note


def test_repl_understands_quit_and_help(cli: CliRun, built: Path, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("help\nstats\nquit\nthis is never asked\n"))
    code, out, _ = cli("--data-dir", str(built), "repl")
    assert code == 0 and ":quit (or quit, exit, Ctrl-D)" in out and "papers: 8" in out
    assert "Not covered" not in out and "Sources" not in out  # neither help nor quit was asked as a question


def test_verbose_logging_shows_no_faiss_import_errors(built: Path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "-v", "--data-dir", str(built), "stats"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0 and "papers: 8" in done.stdout
    assert "ModuleNotFoundError" not in done.stderr and "Traceback" not in done.stderr
