"""Helpers for the feed tests: a real local HTTP server, API-shaped items, a store-backed sink."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestServer

from retrieval.models import Paper
from retrieval.sources.feed_client import FeedConfig
from retrieval.storage.sqlite.db import Database
from retrieval.storage.sqlite.store import SqlitePaperStore, UpsertReport

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def api_item(
    arxiv_id: str,
    title: str,
    summary: str | None = None,
    *,
    upvotes: int = 7,
    authors: Sequence[str] = ("Ada Lovelace", "Alan Turing"),
    published: str = "2026-11-19T17:59:58.000Z",
    github: str | None = None,
    project: str | None = None,
) -> dict[str, object]:
    """One item in the documented daily-papers shape (extra keys included, as the real API sends)."""
    paper: dict[str, object] = {
        "id": arxiv_id,
        "title": title,
        "summary": summary or f"We study {title.lower()}. Our method improves results on standard benchmarks.",
        "authors": [{"_id": f"a{i}", "name": name, "hidden": False} for i, name in enumerate(authors)],
        "publishedAt": published,
        "upvotes": upvotes,
        "ai_summary": "A short machine summary.",
        "ai_keywords": ["keyword one", "keyword two"],
        "discussionId": "abc123",
    }
    if github:
        paper["githubRepo"] = github
    if project:
        paper["projectPage"] = project
    return {
        "paper": paper,
        "publishedAt": "2026-11-20T01:02:03.000Z",
        "title": title,
        "numComments": 3,
        "thumbnail": "https://example.invalid/t.png",
    }


async def start_server(handler: Handler, path: str = "/api/daily_papers") -> TestServer:
    """A real aiohttp server on 127.0.0.1 (ephemeral port) answering ``path`` with ``handler``."""
    app = web.Application()
    app.router.add_get(path, handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server


def base_of(server: TestServer) -> str:
    """The server's base URL, without a trailing slash."""
    return str(server.make_url("/")).rstrip("/")


def fast_config(base_url: str, **overrides: object) -> FeedConfig:
    """Tiny timeouts and backoff so fault tests stay fast."""
    values: dict[str, object] = {
        "base_url": base_url,
        "connect_timeout": 0.5,
        "read_timeout": 0.3,
        "retries": 3,
        "backoff_base": 0.01,
        "backoff_max": 0.04,
        "retry_after_cap": 2.0,
    }
    values.update(overrides)
    return FeedConfig(**values)  # type: ignore[arg-type]


class StoreSink:
    """Stand-in for ``Library.add_papers`` (one upsert transaction) on a real SQLite store, no embedding."""

    def __init__(self, path: Path) -> None:
        self.db = Database(path)
        self.store = SqlitePaperStore(self.db)

    def add_papers(self, papers: Sequence[Paper]) -> UpsertReport:
        return self.store.upsert(papers)

    def days_of(self, arxiv_id: str) -> list[date]:
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT d.day FROM paper_days d JOIN papers p ON p.id = d.paper_id WHERE p.arxiv_id = ? ORDER BY d.day",
                (arxiv_id,),
            ).fetchall()
        return [date.fromisoformat(r[0]) for r in rows]

    def snapshot(self) -> tuple[str, int, list[tuple[object, ...]], list[tuple[object, ...]]]:
        """Fingerprint, count, and every row of papers and paper_days: equal snapshots = untouched store."""
        with self.db.read() as conn:
            papers = [tuple(r) for r in conn.execute("SELECT * FROM papers ORDER BY id")]
            days = [tuple(r) for r in conn.execute("SELECT * FROM paper_days ORDER BY paper_id, day")]
        return self.store.fingerprint(), self.store.count(), papers, days

    def close(self) -> None:
        with contextlib.suppress(sqlite3.ProgrammingError):
            self.db.close()


# -- shared by the feed test modules (each wraps these in its own two small fixtures) --


class ServerPool:
    """Starts real servers for one test (``base = await pool.serve(handler)``) and closes them all."""

    def __init__(self) -> None:
        self.servers: list[TestServer] = []

    async def serve(self, handler: Handler, path: str = "/api/daily_papers") -> str:
        server = await start_server(handler, path)
        self.servers.append(server)
        return base_of(server)

    async def close(self) -> None:
        for server in self.servers:
            await server.close()


def listing(pages_by_day: dict[str, list[dict]], page_size: int = 100) -> tuple[Handler, list[dict[str, str]]]:
    """A handler serving ``pages_by_day`` paginated like the API; also returns the log of query params."""
    calls: list[dict[str, str]] = []

    async def handler(request: web.Request) -> web.Response:
        calls.append(dict(request.query))
        items = pages_by_day.get(request.query["date"], [])
        limit = int(request.query.get("limit", page_size))
        page = int(request.query.get("p", 0))
        return web.json_response(items[page * limit : (page + 1) * limit])

    return handler, calls


def scripted(statuses: list[int], final: list[dict], headers: dict[str, str] | None = None) -> tuple[Handler, list]:
    """Answer with ``statuses`` in turn (errors), then ``final`` as JSON forever; log request times."""
    times: list[float] = []

    async def handler(request: web.Request) -> web.Response:
        times.append(time.monotonic())
        if len(times) <= len(statuses):
            return web.Response(status=statuses[len(times) - 1], text="busy", headers=headers or {})
        return web.json_response(final)

    return handler, times
