"""Fit the learned ranker (retrieval/query/ranker.py): a listwise softmax over the fused top candidates.

Two steps, so the two libraries need not be open at once:

- ``paperbot [--data-dir D] eval --ranker-features OUT.npz [--ranking QUERIES.jsonl]``: each question's
  fused top :data:`RERANK` candidates with their :data:`RANK_FEATURES` and whether each is relevant;
  without ``--ranking``, the bundled answerable question sets (tests/data, by title). Plain arrays
  (``np.savez``, loaded with ``allow_pickle=False``).
- ``paperbot eval --fit-ranker A.npz B.npz [--write]``: fit on the *fitting* questions (SciFact: even
  ids; bundled sets: ``sha1(question) % 3 != 0``), L2 chosen by 5-fold CV on them, and report Recall@1
  and MRR of the fused order against the model's on the held-out questions (SciFact odd ids, the bundled
  held-out third), per source.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np

from bench.abstain_fit import part_of
from bench.evaluate import _parity
from retrieval.library import Library
from retrieval.query.ranker import MODEL_FILE, RANK_FEATURES, RERANK, LearnedRanker, candidate_features
from retrieval.query.search import fuse_scores
from retrieval.text import clean_question, normalize_title

BUNDLED = ("dev_questions", "holdout_questions", "factoid_questions", "factoid_holdout")
L2_GRID = (0.0001, 0.001, 0.01, 0.1)


def _items(ranking: Path | None, data: Path) -> list[tuple[str, set[str], str, bool]]:
    """(question, relevant keys, source, held out) of every question; keys are ext ids or normalized titles."""
    out = []
    if ranking is not None:
        for line in ranking.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                out.append((row["q"], {str(x) for x in row["relevant"]}, ranking.stem, _parity(row["id"]) == 1))
        return out
    for name in BUNDLED:
        for line in (data / f"{name}.jsonl").read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                out.append((row["question"], {normalize_title(row["title"])}, name, part_of(row["question"]) == 0))
    return out


def collect_features(library: Library, out: Path, ranking: Path | None = None, data: Path = Path("tests/data")) -> int:
    """Write each question's fused-top candidates' features and labels to ``out`` (.npz); questions written."""
    xs, ys, qid, sources, held = [], [], [], [], []
    for n, (question, relevant, source, is_held) in enumerate(_items(ranking, data)):
        sig = library.searcher.signals(clean_question(question))
        if not len(sig.ids):
            continue
        fused = fuse_scores(sig, library.searcher.weights)
        top = np.argsort(-fused, kind="stable")[:RERANK]
        papers = library.store.get_many([int(sig.ids[j]) for j in top])
        titles = {i: p.title for i, p in papers.items()}
        keys = [
            (p.ext_id if ranking is not None else normalize_title(p.title))
            if (p := papers.get(int(sig.ids[j])))
            else ""
            for j in top
        ]
        xs.append(candidate_features(sig, fused, top, titles))
        ys.append(np.array([k in relevant for k in keys], dtype=np.float64))
        qid.append(np.full(len(top), n))
        sources.append(source)
        held.append(is_held)
    np.savez(
        out,
        x=np.concatenate(xs),
        y=np.concatenate(ys),
        qid=np.concatenate(qid),
        source=np.array(sources),
        held=np.array(held),
    )
    return len(sources)


def _load(paths: list[Path]) -> tuple[list[np.ndarray], list[np.ndarray], list[str], np.ndarray]:
    """Per-question feature matrices and labels, their source, and which are held out."""
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    sources: list[str] = []
    held: list[bool] = []
    for path in paths:
        with np.load(path, allow_pickle=False) as data:
            x, y, qid = data["x"], data["y"], data["qid"]
            starts = np.flatnonzero(np.r_[True, qid[1:] != qid[:-1]])
            ends = np.r_[starts[1:], len(qid)]
            for q, (a, b) in enumerate(zip(starts, ends, strict=True)):
                xs.append(x[a:b])
                ys.append(y[a:b])
                sources.append(str(data["source"][q]))
                held.append(bool(data["held"][q]))
    return xs, ys, sources, np.array(held)


def _train(xs: list[np.ndarray], ys: list[np.ndarray], l2: float, steps: int = 300) -> np.ndarray:
    """Weights maximizing the mean log softmax probability of the relevant candidates (gradient ascent, L2)."""
    w = np.zeros(xs[0].shape[1])
    usable = [(x, y / y.sum()) for x, y in zip(xs, ys, strict=True) if y.sum() > 0]
    lr = 0.5 / (1.0 + l2)
    for _ in range(steps):
        grad = -l2 * w
        for x, target in usable:
            s = x @ w
            p = np.exp(s - s.max())
            p /= p.sum()
            grad += x.T @ (target - p) / len(usable)
        w += lr * grad
    return w


def _figures(xs: list[np.ndarray], ys: list[np.ndarray], w: np.ndarray | None) -> dict[str, float]:
    """Recall@1 and MRR (within the reranked top) of the fused order (``w`` None) or the model's."""
    r1 = mrr = 0.0
    for x, y in zip(xs, ys, strict=True):
        order = np.arange(len(y)) if w is None else np.argsort(-(x @ w), kind="stable")
        hits = np.flatnonzero(y[order] > 0)
        if len(hits):
            r1 += hits[0] == 0
            mrr += 1.0 / (hits[0] + 1)
    n = max(len(xs), 1)
    return {"recall@1": round(r1 / n, 3), "mrr": round(mrr / n, 3), "questions": len(xs)}


