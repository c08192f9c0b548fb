"""``/healthz``, ``/readyz`` and ``/metrics`` of a running bot, asked over HTTP as a monitor would."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from bench.discord_local.fake_discord import FakeDiscord

METRICS = {"PAPERBOT_METRICS_PORT": "127.0.0.1:0"}


async def address(bot) -> str:
    match = await bot.wait_log(r"health and metrics on (http://127\.0\.0\.1:\d+)")
    return match.group(1)


async def get(url: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        body = await resp.json() if resp.content_type == "application/json" else await resp.text()
        return resp.status, body


async def until(url: str, predicate, timeout: float = 20.0) -> tuple[int, Any]:
    """GET ``url`` until ``predicate(status, body)`` holds; the last answer either way."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        status, body = await get(url)
        if predicate(status, body) or asyncio.get_running_loop().time() > deadline:
            return status, body
        await asyncio.sleep(0.2)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(text: str, name: str, **labels: str) -> float | None:
    for (sample, got), v in samples(text).items():
        if sample == name and all(dict(got).get(k) == want for k, want in labels.items()):
            return v
    return None


async def test_a_running_bot_is_healthy_ready_and_counts_its_asks(discord_server, launch, no_rejections):
    bot = await launch(discord_server, **METRICS)
    base = await address(bot)
    status, health = await until(f"{base}/healthz", lambda s, b: s == 200)
    assert status == 200 and health == {"status": "ok", "shards": {"0": "connected"}}
    status, ready = await until(f"{base}/readyz", lambda s, b: s == 200)
    assert status == 200
    assert ready["checks"] == {"library": "loaded", "model": "loaded", "database": "reachable"}

    guild = discord_server.guild()
    question = [{"name": "question", "type": 3, "value": "how does speculative decoding speed up inference?"}]
    await discord_server.wait_reply(await discord_server.slash(guild, "ask", question))
    off_topic = [{"name": "question", "type": 3, "value": "what is the best recipe for banana bread?"}]
    await discord_server.wait_reply(await discord_server.slash(guild, "ask", off_topic))

    status, text = await until(f"{base}/metrics", lambda s, b: value(b, "paperbot_ask_seconds_count") == 2)
    assert status == 200
    assert value(text, "paperbot_asks_total", outcome="answered", shards="all") == 1
    assert value(text, "paperbot_asks_total", outcome="abstained") == 1
    assert value(text, "paperbot_abstentions_total", reason="not_covered") == 1
    assert value(text, "paperbot_gateway_connected", shard="0") == 1
    assert value(text, "paperbot_db_query_seconds_count", query="ping") >= 1  # the /readyz above
    assert value(text, "process_resident_memory_bytes") > 10_000_000


async def test_a_shard_whose_gateway_dropped_makes_healthz_say_so(launch):
    server = FakeDiscord(shard_count=2)
    for shard in (0, 1):
        server.add_guild(f"Server {shard}", shard=shard)
    await server.start()
    try:
        bot = await launch(server, PAPERBOT_SHARD_COUNT="2", **METRICS)
        base = await address(bot)
        both = {"0": "connected", "1": "connected"}
        status, health = await until(f"{base}/healthz", lambda s, b: s == 200 and b["shards"] == both)
        assert status == 200, health

        server.refuse_gateway = True  # Discord's gateway is down for whoever reconnects
        await server.drop_gateway(shard_id=1)
        status, health = await until(f"{base}/healthz", lambda s, b: s == 503)
        assert status == 503
        assert health["shards"] == {"0": "connected", "1": "disconnected"}
        assert health["down"] == "shard 1 disconnected"
        _, text = await get(f"{base}/metrics")
        assert value(text, "paperbot_gateway_connected", shard="1", shards="0,1") == 0
        assert value(text, "paperbot_gateway_connected", shard="0") == 1
        status, _ = await get(f"{base}/readyz")
        assert status == 200  # the library is fine: ready, but not healthy

        server.refuse_gateway = False
        status, health = await until(f"{base}/healthz", lambda s, b: s == 200, timeout=40)
        assert status == 200 and health["shards"] == both
    finally:
        await server.close()


async def test_a_metrics_port_in_use_stops_the_bot_with_one_line(discord_server, launch):
    blocker = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = blocker.sockets[0].getsockname()[1]
    try:
        bot = await launch(discord_server, ready=False, PAPERBOT_METRICS_PORT=f"127.0.0.1:{port}")
        assert await bot.wait_exit() == 2
        assert f"cannot serve metrics on 127.0.0.1:{port}" in bot.log and "Traceback" not in bot.log
    finally:
        blocker.close()
