"""`paperbot add` against a real local API server, and `paperbot follow` add/list/remove/check."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace

from aiohttp import web

from bot.cli import main
from retrieval.library import Library
from tests.conftest import BACKENDS, make_papers
from tests.retrieval.sources.feed_support import api_item


def seed(data_dir, tmp_path, capsys) -> None:
    corpus = tmp_path / "seed.jsonl"
    rows = [
        {
            "id": "s1",
            "title": "Protein structure prediction with attention",
            "abstract": "Attention over residue pairs predicts folded structures.",
            "authors": ["Grace Hopper"],
        },
        {
            "id": "s2",
            "title": "Sourdough fermentation kinetics",
            "abstract": "Wild yeast raises bread dough.",
            "authors": ["Ada Lovelace"],
        },
    ]
    corpus.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert main(["--data-dir", str(data_dir), "index", "--no-default-corpus", "--corpus", str(corpus)]) == 0
    capsys.readouterr()


async def test_add_fetches_the_paper_and_prints_it(tmp_path, capsys, serve):
    data_dir = tmp_path / "lib"
    seed(data_dir, tmp_path, capsys)

    async def handler(request: web.Request) -> web.Response:
        if request.match_info["paper_id"] == "2401.12345":
            return web.json_response(api_item("2401.12345", "Kelp forest carbon budgets")["paper"])
        return web.json_response({"error": "Not Found"}, status=404)

    base = await serve(handler, "/api/papers/{paper_id}")
    run = lambda *argv: main(["--data-dir", str(data_dir), *argv])  # noqa: E731
    code = await asyncio.to_thread(run, "add", "https://arxiv.org/abs/2401.12345v1", "--base", base)
    out = capsys.readouterr().out
    assert code == 0 and out.startswith("added: 2401.12345") and "https://arxiv.org/abs/2401.12345" in out
    code = await asyncio.to_thread(run, "add", "2401.99999", "--base", base, "--retries", "0")
    captured = capsys.readouterr()
    assert code == 1 and "no paper 2401.99999" in captured.err and captured.out == ""
    assert await asyncio.to_thread(run, "add", "nonsense") == 2


@BACKENDS
def test_follow_add_list_check_remove(location, capsys):
    data_dir, url = location
    library = Library.open(data_dir, seed_default_corpus=False, database_url=url)
    papers = make_papers(8)
    papers[3] = replace(papers[3], authors=("Grace Hopper",))
    library.add_papers(papers)
    library.close()
    where = ["--data-dir", str(data_dir), *(["--database-url", url] if url else [])]
    run = lambda *argv: main([*where, "follow", *argv])  # noqa: E731
    assert run("add", "--user", "5", "--author", "grace hopper") == 0
    assert run("add", "--user", "5", "--topic", "x") == 1
    assert run("list", "--user", "5") == 0
    assert "1. author: grace hopper" in capsys.readouterr().out
    assert run("check", "--user", "5", "--date", "2026-11-20") == 0  # default: today, as the DM
    out = capsys.readouterr().out
    assert "1 new paper(s) for 2026-11-20" in out and "Graph neural networks" in out
    assert run("check", "--user", "6", "--date", "2026-11-20") == 0
    assert "No new paper matches on 2026-11-20" in capsys.readouterr().out
    assert run("remove", "--user", "5", "1") == 0 and run("remove", "--user", "5", "1") == 1
    assert run("list", "--user", "5") == 0
    assert capsys.readouterr().out.strip().endswith("No follows.")
