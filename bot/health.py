"""``/healthz``, ``/readyz`` and ``/metrics`` over HTTP, served from the bot's own event loop.

Started by the bot when ``PAPERBOT_METRICS_PORT`` is set (``port`` or ``host:port``; ``0`` picks a
free port, logged). ``/healthz``: the process is up and every gateway shard it runs is connected
(503 naming the shards that are not). ``/readyz``: the library is loaded with its model and its
database answers (503 naming what is not). ``/metrics``: :class:`bot.metrics.BotMetrics` in the
Prometheus text format. Answers are JSON except ``/metrics``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import discord
from aiohttp import web
from discord import AutoShardedClient
from prometheus_client import CONTENT_TYPE_LATEST

from bot.metrics import BotMetrics, ShardState, summary

log = logging.getLogger(__name__)

# A database that does not answer a one-row query within this is not reachable for our purposes.
PING_TIMEOUT_S = 3.0


def gateway_states(bot: discord.Client) -> list[ShardState]:
    """Each shard this process should run, whether its gateway websocket is open, and its latency."""
    if isinstance(bot, AutoShardedClient):
        running = bot.shards
        expected = bot.shard_ids if bot.shard_ids is not None else range(bot.shard_count or 0)
        states = []
        for shard_id in expected:
            info = running.get(shard_id)
            up = info is not None and not info.is_closed()
            states.append(ShardState(shard_id, up, info.latency if info is not None else float("nan")))
        return states
    ws = bot.ws
    up = ws is not None and ws.open and not bot.is_closed()
    return [ShardState(bot.shard_id or 0, up, ws.latency if ws is not None else float("nan"))]


def _json(body: dict[str, Any], ok: bool) -> web.Response:
    return web.json_response(body, status=200 if ok else 503)


class HealthServer:
    """The HTTP endpoints of one bot process (``bot``: a :class:`bot.app.PaperBot`, with its library and metrics)."""

    def __init__(self, bot: discord.Client, metrics: BotMetrics, host: str, port: int) -> None:
        self.bot, self.metrics, self.host, self.port = bot, metrics, host, port
        self._runner: web.AppRunner | None = None

    async def start(self) -> int:
        """Listen; returns the port (the one picked when asked for 0)."""
        app = web.Application()
        app.router.add_get("/healthz", self.get_healthz)
        app.router.add_get("/readyz", self.get_readyz)
        app.router.add_get("/metrics", self.get_metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        sockets = site._server.sockets if site._server is not None else []  # type: ignore[union-attr]
        if sockets:
            self.port = sockets[0].getsockname()[1]
        log.info("health and metrics on http://%s:%d (/healthz, /readyz, /metrics)", self.host, self.port)
        return self.port

    async def close(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def get_healthz(self, request: web.Request) -> web.Response:
        """200 when every shard's gateway is connected; 503 naming those that are not."""
        states = gateway_states(self.bot)
        shards = {s.shard_id: s.connected for s in states}
        ok = bool(states) and all(shards.values()) and not self.bot.is_closed()
        body: dict[str, Any] = {
            "status": "ok" if ok else "down",
            "shards": {str(i): "connected" if up else "disconnected" for i, up in sorted(shards.items())},
        }
        if not ok:
            body["down"] = summary({i: up for i, up in shards.items() if not up}) or "no gateway shard started yet"
        return _json(body, ok)

    async def get_readyz(self, request: web.Request) -> web.Response:
        """200 when the library, its model and its database are there; 503 naming what is not."""
        checks: dict[str, str] = {}
        library = getattr(self.bot, "library", None)  # None until the bot's setup_hook has opened it
        checks["library"] = "loaded" if library is not None else "loading"
        checks["model"] = "loaded" if library is not None and library.embedder is not None else "not loaded"
        if library is None:
            checks["database"] = "not opened"
        else:
            try:
                with self.metrics.db_query("ping"):
                    await asyncio.wait_for(asyncio.to_thread(library.ping), PING_TIMEOUT_S)
                checks["database"] = "reachable"
            except TimeoutError:
                checks["database"] = f"no answer within {PING_TIMEOUT_S:g} s"
            except Exception as exc:
                checks["database"] = f"unreachable ({type(exc).__name__}: {str(exc)[:200]})"
        ok = checks == {"library": "loaded", "model": "loaded", "database": "reachable"}
        return _json({"status": "ready" if ok else "not ready", "checks": checks}, ok)

    async def get_metrics(self, request: web.Request) -> web.Response:
        """The Prometheus text exposition."""
        body = self.metrics.render()  # milliseconds; on the loop, where the gateway state lives
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
