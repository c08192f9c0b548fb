"""The feed end to end through the real Library: fetched papers become searchable; the ingest bench runs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from aiohttp import web

from bench.feed_bench import bench_ingest
from retrieval.library import Library
from retrieval.sources.feed import fetch_days
from tests.retrieval.sources.feed_support import api_item, base_of, fast_config, start_server

DAY = date(2026, 11, 20)


@pytest.fixture(scope="module")
def feed_library(tmp_path_factory) -> Iterator[Library]:
    lib = Library.open(tmp_path_factory.mktemp("feedlib"), seed_default_corpus=False)
    yield lib
    lib.close()


async def test_fetched_papers_become_searchable_and_listed(feed_library):
    items = [
        api_item(
            "2611.60001",
            "Quantum Error Correction with Surface Codes on Superconducting Qubits",
            "We demonstrate logical qubits protected by surface codes on a superconducting processor. "
            "Error rates fall as the code distance grows.",
            upvotes=80,
        ),
        api_item(
            "2611.60002",
            "Protein Folding with Equivariant Diffusion",
            "An equivariant diffusion model predicts protein backbone structures from sequence.",
            upvotes=12,
        ),
    ]

    async def handler(request: web.Request) -> web.Response:
        return web.json_response(items if request.query["date"] == DAY.isoformat() else [])

    server = await start_server(handler)
    try:
        report = await fetch_days(feed_library, [DAY], config=fast_config(base_of(server)))
    finally:
        await server.close()

    assert report.ok and report.new == 2
    hits = feed_library.search("Quantum Error Correction with Surface Codes on Superconducting Qubits")
    assert hits and hits[0].paper.arxiv_id == "2611.60001"
    hits = feed_library.search("how do diffusion models predict protein structure?")
    assert hits and hits[0].paper.arxiv_id == "2611.60002"
    digest = feed_library.digest(DAY)
    assert [e.paper.arxiv_id for e in digest.entries] == ["2611.60001", "2611.60002"]


def test_bench_ingest_reports_throughput(feed_library):
    result = bench_ingest(feed_library, n_papers=4)
    assert result["papers"] == 4 and result["new"] == 4
    assert result["searchable_fraction"] == 1.0
    assert result["seconds_fetch_to_searchable"] > 0 and result["papers_per_second"] > 0
