"""The gateway bench drives concurrent /ask through the real cog and library."""

from __future__ import annotations

from bench.gateway_bench import bench_concurrent_ask


async def test_bench_answers_every_invocation_and_reports_loop_lag(library):
    result = await bench_concurrent_ask(library, n=4)
    assert result["concurrent"] == 4 and result["answered"] == 4
    assert result["answers_per_second"] > 0 and result["wall_s"] > 0
    assert 0 <= result["loop_lag_p50_ms"] <= result["loop_lag_p99_ms"]
