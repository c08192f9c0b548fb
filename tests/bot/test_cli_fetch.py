"""`paperbot fetch` end to end: a real local HTTP server, a real library, the printed report."""

from __future__ import annotations

import asyncio
import json
import socket

from bot.cli import main
from tests.retrieval.sources.feed_support import api_item, listing

DAY = "2026-11-20"


def seed(data_dir, tmp_path, capsys):
    corpus = tmp_path / "seed.jsonl"
    corpus.write_text(
        json.dumps({"id": "s1", "title": "Seed paper on tides", "abstract": "Tides rise. They fall."}) + "\n"
    )
    assert main(["--data-dir", str(data_dir), "index", "--no-default-corpus", "--corpus", str(corpus)]) == 0
    capsys.readouterr()


async def test_fetch_prints_what_it_did_and_fetched_papers_get_direct_links(tmp_path, capsys, serve):
    data_dir = tmp_path / "lib"
    seed(data_dir, tmp_path, capsys)
    handler, _ = listing(
        {
            DAY: [
                api_item("2611.00001", "Sparse Autoencoders Find Chess Concepts", upvotes=40),
                api_item(
                    "2611.00002", "Tiny Recursive Models Solve Sudoku", upvotes=9, github="https://github.com/x/trm"
                ),
            ]
        }
    )
    base = await serve(handler)
    argv = ["--data-dir", str(data_dir), "fetch", "--date", DAY, "--base", base, "--retries", "0"]
    assert await asyncio.to_thread(main, argv) == 0
    out = capsys.readouterr().out
    assert f"{DAY}: 2 new" in out
    assert await asyncio.to_thread(main, argv) == 0  # again: nothing new
    assert f"{DAY}: 0 new" in capsys.readouterr().out
    code = await asyncio.to_thread(
        main, ["--data-dir", str(data_dir), "ask", "--json", "chess concepts in sparse autoencoders"]
    )
    top = json.loads(capsys.readouterr().out)["sources"][0]
    assert code == 0 and top["id"] == "2611.00001" and top["url"] == "https://huggingface.co/papers/2611.00001"
    await asyncio.to_thread(main, ["--data-dir", str(data_dir), "today", "--date", DAY])
    today = capsys.readouterr().out
    assert today.index("Sparse Autoencoders") < today.index("Tiny Recursive") and "https://github.com/x/trm" in today


async def test_fetch_from_an_unreachable_server_fails_with_exit_1_and_changes_nothing(tmp_path, capsys):
    data_dir = tmp_path / "lib"
    seed(data_dir, tmp_path, capsys)
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    argv = ["--data-dir", str(data_dir), "fetch", "--date", DAY, "--base", f"http://127.0.0.1:{port}", "--retries", "0"]
    assert await asyncio.to_thread(main, argv) == 1
    assert "failed" in capsys.readouterr().out
    await asyncio.to_thread(main, ["--data-dir", str(data_dir), "stats", "--json"])
    assert json.loads(capsys.readouterr().out)["papers"] == 1


def test_fetch_since_a_day_after_today_is_a_usage_error(tmp_path, capsys):
    assert main(["--data-dir", str(tmp_path), "fetch", "--since", "2999-01-01"]) == 2
    assert "error" in capsys.readouterr().err
