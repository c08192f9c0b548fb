"""The bot's Prometheus metrics: one registry per process, every series labelled with its shards.

:class:`BotMetrics` owns a private :class:`prometheus_client.CollectorRegistry` (never the global
default one, so a test can run several bots in one process) and the counters and histograms the
cogs record into. What is read rather than counted (gateway latency per shard, the library's
ingest totals) is collected when ``/metrics`` is scraped, by :class:`_LiveCollector`. The library
knows nothing of Prometheus: it exposes plain values (:attr:`retrieval.library.Library.ingest_totals`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from retrieval.models import Answer

if TYPE_CHECKING:
    from retrieval.library import Library

log = logging.getLogger(__name__)

# The seconds an /ask may take, from the interaction to the answer sent (Discord allows 15 minutes
# after the 3 s defer; users notice past a few seconds).
ASK_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)
DB_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
LAG_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
# How often the event loop is asked to wake: its lateness is the lag.
LAG_PROBE_S = 0.25


@dataclass(frozen=True)
class ShardState:
    """One gateway shard as ``/healthz`` and ``/metrics`` see it."""

    shard_id: int
    connected: bool
    latency: float  # seconds between a heartbeat and its ack (NaN or inf: none yet)


def shard_label(shard_ids: tuple[int, ...] | None, shard_count: int | None) -> str:
    """The ``shards`` label of a process: ``"0,1"``, or ``"all"`` when it runs every shard."""
    if shard_ids is not None:
        return ",".join(str(i) for i in shard_ids)
    if shard_count:
        return ",".join(str(i) for i in range(shard_count))
    return "all"


class _LiveCollector(Collector):
    """Values read at scrape time: gateway shards and the library's ingest totals."""

    def __init__(
        self, shards: str, gateway: Callable[[], list[ShardState]], library: Callable[[], Library | None]
    ) -> None:
        self._shards, self._gateway, self._library = shards, gateway, library

    def collect(self) -> Iterator[Metric]:
        """Gauges and counters of the moment (a failing source is skipped and logged, never a 500)."""
        connected = GaugeMetricFamily(
            "paperbot_gateway_connected", "1 when the shard's gateway websocket is open", labels=["shards", "shard"]
        )
        latency = GaugeMetricFamily(
            "paperbot_gateway_latency_seconds", "Heartbeat to ack of the shard's gateway", labels=["shards", "shard"]
        )
        try:
            for state in self._gateway():
                connected.add_metric([self._shards, str(state.shard_id)], 1.0 if state.connected else 0.0)
                if math.isfinite(state.latency):
                    latency.add_metric([self._shards, str(state.shard_id)], state.latency)
        except Exception:
            log.exception("reading the gateway shards for /metrics failed")
        yield connected
        yield latency
        papers = CounterMetricFamily(
            "paperbot_ingest_papers", "Papers written through the ingest path by this process", labels=["shards"]
        )
        seconds = CounterMetricFamily(
            "paperbot_ingest_seconds", "Seconds this process spent ingesting papers", labels=["shards"]
        )
        rate = GaugeMetricFamily(
            "paperbot_ingest_papers_per_second", "Papers/s of the last ingest of this process", labels=["shards"]
        )
        library = self._library()
        if library is not None:
            totals = library.ingest_totals
            papers.add_metric([self._shards], float(totals.papers))
            seconds.add_metric([self._shards], totals.seconds)
            rate.add_metric([self._shards], totals.last_rate)
        yield papers
        yield seconds
        yield rate