def fit_ranker(paths: list[Path], write: Path | None = None) -> dict[str, Any]:
    """Fit on the fitting questions of every file, report held-out figures per source; write when asked."""
    xs, ys, sources, held = _load(paths)
    fit = ~held
    raw = np.concatenate([x for x, f in zip(xs, fit, strict=True) if f])
    mean, scale = raw.mean(axis=0), raw.std(axis=0)
    scale[scale == 0] = 1.0
    zs = [(x - mean) / scale for x in xs]
    fit_idx = np.flatnonzero(fit)
    folds = np.random.default_rng(0).integers(0, 5, size=len(fit_idx))
    cv = {}
    for l2 in L2_GRID:
        total = 0.0
        for k in range(5):
            tr, te = fit_idx[folds != k], fit_idx[folds == k]
            w = _train([zs[i] for i in tr], [ys[i] for i in tr], l2, steps=150)
            total += _figures([zs[i] for i in te], [ys[i] for i in te], w)["mrr"] * len(te)
        cv[l2] = total / len(fit_idx)
    l2 = max(cv, key=cv.__getitem__)
    w = _train([zs[i] for i in fit_idx], [ys[i] for i in fit_idx], l2)
    report: dict[str, Any] = {"l2": l2, "cv_mrr": {str(k): round(v, 4) for k, v in cv.items()}}
    for name, sel in (("held_out", held), ("fitted_on", fit)):
        report[name] = {}
        for source in sorted(set(sources)):
            idx = [i for i in range(len(xs)) if sources[i] == source and sel[i]]
            report[name][source] = {
                "fused": _figures([zs[i] for i in idx], [ys[i] for i in idx], None),
                "learned": _figures([zs[i] for i in idx], [ys[i] for i in idx], w),
            }
    report["weights"] = dict(zip(RANK_FEATURES, (round(float(v), 3) for v in w), strict=True))
    if write is not None:
        LearnedRanker(
            weights=tuple(float(v) for v in w),
            mean=tuple(float(v) for v in mean),
            scale=tuple(float(v) for v in scale),
            manifest={
                "fitted_by": "bench/ranker_fit.py (paperbot eval --fit-ranker --write)",
                "fitted_on": dt.date.today().isoformat(),
                "feature_files": [p.name for p in paths],
                "fitted": "SciFact train claims with even ids; bundled questions with sha1(question) % 3 != 0",
                "l2": l2,
                "held_out": report["held_out"],
            },
        ).save(write)
        report["written"] = str(write)
    return report


__all__ = ["MODEL_FILE", "collect_features", "fit_ranker"]
