"""The ingest benchmark runs end to end on a few papers and accounts for its time by stage."""

from __future__ import annotations

import os
from pathlib import Path

from bench.ingest_bench import STAGES, bench_import

ROOT = Path(__file__).resolve().parents[2]


def test_the_ingest_bench_imports_into_a_fresh_library_and_splits_its_time_by_stage(tmp_path):
    figures = bench_import(dict(os.environ, PYTHONPATH=str(ROOT)), tmp_path / "lib", "bundled", limit=12)
    assert figures["papers"] == 12 and figures["sentences"] >= 12
    assert all(figures[f"{stage}_s"] >= 0 for stage in STAGES) and figures["encode_s"] > 0
    assert abs(sum(figures[f"{s}_s"] for s in STAGES) + figures["other_s"] - figures["total_s"]) < 1e-6
    assert figures["papers_per_s"] > 0 and figures["peak_rss_mb"] > 0