class BotMetrics:
    """The counters and histograms of one bot process, in their own registry."""

    def __init__(self, shards: str = "all") -> None:
        self.shards = shards
        self.registry = CollectorRegistry()
        r = self.registry
        self.asks = Counter(
            "paperbot_asks", "Questions answered (outcome: answered, abstained)", ["shards", "outcome"], registry=r
        )
        self.ask_seconds = Histogram(
            "paperbot_ask_seconds",
            "Seconds from an /ask to its answer sent",
            ["shards"],
            buckets=ASK_BUCKETS,
            registry=r,
        )
        self.abstentions = Counter(
            "paperbot_abstentions", "Answers without quotes, by reason", ["shards", "reason"], registry=r
        )
        self.command_errors = Counter(
            "paperbot_command_errors",
            "Commands that failed unexpectedly (a traceback in the log)",
            ["shards", "command"],
            registry=r,
        )
        self.digests = Counter(
            "paperbot_digests",
            "Digest posts by outcome (posted, empty, skipped, failed)",
            ["shards", "status"],
            registry=r,
        )
        self.follow_dms = Counter(
            "paperbot_follow_dms", "Follow DMs by outcome (sent, closed, failed)", ["shards", "status"], registry=r
        )
        self.source_errors = Counter(
            "paperbot_source_errors",
            "Failures of the daily papers feed and of the papers API",
            ["shards", "source"],
            registry=r,
        )
        self.db_seconds = Histogram(
            "paperbot_db_query_seconds",
            "Seconds of the bot's database queries",
            ["shards", "query"],
            buckets=DB_BUCKETS,
            registry=r,
        )
        self.loop_lag = Histogram(
            "paperbot_event_loop_lag_seconds",
            f"How late the event loop wakes for a {LAG_PROBE_S} s timer",
            ["shards"],
            buckets=LAG_BUCKETS,
            registry=r,
        )
        ProcessCollector(registry=r)  # process_resident_memory_bytes, CPU seconds, open fds
        for outcome in ("answered", "abstained"):
            self.asks.labels(shards, outcome)
        self.ask_seconds.labels(shards)
        self.loop_lag.labels(shards)

    def watch(self, gateway: Callable[[], list[ShardState]], library: Callable[[], Library | None]) -> None:
        """Collect the gateway shards and the library's ingest totals at each scrape."""
        self.registry.register(_LiveCollector(self.shards, gateway, library))

    # -- what the cogs record ------------------------------------------------------------

    def asked(self, answer: Answer, seconds: float) -> None:
        """One /ask answered in ``seconds``; an abstention counted by its reason."""
        self.asks.labels(self.shards, "abstained" if answer.abstained else "answered").inc()
        self.ask_seconds.labels(self.shards).observe(seconds)
        if answer.abstained:
            self.abstentions.labels(self.shards, str(answer.reason.value or "none")).inc()

    def command_failed(self, command: str) -> None:
        """A command raised something unexpected."""
        self.command_errors.labels(self.shards, command).inc()

    def digest(self, status: str) -> None:
        """A digest post ended with ``status`` (a :class:`bot.state.PostStatus` value)."""
        self.digests.labels(self.shards, str(status)).inc()

    def follow_dm(self, status: str) -> None:
        """A follow DM ended with ``status`` (a :class:`retrieval.storage.protocol.DmStatus` value)."""
        self.follow_dms.labels(self.shards, str(status)).inc()

    def source_error(self, source: str, count: int = 1) -> None:
        """``count`` failures of ``source`` (``feed`` or ``paper_api``)."""
        if count > 0:
            self.source_errors.labels(self.shards, source).inc(count)

    @contextlib.contextmanager
    def db_query(self, query: str) -> Iterator[None]:
        """Time a database query (blocking code inside, usually on a worker thread)."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.db_seconds.labels(self.shards, query).observe(time.perf_counter() - started)

    async def probe_loop_lag(self, every: float = LAG_PROBE_S) -> None:
        """Forever: sleep ``every`` seconds and record how late the loop woke (run as a task)."""
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await asyncio.sleep(every)
            self.loop_lag.labels(self.shards).observe(max(0.0, loop.time() - started - every))

    def render(self) -> bytes:
        """The Prometheus text exposition of this registry."""
        return generate_latest(self.registry)


def summary(states: Mapping[int, bool]) -> str:
    """``"shard 0 connected, shard 1 disconnected"``: what ``/healthz`` says about the gateway."""
    return ", ".join(f"shard {i} {'connected' if up else 'disconnected'}" for i, up in sorted(states.items()))
