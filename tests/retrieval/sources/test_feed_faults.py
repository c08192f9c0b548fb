"""The live feed's HTTP fault handling against a real server on 127.0.0.1: retries, backoff, timeouts, refusals."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import socket
import time
from collections.abc import Iterator
from datetime import date

import pytest
from aiohttp import web

from retrieval.sources.feed import fetch_days
from tests.retrieval.sources.feed_support import api_item, fast_config, scripted

DAY1 = date(2026, 11, 20)


async def test_5xx_errors_then_success_is_retried(serve, sink):
    handler, times = scripted([500, 502, 503], [api_item("2611.88888", "Resilient Paper")])
    base = await serve(handler)
    report = await fetch_days(sink, [DAY1], config=fast_config(base, retries=3))
    assert report.ok and report.new == 1 and len(times) == 4


async def test_persistent_503_fails_after_bounded_tries(serve, sink):
    handler, times = scripted([503] * 10, [])
    base = await serve(handler)
    report = await fetch_days(sink, [DAY1], config=fast_config(base, retries=3))
    assert report.failed == [(DAY1, "HTTP 503 after 4 tries")]
    assert len(times) == 4
    assert report.summary().splitlines()[0] == "2026-11-20: failed (HTTP 503 after 4 tries)"


async def test_backoff_grows_exponentially(serve, sink):
    handler, times = scripted([504] * 3, [])
    base = await serve(handler)
    await fetch_days(sink, [DAY1], config=fast_config(base, retries=2, backoff_base=0.1, backoff_max=1.0))
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # equal jitter: retry n waits between base*2^n/2 and base*2^n
    assert 0.05 <= gaps[0] < 0.6 and 0.1 <= gaps[1] < 1.0


async def test_client_error_404_is_not_retried(serve, sink):
    handler, times = scripted([404] * 5, [])
    base = await serve(handler)
    report = await fetch_days(sink, [DAY1], config=fast_config(base))
    assert len(times) == 1 and report.failed == [(DAY1, "HTTP 404 (not retried)")]


async def test_429_with_retry_after_seconds_is_honoured(serve, sink, caplog):
    handler, times = scripted([429], [api_item("2611.99999", "Rate Limited Paper")], {"Retry-After": "1"})
    base = await serve(handler)
    with caplog.at_level(logging.WARNING, logger="retrieval.sources.feed_client"):
        report = await fetch_days(sink, [DAY1], config=fast_config(base, backoff_base=0.01))
    assert report.ok and report.new == 1
    assert times[1] - times[0] >= 0.95
    assert any("HTTP 429" in r.getMessage() and "Retry-After" in r.getMessage() for r in caplog.records)


async def test_429_retry_after_is_capped(serve, sink):
    handler, times = scripted([429], [], {"Retry-After": "3600"})
    base = await serve(handler)
    report = await fetch_days(sink, [DAY1], config=fast_config(base, retry_after_cap=0.1))
    assert report.ok and 0.09 <= times[1] - times[0] < 1.0


async def test_429_without_retry_after_uses_backoff(serve, sink):
    handler, times = scripted([429, 429], [api_item("2611.10101", "Backoff Paper")])
    base = await serve(handler)
    report = await fetch_days(sink, [DAY1], config=fast_config(base))
    assert report.ok and report.new == 1 and len(times) == 3
    assert times[-1] - times[0] < 1.0


async def test_read_timeout_then_success(serve, sink):
    count = {"n": 0}

    async def slow_first(request: web.Request) -> web.Response:
        count["n"] += 1
        if count["n"] == 1:
            await asyncio.sleep(1.0)  # past the 0.3 s read timeout
        return web.json_response([api_item("2611.20202", "Slow Paper")])

    base = await serve(slow_first)
    report = await fetch_days(sink, [DAY1], config=fast_config(base))
    assert report.ok and report.new == 1 and count["n"] == 2


async def test_read_timeout_every_try_fails_the_day(serve, sink):
    async def never(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response([])

    base = await serve(never)
    started = time.monotonic()
    report = await fetch_days(sink, [DAY1], config=fast_config(base, retries=1, read_timeout=0.2))
    assert report.failed == [(DAY1, "read timeout after 2 tries")]
    assert time.monotonic() - started < 2.0


@pytest.fixture
def unaccepting_port() -> Iterator[int]:
    """A listening socket whose accept queue is full: the kernel drops new SYNs, so connects hang."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.05)
    yield port
    for sock in [*fillers, server]:
        sock.close()


async def test_connect_timeout_is_retried_then_reported(sink, unaccepting_port):
    started = time.monotonic()
    cfg = fast_config(f"http://127.0.0.1:{unaccepting_port}", connect_timeout=0.2, retries=1)
    report = await fetch_days(sink, [DAY1], config=cfg)
    assert report.failed == [(DAY1, "connect timeout after 2 tries")]
    assert 0.35 <= time.monotonic() - started < 2.0
    assert sink.store.count() == 0


async def test_connection_refused_is_reported(sink):
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    report = await fetch_days(sink, [DAY1], config=fast_config(f"http://127.0.0.1:{port}", retries=2))
    ((day, reason),) = report.failed
    assert day == DAY1 and reason.startswith("cannot connect") and reason.endswith("after 3 tries")
    assert "refused" in reason.lower()
