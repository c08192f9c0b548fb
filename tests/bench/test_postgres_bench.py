"""The PostgreSQL bench: figures for every stage, in a scratch schema that leaves the target database as it was."""

from __future__ import annotations

import io

import psycopg

from bench.postgres_bench import SCHEMA, run_postgres_bench
from retrieval.storage.postgres.storage import PostgresStorage


def test_the_bench_reports_each_stage_and_drops_its_scratch_schema(pg_url, monkeypatch):
    import bench.postgres_bench as pb

    monkeypatch.setattr(pb, "QUERIES", 20)
    PostgresStorage(pg_url).close()  # the target already holds a (empty) paperbot library
    out = io.StringIO()
    results = run_postgres_bench(pg_url, [1500], 1500, out)
    pg = results["postgres + pgvector at 1,500 synthetic papers"]
    for key in ("copy_papers_rows_per_s", "copy_vectors_rows_per_s", "hnsw_build_s", "fused_p50_ms", "db_size_mb"):
        assert pg[key] > 0, key
    assert pg["fused_hits_per_query"] == 10
    assert results["sqlite + faiss at 1,500 synthetic papers"]["fused_p50_ms"] > 0
    assert "copy_papers_rows_per_s" in out.getvalue()
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT to_regnamespace(%s)", (SCHEMA,)).fetchone()[0] is None
        assert conn.execute("SELECT COUNT(*) FROM public.papers").fetchone()[0] == 0
        assert (
            conn.execute("SELECT COUNT(*) FROM pg_extension WHERE extname IN ('vector', 'pg_trgm')").fetchone()[0] == 2
        )
