"""``paperbot bench --workers``: import papers/s with the encoder in this process and in 1 and 2 worker processes.

Each run imports the same papers into a fresh library (SQLite, the ONNX export cached) in a fresh
child process, the same way ``paperbot index --workers N`` does; the pool's start (spawning the
workers, loading the model in each) is timed apart from the import, which counts parsing,
planning, splitting, tokenizing, encoding, storing and indexing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, TextIO

from bench.ingest_bench import load_average

_CHILD = """
import json, sys, time
from pathlib import Path
from retrieval.library import Library
from retrieval.encoder.pool import EncoderPool
from retrieval.sources.pages import DEFAULT_PAGES_DIR, parse_pages_dir
from retrieval.sources.jsonl import read_jsonl
source, workers = sys.argv[2], int(sys.argv[3])
papers = parse_pages_dir(DEFAULT_PAGES_DIR) if source == "bundled" else read_jsonl(Path(source)).papers
limit = int(sys.argv[4])
papers = papers[:limit] if limit else papers
lib = Library.open(Path(sys.argv[1]), seed_default_corpus=False)
started = time.perf_counter()
pool = EncoderPool(lib.embedder.name, workers=workers) if workers else None
ready = time.perf_counter()
report = lib.add_papers(papers, progress=False, pool=pool)
done = time.perf_counter()
if pool is not None:
    pool.close()
print(json.dumps({"start_s": ready - started, "import_s": done - ready, "papers": len(papers),
                  "sentences": report.sentences, "threads": pool.threads if pool else lib.embedder.threads}))
"""

# (label, workers: 0 = the encoder in the importing process)
RUNS = (("in process", 0), ("1 worker", 1), ("2 workers", 2))


def _run(env: dict[str, str], data_dir: Path, source: str, workers: int, limit: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(data_dir), source, str(workers), str(limit)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_workers(source: str = "bundled", *, rounds: int = 2, limit: int = 0, out: TextIO) -> dict[str, Any]:
    """Papers/s per setting (best of ``rounds``, interleaved so load changes hit every setting alike)."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    best: dict[str, dict[str, Any]] = {}
    out.write(f"load average before: {load_average()} (other processes share these cores: figures are noisy)\n")
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(rounds):
            for label, workers in RUNS:
                got = _run(env, Path(tmp) / f"{label}-{round_}".replace(" ", "_"), source, workers, limit)
                got["papers_per_s"] = got["papers"] / got["import_s"]
                out.write(
                    f"  round {round_ + 1} {label:11s} {got['papers_per_s']:6.1f} papers/s "
                    f"({got['papers']} papers, {got['sentences']} sentences, import {got['import_s']:.1f} s, "
                    f"pool start {got['start_s']:.1f} s, {got['threads']} thread(s) each)\n"
                )
                out.flush()
                if label not in best or got["papers_per_s"] > best[label]["papers_per_s"]:
                    best[label] = got
    base = best["1 worker"]["papers_per_s"]
    results: dict[str, Any] = {label: round(best[label]["papers_per_s"], 1) for label, _ in RUNS}
    results["2 workers / 1 worker"] = round(best["2 workers"]["papers_per_s"] / base, 2)
    results["2 workers / in process"] = round(best["2 workers"]["papers_per_s"] / best["in process"]["papers_per_s"], 2)
    out.write(f"best of {rounds} (papers/s): {json.dumps(results)}\n")
    out.write(f"load average after: {load_average()}\n")
    return results
