"""Fitting the sentence model (retrieval.query.sentences.WEIGHTS) on labelled questions.

Each labelled question (``{"question", "title", "answer_sentence"}``) gives its paper's
sentences as examples: the labelled one positive, the others negative. A logistic
regression (NumPy, IRLS, L2) over :func:`retrieval.query.sentences.sentence_features`
is fitted on them; cross-validation by question reports how often the labelled sentence
is the model's best and within its top three, on questions it was not fitted on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.library import Library
from retrieval.query.asks import asked_for
from retrieval.query.sentences import WEIGHTS, idf, sentence_features
from retrieval.text import clean_question, normalize_title, query_terms, strip_framing


@dataclass
class Example:
    """One question's sentences: their features, and the index of the labelled one."""

    features: np.ndarray
    answer: int


def examples(library: Library, paths: list[Path]) -> list[Example]:
    """The sentence-model examples of every labelled question whose paper and sentence are found."""
    out: list[Example] = []
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            ids = library.store.find_exact(normalize_title(item["title"]))
            paper = library.store.get(ids[0]) if ids else None
            if paper is None:
                continue
            topic = strip_framing(clean_question(item["question"]))
            terms = query_terms(topic)
            freqs, total = library.store.doc_freqs(terms)
            term_idf = {t: idf(f, total) for t, f in freqs.items()}
            sentences, cosines = library.searcher.sentence_cosines(library.embedder.encode_query(topic), paper)
            if item["answer_sentence"] not in sentences:
                continue
            rows = sentence_features(sentences, cosines, terms, term_idf, asked_for(topic))
            out.append(Example(np.asarray(rows, dtype=np.float64), sentences.index(item["answer_sentence"])))
    return out


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float | np.ndarray) -> np.ndarray:
    """Weights (no bias: a constant does not change a ranking within one abstract) by IRLS with an L2 penalty.

    ``l2`` may differ by feature (an array): features that fire on few questions need a lighter one.
    """
    w = np.zeros(x.shape[1])
    ridge = np.diag(np.broadcast_to(np.asarray(l2, dtype=np.float64), (x.shape[1],)))
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -60, 60)))  # no overflow on separable data
        hessian = (x * (p * (1 - p))[:, None]).T @ x + ridge
        step = np.linalg.solve(hessian, x.T @ (p - y) + ridge @ w)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def _stack(items: list[Example]) -> tuple[np.ndarray, np.ndarray]:
    x = np.vstack([e.features for e in items])
    y = np.concatenate([np.eye(len(e.features))[e.answer] for e in items])
    return x, y


def ranking_quality(items: list[Example], weights: np.ndarray) -> dict[str, float]:
    """How often the labelled sentence is the model's best, and within its top three."""
    top1 = top3 = 0
    for e in items:
        scores = e.features @ weights
        rank = int((scores > scores[e.answer]).sum())
        top1 += rank == 0
        top3 += rank < 3
    n = len(items) or 1
    return {"top1": top1 / n, "top3": top3 / n}


def fit_sentence_model(
    library: Library, fit: list[Path], held_out: list[Path], l2: float = 0.3, folds: int = 5
) -> dict[str, Any]:
    """Fit on ``fit``; report 5-fold cross-validation there, and the fitted model on ``held_out``."""
    train = examples(library, fit)
    test = examples(library, held_out)
    cv = {"top1": 0.0, "top3": 0.0}
    for fold in range(folds):
        inside = [e for i, e in enumerate(train) if i % folds != fold]
        outside = [e for i, e in enumerate(train) if i % folds == fold]
        got = ranking_quality(outside, fit_logistic(*_stack(inside), l2))
        for key in cv:
            cv[key] += got[key] * len(outside) / len(train)
    weights = fit_logistic(*_stack(train), l2)
    return {
        "weights": [round(float(w), 2) for w in weights],
        "fit_questions": len(train),
        "cross_validated": cv,
        "held_out_questions": len(test),
        "held_out": ranking_quality(test, weights),
        "held_out_current_weights": ranking_quality(test, np.asarray(WEIGHTS)),
    }
