"""Fit the coverage (abstention) model: logistic regression over retrieval.query.abstain.FEATURES.

Questions: answerable ones (the dev, hold-out and factoid question sets and the dev claims) against
ones the library cannot answer (near-domain topics, well-known papers it does not hold, chit-chat:
tests/data/*unanswerable*.jsonl). Every question falls in one of three parts by a hash of its text;
the third part (``part == 0``) is never fitted on: its precision / recall is the honest figure. The L2
strength is chosen by 5-fold cross-validation on the two fitted parts (log loss), the threshold so
that at most ``false_share`` of the fitted answerable questions are refused. Written as plain JSON
with a manifest (retrieval/query/abstain_model.json).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from bench.sentence_fit import fit_logistic
from retrieval.library import Library
from retrieval.query.abstain import FEATURES, MODEL_FILE, CoverageModel, abstention_signals
from retrieval.text import clean_question

log = logging.getLogger(__name__)

DATA = Path("tests/data")
ANSWERABLE = ("dev_questions", "holdout_questions", "factoid_questions", "factoid_holdout", "dev_claims")
UNANSWERABLE = ("dev_unanswerable", "holdout_unanswerable", "abstain_unanswerable")
L2_GRID = (0.1, 1.0, 3.0, 10.0, 30.0, 100.0)


def part_of(question: str) -> int:
    """0, 1 or 2, stable across runs and machines: part 0 is held out of every fit."""
    return int(hashlib.sha1(question.encode("utf-8")).hexdigest(), 16) % 3


def _questions(names: tuple[str, ...], data: Path) -> list[tuple[str, str]]:
    out = []
    for name in names:
        path = data / f"{name}.jsonl"
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                out.append((row.get("question") or row["claim"], f"{name}:{row.get('kind', '')}"))
    return out


def features_of(library: Library, questions: list[tuple[str, str]]) -> np.ndarray:
    """The coverage model's features of each question, searched as ``Library.ask`` searches it."""
    return np.array(
        [abstention_signals(library.searcher.search(clean_question(q), 5)) for q, _ in questions], dtype=np.float64
    )


def _fit(x: np.ndarray, y: np.ndarray, l2: float) -> np.ndarray:
    """Logistic regression (Newton steps), L2 on the weights, not the bias (last column of ones)."""
    penalty = np.full(x.shape[1], l2)
    penalty[-1] = 0.0
    return fit_logistic(x, y, penalty)


def _prob(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x @ w, -60, 60)))


