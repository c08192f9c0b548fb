"""Ingest benchmark: a day of papers from a local fake daily-papers API until they are searchable.

Used by ``paperbot bench``. It writes synthetic papers into the library it is given, listed
on a day long past (so no real digest shows them); pass a scratch library.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import random
import socket
import time
from datetime import date
from typing import TYPE_CHECKING, Any

from aiohttp import web

from retrieval.sources.feed import fetch_days
from retrieval.sources.feed_client import FeedClient, FeedConfig

if TYPE_CHECKING:
    from retrieval.library import Library

log = logging.getLogger(__name__)

# New-style arXiv ids began in 2007, so "00MM.NNNNN" can never collide with a real paper.
BENCH_DAY = date(2000, 1, 3)

_ADJ = ["Scalable", "Efficient", "Robust", "Self-Supervised", "Sparse", "Multimodal", "Causal", "Adaptive"]
_METHOD = [
    "Mixture-of-Experts Transformers",
    "Diffusion Policies",
    "Retrieval-Augmented Language Models",
    "Graph Neural Networks",
    "State Space Models",
    "Vision-Language Agents",
    "Reward Models",
    "Neural Radiance Fields",
]
_TASK = [
    "Long-Context Reasoning",
    "Robotic Manipulation",
    "Protein Structure Prediction",
    "Code Generation",
    "Video Understanding",
    "Speech Translation",
    "Weather Forecasting",
    "Mathematical Problem Solving",
]
_SENTENCES = [
    "Recent progress in {task} has been driven by {method}, yet their cost grows quickly with scale.",
    "We introduce {name}, a {adj} framework that combines {method} with a lightweight routing objective.",
    "Our key insight is that most of the signal needed for {task} lies in a small subset of tokens.",
    "{name} learns to select this subset during training without additional supervision.",
    "We evaluate on {n} benchmarks covering {task} and report gains of {gain} points on average.",
    "Ablations show that the routing objective and the curriculum each contribute to the improvement.",
    "Compared with strong baselines, {name} reduces inference latency by {speed}x at equal accuracy.",
    "We release code, checkpoints and evaluation scripts to support future work on {task}.",
]


def synthetic_items(n_papers: int, seed: int | None = None) -> list[dict[str, Any]]:
    """``n_papers`` items in the daily-papers API shape, with realistic titles and abstracts."""
    rng = random.Random(seed)
    block = rng.randrange(1, 100)
    start = rng.randrange(0, 90_000)
    items: list[dict[str, Any]] = []
    for i in range(n_papers):
        adj, method, task = rng.choice(_ADJ), rng.choice(_METHOD), rng.choice(_TASK)
        # A made-up acronym keeps titles distinct, as real titles are.
        name = "".join(rng.choice("ABCDEFGHIKLMNPRSTVXZ") for _ in range(rng.randint(3, 6)))
        values = {
            "name": name,
            "adj": adj.lower(),
            "method": method,
            "task": task.lower(),
            "n": rng.randint(3, 12),
            "gain": round(rng.uniform(0.5, 9.5), 1),
            "speed": round(rng.uniform(1.2, 4.0), 1),
        }
        summary = " ".join(s.format(**values) for s in _SENTENCES)
        arxiv_id = f"00{block:02d}.{(start + i) % 100_000:05d}"
        items.append(
            {
                "paper": {
                    "id": arxiv_id,
                    "title": f"{name}: {adj} {method} for {task}",
                    "summary": summary,
                    "authors": [{"name": f"Author {rng.randint(1, 999)}"} for _ in range(rng.randint(2, 9))],
                    "publishedAt": f"{BENCH_DAY.isoformat()}T12:00:00.000Z",
                    "upvotes": rng.randint(0, 120),
                    "githubRepo": f"https://github.com/bench/{name.lower()}",
                    "ai_summary": "Synthetic.",
                },
                "publishedAt": f"{BENCH_DAY.isoformat()}T13:00:00.000Z",
                "numComments": rng.randint(0, 9),
            }
        )
    return items


async def _serve(items: list[dict[str, Any]]) -> tuple[web.AppRunner, str]:
    async def handler(request: web.Request) -> web.Response:
        limit = int(request.query.get("limit", "100"))
        page = int(request.query.get("p", "0"))
        day_items = items if request.query.get("date") == BENCH_DAY.isoformat() else []
        return web.json_response(day_items[page * limit : (page + 1) * limit])

    app = web.Application()
    app.router.add_get("/api/daily_papers", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    return runner, f"http://127.0.0.1:{sock.getsockname()[1]}"


def _searchable(library: Library, title: str, ext_id: str) -> bool:
    return any(hit.paper.ext_id == ext_id or hit.paper.arxiv_id == ext_id for hit in library.search(title, top_k=5))


async def _bench(library: Library, n_papers: int) -> dict[str, float]:
    items = synthetic_items(n_papers)
    runner, base = await _serve(items)
    try:
        config = FeedConfig(base_url=base, connect_timeout=5.0, read_timeout=30.0, retries=0)
        # HTTP + parsing alone, for scale; nothing is stored by this pass.
        started = time.perf_counter()
        async with FeedClient(config) as client:
            await client.fetch_day(BENCH_DAY)
        seconds_http = time.perf_counter() - started

        started = time.perf_counter()
        report = await fetch_days(library, [BENCH_DAY], config=config)
        probes = [items[0], items[len(items) // 2], items[-1]] if items else []
        found = [
            await asyncio.to_thread(_searchable, library, it["paper"]["title"], it["paper"]["id"]) for it in probes
        ]
        seconds = time.perf_counter() - started
    finally:
        await runner.cleanup()
    if not report.ok:
        log.error("feed bench: fetch failed: %s", report.summary())
    if not all(found):
        log.error("feed bench: %d of %d probe papers not found by title search", found.count(False), len(found))
    return {
        "papers": n_papers,
        "new": report.new,
        "seconds_http": round(seconds_http, 4),
        "seconds_fetch_to_searchable": round(seconds, 4),
        "papers_per_second": round(n_papers / seconds, 2) if seconds > 0 else 0.0,
        "searchable_fraction": (sum(found) / len(found)) if found else 1.0,
    }


def bench_ingest(library: Library, n_papers: int = 50) -> dict[str, float]:
    """Serve ``n_papers`` synthetic papers for one day on 127.0.0.1, fetch them into ``library``,
    and time it until a title search finds them (embedding included).

    Returns ``{"papers", "new", "seconds_http", "seconds_fetch_to_searchable", "papers_per_second",
    "searchable_fraction"}``. Writes into ``library``: use a scratch one.
    """
    if n_papers < 1:
        raise ValueError("n_papers must be >= 1")
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_bench(library, n_papers))
    # Called from async code: run the benchmark on its own loop in a worker thread.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, _bench(library, n_papers)).result()
