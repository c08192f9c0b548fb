"""Quality measurement on question sets: Recall@k, MRR, answer containment, abstention.

Question files are JSONL. Answerable: ``{"question", "title", "answer_sentence"}``
(the expected paper by exact title, and the abstract sentence that answers it).
Unanswerable: ``{"question"}``. Used by ``paperbot eval`` and by the tests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from retrieval.library import Library
from retrieval.text import normalize_title


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