def _design(raw: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return np.hstack([(raw - mean) / scale, np.ones((len(raw), 1))])


def _auc(conf: np.ndarray, y: np.ndarray) -> float:
    """Probability that an answerable question is more confident than an unanswerable one."""
    pos, neg = conf[y == 1], conf[y == 0]
    if not len(pos) or not len(neg):
        return 1.0
    return float((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean())


def _figures(conf: np.ndarray, y: np.ndarray, threshold: float) -> dict[str, float]:
    abstain = conf < threshold
    unans = y == 0
    return {
        "auc": round(_auc(conf, y), 3),
        "answerable": int((~unans).sum()),
        "unanswerable": int(unans.sum()),
        "abstained_unanswerable": round(float(abstain[unans].mean()), 3) if unans.any() else 1.0,
        "false_abstentions": round(float(abstain[~unans].mean()), 3) if (~unans).any() else 0.0,
        "abstention_precision": round(float(unans[abstain].mean()), 3) if abstain.any() else 1.0,
    }


# Signal sets compared (each fitted the same way); the one with the lowest cross-validated log loss is kept.
SUBSETS: dict[str, tuple[str, ...]] = {
    "previous 3": ("top_sentence", "top_doc", "top_rrf"),
    "previous 3 + whole paper": ("top_sentence", "top_doc", "top_rrf", "top_whole", "hit_whole"),
    "whole paper + gaps": ("top_sentence", "top_doc", "top_rrf", "top_whole", "hit_whole", "whole_gap", "fused_gap"),
    "all": FEATURES,
}


def _fit_subset(
    raw: np.ndarray, y: np.ndarray, fit: np.ndarray, names: tuple[str, ...], false_share: float
) -> dict[str, Any]:
    """Standardize, choose L2 by 5-fold CV on the fitted parts, fit, and set the threshold at ``false_share``."""
    cols = [FEATURES.index(n) for n in names]
    sub = raw[:, cols]
    mean, scale = sub[fit].mean(axis=0), sub[fit].std(axis=0)
    scale[scale == 0] = 1.0
    x = _design(sub, mean, scale)
    rng = np.random.default_rng(0)
    folds = rng.integers(0, 5, size=len(y))
    cv: dict[float, float] = {}
    for l2 in L2_GRID:
        loss = 0.0
        for k in range(5):
            tr, te = fit & (folds != k), fit & (folds == k)
            p = np.clip(_prob(x[te], _fit(x[tr], y[tr], l2)), 1e-9, 1 - 1e-9)
            loss -= float(np.sum(y[te] * np.log(p) + (1 - y[te]) * np.log(1 - p)))
        cv[l2] = loss / fit.sum()
    l2 = min(cv, key=cv.__getitem__)
    w = _fit(x[fit], y[fit], l2)
    conf = _prob(x, w)
    threshold = float(np.quantile(conf[fit & (y == 1)], false_share))
    return {
        "names": names,
        "l2": l2,
        "cv_log_loss": cv[l2],
        "w": w,
        "mean": mean,
        "scale": scale,
        "conf": conf,
        "threshold": threshold,
    }


def fit_coverage_model(
    library: Library, data: Path = DATA, false_share: float = 0.01, write: Path | None = None
) -> dict[str, Any]:
    """Fit each signal set of :data:`SUBSETS`, keep the best by CV log loss, report the held-out third (and
    per kind) beside the shipped model, and write the kept model to ``write`` when given."""
    pos = _questions(ANSWERABLE, data)
    neg = _questions(UNANSWERABLE, data)
    questions = pos + neg
    raw = features_of(library, questions)
    y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    parts = np.array([part_of(q) for q, _ in questions])
    fit = parts != 0
    held = ~fit
    kinds = np.array([k for _, k in questions])
    fits = {name: _fit_subset(raw, y, fit, names, false_share) for name, names in SUBSETS.items()}
    best_name = min(fits, key=lambda n: fits[n]["cv_log_loss"])
    report: dict[str, Any] = {"kept": best_name, "signal_sets": {}}
    for name, f in fits.items():
        conf, threshold = f["conf"], f["threshold"]
        per_kind = {}
        for kind in sorted(set(kinds[(y == 0)])):
            sel = held & (kinds == kind)
            if sel.any():
                per_kind[kind] = f"{int((conf[sel] < threshold).sum())}/{int(sel.sum())} abstained"
        report["signal_sets"][name] = {
            "l2": f["l2"],
            "cv_log_loss": round(f["cv_log_loss"], 4),
            "threshold": round(threshold, 4),
            "fitted": _figures(conf[fit], y[fit], threshold),
            "held_out_third": _figures(conf[held], y[held], threshold),
            "held_out_unanswerable_by_kind": per_kind,
            "weights": dict(zip(f["names"], (round(float(v), 3) for v in f["w"][:-1]), strict=True)),
        }
    # The shipped model, on the same held-out third (what a new one must beat).
    shipped = CoverageModel.load(MODEL_FILE)
    old = np.array([shipped.confidence(row) for row in raw])
    report["held_out_third_shipped_model"] = _figures(old[held], y[held], shipped.threshold)
    best = fits[best_name]
    claims = held & (kinds == "dev_claims:")
    report["held_out_claims_answered"] = (
        round(float((best["conf"][claims] >= best["threshold"]).mean()), 3) if claims.any() else None
    )
    if write is not None:
        CoverageModel(
            weights=tuple(float(v) for v in best["w"][:-1]),
            bias=float(best["w"][-1]),
            mean=tuple(float(v) for v in best["mean"]),
            scale=tuple(float(v) for v in best["scale"]),
            threshold=best["threshold"],
            features=tuple(best["names"]),
            manifest={
                "fitted_by": "bench/abstain_fit.py (paperbot eval --fit --write)",
                "fitted_on": dt.date.today().isoformat(),
                "model": library.embedder.name,
                "library_papers": library.index.size,
                "answerable_sets": list(ANSWERABLE),
                "unanswerable_sets": list(UNANSWERABLE),
                "held_out": "questions whose sha1(text) % 3 == 0 (never fitted on)",
                "signal_set": best_name,
                "false_abstention_share_on_fitted": false_share,
                "l2": best["l2"],
                "held_out_third": report["signal_sets"][best_name]["held_out_third"],
            },
        ).save(write)
        report["written"] = str(write)
    return report


__all__ = ["MODEL_FILE", "fit_coverage_model", "part_of"]
