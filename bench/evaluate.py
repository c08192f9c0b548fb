"""Quality measurement on question sets: Recall@k, MRR, answer containment, abstention.

Question files are JSONL. Answerable: ``{"question", "title", "answer_sentence"}``
(the expected paper by exact title, and the abstract sentence that answers it).
Unanswerable: ``{"question"}``. Used by ``paperbot eval`` and by the tests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.library import Library
from retrieval.query.responder import abstention_signals
from retrieval.text import clean_question, normalize_title


def _read(path: Path | None) -> list[dict[str, Any]]:
    if path is None or not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def evaluate(library: Library, questions: Path | None, unanswerable: Path | None, top_k: int = 5) -> dict[str, Any]:
    """Run every question through ``library.ask`` and compute the quality figures."""
    answerable = _read(questions)
    outside = _read(unanswerable)
    ranks: list[int | None] = []
    contained = answered = 0
    misses: list[dict[str, Any]] = []
    for item in answerable:
        answer = library.ask(item["question"], top_k)
        titles = [normalize_title(s.title) for s in answer.sources]
        want = normalize_title(item["title"])
        rank = titles.index(want) + 1 if want in titles else None
        ranks.append(rank)
        if not answer.abstained:
            answered += 1
        has_sentence = not answer.abstained and item.get("answer_sentence", "\x00") in answer.text
        contained += has_sentence
        if rank != 1 or answer.abstained or not has_sentence:
            misses.append(
                {
                    "question": item["question"],
                    "rank": rank,
                    "abstained": answer.abstained,
                    "confidence": round(answer.confidence, 3),
                    "contains_sentence": has_sentence,
                    "top": answer.sources[0].title if answer.sources else None,
                }
            )
    abstained_outside = 0
    false_answers: list[dict[str, Any]] = []
    for item in outside:
        answer = library.ask(item["question"], top_k)
        if answer.abstained:
            abstained_outside += 1
        else:
            false_answers.append({"question": item["question"], "confidence": round(answer.confidence, 3)})
    n = len(answerable) or 1
    abstained_inside = len(answerable) - answered
    total_abstained = abstained_inside + abstained_outside
    return {
        "answerable": len(answerable),
        "unanswerable": len(outside),
        "recall@1": sum(r == 1 for r in ranks) / n,
        f"recall@{top_k}": sum(r is not None for r in ranks) / n,
        "mrr": sum(1.0 / r for r in ranks if r) / n,
        "answered_covered": answered / n,
        "answer_contains_sentence": contained / n,
        "abstention_precision": abstained_outside / total_abstained if total_abstained else 1.0,
        "abstention_recall": abstained_outside / len(outside) if outside else 1.0,
        "misses": misses,
        "false_answers": false_answers,
    }


def abstention_features(library: Library, question: str) -> list[float]:
    """The responder's abstention signals for a question, cleaned as ``Library.ask`` cleans it."""
    return list(abstention_signals(library.searcher.search(clean_question(question), 5)))


def fit_abstention(
    library: Library, answerable: list[Path], unanswerable: list[Path], answer_share: float = 0.99
) -> dict[str, Any]:
    """Fit the abstention model: logistic regression (NumPy, IRLS, L2 of 1: stronger fits generalized worse to held-out questions) on covered vs. uncovered
    questions, and the threshold that answers ``answer_share`` of the covered ones."""
    pos = [abstention_features(library, x["question"]) for p in answerable for x in _read(p)]
    neg = [abstention_features(library, x["question"]) for p in unanswerable for x in _read(p)]
    x = np.hstack([np.asarray(pos + neg), np.ones((len(pos) + len(neg), 1))])
    y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    w = np.zeros(x.shape[1])
    ridge = np.eye(x.shape[1]) * 1.0
    ridge[-1, -1] = 0.0  # the bias is not penalized
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-x @ w))
        hessian = (x * (p * (1 - p))[:, None]).T @ x + ridge
        w -= np.linalg.solve(hessian, x.T @ (p - y) + ridge @ w)
    confidence = 1.0 / (1.0 + np.exp(-x @ w))
    threshold = float(np.quantile(confidence[: len(pos)], 1.0 - answer_share))
    return {
        "weights": [round(float(v), 2) for v in w[:-1]],
        "bias": round(float(w[-1]), 2),
        "threshold": round(threshold, 3),
        "answered_covered": float(np.mean(confidence[: len(pos)] >= threshold)),
        "abstained_uncovered": float(np.mean(confidence[len(pos) :] < threshold)),
        "covered": len(pos),
        "uncovered": len(neg),
    }


def format_report(report: dict[str, Any]) -> str:
    """The report as readable lines."""
    lines = [f"{report['answerable']} answerable, {report['unanswerable']} unanswerable questions"]
    for key, value in report.items():
        if isinstance(value, float):
            lines.append(f"  {key:26s} {value:.3f}")
    for miss in report["misses"]:
        lines.append(f"  miss: {miss}")
    for wrong in report["false_answers"]:
        lines.append(f"  answered out-of-corpus: {wrong}")
    return "\n".join(lines)
