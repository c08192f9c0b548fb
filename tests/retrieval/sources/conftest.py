"""Fixtures shared by the feed tests: a store-backed sink (the local HTTP server fixture is in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.retrieval.sources.feed_support import StoreSink


@pytest.fixture
def sink(tmp_path) -> Iterator[StoreSink]:
    store = StoreSink(tmp_path / "library.sqlite3")
    yield store
    store.close()
