"""Fixtures shared by the feed tests: a store-backed sink and real local HTTP servers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest

from tests.retrieval.feed_support import Handler, ServerPool, StoreSink


@pytest.fixture
def sink(tmp_path) -> Iterator[StoreSink]:
    store = StoreSink(tmp_path / "library.sqlite3")
    yield store
    store.close()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    """``base = await serve(handler)``: a real server on 127.0.0.1 for this test."""
    pool = ServerPool()
    yield pool.serve
    await pool.close()
