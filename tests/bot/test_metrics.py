"""The Prometheus exposition of :class:`bot.metrics.BotMetrics`: valid text, the expected families, one registry each."""

from __future__ import annotations

import math

from prometheus_client.parser import text_string_to_metric_families

from bot.metrics import BotMetrics, ShardState, shard_label, summary
from retrieval.models import Answer, Reason

FAMILIES = {
    "paperbot_asks": "counter",
    "paperbot_ask_seconds": "histogram",
    "paperbot_abstentions": "counter",
    "paperbot_command_errors": "counter",
    "paperbot_digests": "counter",
    "paperbot_follow_dms": "counter",
    "paperbot_source_errors": "counter",
    "paperbot_db_query_seconds": "histogram",
    "paperbot_event_loop_lag_seconds": "histogram",
    "paperbot_gateway_connected": "gauge",
    "paperbot_gateway_latency_seconds": "gauge",
    "paperbot_ingest_papers": "counter",
    "paperbot_ingest_seconds": "counter",
    "paperbot_ingest_papers_per_second": "gauge",
    "process_resident_memory_bytes": "gauge",
}


def answer(abstained: bool, reason: Reason = Reason.NONE) -> Answer:
    return Answer("q", "text", abstained, (), reason=reason)


def families(metrics: BotMetrics) -> dict[str, object]:
    return {f.name: f for f in text_string_to_metric_families(metrics.render().decode())}


def test_the_exposition_parses_and_holds_every_family_labelled_with_the_shards(library):
    metrics = BotMetrics(shard_label((2, 3), 4))
    metrics.watch(lambda: [ShardState(2, True, 0.042), ShardState(3, False, math.inf)], lambda: library)
    metrics.asked(answer(False), 0.31)
    metrics.asked(answer(True, Reason.NOT_COVERED), 0.12)
    metrics.digest("posted")
    metrics.follow_dm("failed")
    metrics.source_error("feed", 2)
    metrics.source_error("paper_api", 0)  # nothing failed: no sample
    metrics.command_failed("ask")
    with metrics.db_query("digests_due"):
        pass
    library.ingest_totals.add(0, 0.0)

    found = families(metrics)
    assert {name: found[name].type for name in FAMILIES} == FAMILIES
    by_name = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in found.values() for s in f.samples}
    assert by_name[("paperbot_asks_total", (("outcome", "answered"), ("shards", "2,3")))] == 1
    assert by_name[("paperbot_abstentions_total", (("reason", "not_covered"), ("shards", "2,3")))] == 1
    assert by_name[("paperbot_ask_seconds_count", (("shards", "2,3"),))] == 2
    assert by_name[("paperbot_ask_seconds_bucket", (("le", "0.25"), ("shards", "2,3")))] == 1
    assert by_name[("paperbot_source_errors_total", (("shards", "2,3"), ("source", "feed")))] == 2
    assert by_name[("paperbot_gateway_connected", (("shard", "3"), ("shards", "2,3")))] == 0
    assert by_name[("paperbot_gateway_latency_seconds", (("shard", "2"), ("shards", "2,3")))] == 0.042
    # No latency yet (inf) is left out rather than exported as +Inf.
    assert ("paperbot_gateway_latency_seconds", (("shard", "3"), ("shards", "2,3"))) not in by_name
    assert ("paperbot_source_errors_total", (("shards", "2,3"), ("source", "paper_api"))) not in by_name
    for family in found.values():
        for sample in family.samples:
            if sample.name.startswith("paperbot_"):
                assert sample.labels["shards"] == "2,3", sample


def test_two_bots_in_one_process_have_their_own_registries():
    first, second = BotMetrics("0"), BotMetrics("1")
    first.asked(answer(False), 0.5)
    assert families(first)["paperbot_asks"].samples[0].labels["shards"] == "0"
    counts = {
        s.labels["outcome"]: s.value for s in families(second)["paperbot_asks"].samples if s.name.endswith("_total")
    }
    assert counts == {"answered": 0, "abstained": 0}


def test_a_failing_gateway_reader_does_not_break_the_scrape(caplog):
    metrics = BotMetrics()

    def broken() -> list[ShardState]:
        raise RuntimeError("no shards")

    metrics.watch(broken, lambda: None)
    found = families(metrics)
    assert found["paperbot_gateway_connected"].samples == []
    assert "reading the gateway shards for /metrics failed" in caplog.text


async def test_event_loop_lag_is_observed():
    import asyncio

    metrics = BotMetrics()
    probe = asyncio.create_task(metrics.probe_loop_lag(every=0.01))
    await asyncio.sleep(0.1)
    probe.cancel()
    [count] = [
        s.value for s in families(metrics)["paperbot_event_loop_lag_seconds"].samples if s.name.endswith("_count")
    ]
    assert count >= 3


def test_labels_and_health_summary():
    assert shard_label(None, None) == "all"
    assert shard_label(None, 3) == "0,1,2"
    assert shard_label((1,), 3) == "1"
    assert summary({1: False, 0: True}) == "shard 0 connected, shard 1 disconnected"
