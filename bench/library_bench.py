"""``paperbot bench``: latency, cold start, build time, memory, scale, ingest, gateway lag.

Figures are printed, never asserted: timing belongs here, not in tests.
"""

from __future__ import annotations

import functools
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from bench.ingest_bench import DEFAULT_CORPUS, bench_import, bench_threads, load_average
from retrieval.encoder.spec import DEFAULT_MODEL

QUESTIONS = [
    "Is there a paper on pruning convolutional filters for medical images?",
    "which optimizer adapts learning rates from moment estimates?",
    "how do transformers learn in context?",
    "can I merge fine-tuned models without retraining?",
    "what limits embedding-based retrieval?",
    "real-time head avatars with gaussian splatting",
    "scaling laws for sparse models",
    "click-through rate prediction with user interest",
    "vector quantization codebook collapse",
    "best recipe for lasagna",
]


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def _time(fn: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def _child(code: str, env: dict[str, str]) -> tuple[float, dict[str, Any]]:
    """Run Python code in a fresh process; (wall seconds, the JSON it printed last)."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    return wall, json.loads(done.stdout.strip().splitlines()[-1])


def bench_cold_start(env: dict[str, str], data_dir: Path, runs: int) -> dict[str, float]:
    """`paperbot ask` in a fresh process on a built index: start to first answer."""
    walls = []
    rss = 0.0
    for _ in range(runs):
        code = "\n".join(
            [
                "import contextlib, io, json, resource, time",
                "t = time.perf_counter()",
                "from bot.cli import main",
                "with contextlib.redirect_stdout(io.StringIO()):",
                f"    main(['--data-dir', {str(data_dir)!r}, 'ask', '--json', {QUESTIONS[0]!r}])",
                "rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss",
                "print(json.dumps({'s': time.perf_counter() - t, 'rss': rss}))",
            ]
        )
        wall, out = _child(code, env)
        walls.append(wall)
        rss = max(rss, out["rss"] / 1024)
    return {"cold_start_s_median": statistics.median(walls), "cold_start_s_max": max(walls), "cold_peak_rss_mb": rss}


def bench_warm(data_dir: Path, repeat: int) -> dict[str, float]:
    """Warm ask latency beside the time to encode the question alone (the floor).

    Asked twice over: with the store's per-term caches warm (a bot that has seen the
    words before), and with them emptied before every question (every word new).
    """
    from retrieval.library import Library

    lib = Library.open(data_dir)
    lib.ask(QUESTIONS[0])
    encode: list[float] = []
    ask: list[float] = []
    ask_new_terms: list[float] = []
    for _ in range(repeat):
        for question in QUESTIONS:
            encode += _time(lambda q=question: lib.embedder.encode_query(q), 1)
            ask += _time(lambda q=question: lib.ask(q, 5), 1)
            lib.store.clear_term_caches()
            ask_new_terms += _time(lambda q=question: lib.ask(q, 5), 1)
    lib.close()
    p50_e, p50_a, p50_n = _pct(encode, 50), _pct(ask, 50), _pct(ask_new_terms, 50)
    return {
        "encode_p50_ms": p50_e,
        "encode_p99_ms": _pct(encode, 99),
        "ask_p50_ms": p50_a,
        "ask_p99_ms": _pct(ask, 99),
        "ask_over_encode_p50": p50_a / p50_e,
        "ask_new_terms_p50_ms": p50_n,
        "ask_new_terms_p99_ms": _pct(ask_new_terms, 99),
        "ask_new_terms_over_encode_p50": p50_n / p50_e,
    }


def synthetic_vectors(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    """Normalized vectors with the low intrinsic dimension of real sentence embeddings."""
    import faiss

    latent = rng.standard_normal((n, 48)).astype(np.float32)
    projection = rng.standard_normal((48, dim)).astype(np.float32)
    data = latent @ projection + 0.3 * rng.standard_normal((n, dim)).astype(np.float32)
    faiss.normalize_L2(data)
    return data


def _search_times(index: Any, queries: np.ndarray) -> list[float]:
    """Milliseconds of each single-query search, as a question would run it."""
    return [_time(functools.partial(index.search, q.reshape(1, -1), 10), 1)[0] for q in queries]


def bench_scale(sizes: list[int], dim: int, queries: int = 200) -> list[dict[str, float]]:
    """Dense search at synthetic sizes: exact (flat) vs HNSW latency and recall@10 at several efSearch."""
    import faiss

    from retrieval.storage.sqlite.index import make_faiss_index

    rng = np.random.default_rng(0)
    rows = []
    for n in sizes:
        data = synthetic_vectors(n, dim, rng)
        qs = data[rng.integers(0, n, queries)] + 0.05 * rng.standard_normal((queries, dim)).astype(np.float32)
        faiss.normalize_L2(qs)
        row: dict[str, float] = {"papers": n}
        started = time.perf_counter()
        flat = make_faiss_index(data, dim, "flat")
        row["flat_build_s"] = time.perf_counter() - started
        row["flat_p50_ms"] = _pct(_search_times(flat, qs), 50)
        exact = flat.search(qs, 10)[1]
        started = time.perf_counter()
        hnsw = make_faiss_index(data, dim, "hnsw")
        row["hnsw_build_s"] = time.perf_counter() - started
        for ef in (64, 128, 256):
            hnsw.hnsw.efSearch = ef
            found = hnsw.search(qs, 10)[1]
            row[f"hnsw_ef{ef}_p50_ms"] = _pct(_search_times(hnsw, qs), 50)
            row[f"hnsw_ef{ef}_recall@10"] = float(
                np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact, found, strict=True)])
            )
        rows.append(row)
    return rows


def bench_lexical_scale(n: int, queries: int = 100) -> dict[str, float]:
    """FTS5 BM25 query latency over ``n`` synthetic abstracts."""
    from retrieval.models import Paper
    from retrieval.storage.sqlite.db import Database
    from retrieval.storage.sqlite.store import SqlitePaperStore
    from retrieval.text import query_terms

    rng = np.random.default_rng(1)
    vocab = [f"w{i}" for i in range(20_000)]
    # Zipf-like word frequencies, like real text.
    weights = 1.0 / np.arange(1, len(vocab) + 1)
    weights /= weights.sum()
    with tempfile.TemporaryDirectory() as tmp:
        store = SqlitePaperStore(Database(Path(tmp) / "lex.sqlite3"))
        words = rng.choice(len(vocab), size=(n, 150), p=weights)
        started = time.perf_counter()
        store.upsert(
            Paper(title=" ".join(vocab[i] for i in w[:10]), abstract=" ".join(vocab[i] for i in w), ext_id=str(k))
            for k, w in enumerate(words)
        )
        insert_s = time.perf_counter() - started
        lat = []
        for _ in range(queries):
            terms = query_terms(" ".join(vocab[i] for i in rng.choice(len(vocab), 8, p=weights)))
            lat += _time(lambda t=terms: store.lexical_search(t, 100), 1)
        store.db.close()
    return {"papers": n, "insert_s": insert_s, "bm25_p50_ms": _pct(lat, 50), "bm25_p99_ms": _pct(lat, 99)}


def run_bench(
    data_dir: Path | None,
    *,
    model: str | None,
    sizes: list[int],
    quick: bool,
    out: TextIO,
    corpus: Path | None = DEFAULT_CORPUS,
) -> dict[str, Any]:
    """Run every benchmark and print the figures (``quick``: fewer repetitions, smaller sizes)."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    if model:
        env["PAPERBOT_MODEL"] = model
    results: dict[str, Any] = {}

    def show(title: str, figures: dict[str, Any]) -> None:
        results[title] = figures
        out.write(f"\n== {title}\n")
        for key, value in figures.items():
            out.write(f"  {key:28s} {value:.3f}\n" if isinstance(value, float) else f"  {key:28s} {value}\n")
        out.flush()

    out.write(f"load average before: {load_average()} (figures are noisy on a shared machine)\n")
    from retrieval.encoder.embedder import load_embedder

    load_embedder(model or os.environ.get("PAPERBOT_MODEL") or DEFAULT_MODEL)  # the ONNX export, once, if missing
    with tempfile.TemporaryDirectory() as tmp:
        built = Path(tmp) / "bundled"
        show("ingest: bundled corpus into a fresh library (fresh process)", bench_import(env, built, "bundled"))
        if corpus is not None and corpus.is_file():
            limit = 300 if quick else 0
            title = f"ingest: {corpus.name}{f' (first {limit})' if limit else ''} into a fresh library (fresh process)"
            show(title, bench_import(env, Path(tmp) / "corpus", str(corpus), limit))
        else:
            out.write(f"\n(corpus ingest skipped: no file {corpus}; pass --corpus)\n")
        show(
            "encoder threads (320 sentences; as is, and with one more busy core)",
            bench_threads(env, 96 if quick else 320, model),
        )
        show("cold start to first answer (fresh process, built index)", bench_cold_start(env, built, 2 if quick else 5))
        show("warm ask vs. question encoding (bundled corpus)", bench_warm(built, 2 if quick else 10))
        try:
            from bench.gateway_bench import bench_concurrent_ask
            from retrieval.library import Library

            lib = Library.open(built)
            import asyncio

            show("50 concurrent /ask through the cog (event-loop lag)", asyncio.run(bench_concurrent_ask(lib, 50)))
            lib.close()
        except ImportError:
            out.write("\n(gateway benchmark unavailable: bench.gateway_bench not installed)\n")
        from bench.feed_bench import bench_ingest
        from retrieval.library import Library

        scratch = Library.open(Path(tmp) / "scratch", seed_default_corpus=False)
        show("feed ingest (one day of 50 papers, fetch to searchable)", bench_ingest(scratch, 50))
        scratch.close()
    dim = 384
    scale_sizes = [1_000, 5_000] if quick else sorted({1_000, 10_000, 50_000, *sizes})
    for row in bench_scale(scale_sizes, dim):
        show(f"dense search at {row['papers']:,} synthetic papers", row)
    show("lexical BM25 at scale", bench_lexical_scale(2_000 if quick else max(sizes)))
    out.write(f"\nload average after: {load_average()}\n")
    out.write(f"\npeak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB\n")
    return results
