"""Retrieval and answer quality on the dev question sets (regression floors; `paperbot eval` prints the figures)."""

from __future__ import annotations

from retrieval.evaluate import evaluate
from tests.conftest import DATA


def test_dev_set_quality_stays_above_its_floors(library):
    report = evaluate(library, DATA / "dev_questions.jsonl", DATA / "dev_unanswerable.jsonl", top_k=5)
    assert report["answerable"] >= 40 and report["unanswerable"] >= 5
    # Measured 2026-11-23: R@1 0.961, R@5 1.0, MRR 0.976, answered 0.992, contains 0.764, abstain P 0.957 R 0.88.
    assert report["recall@1"] >= 0.93
    assert report["recall@5"] >= 0.98
    assert report["mrr"] >= 0.95
    assert report["answered_covered"] >= 0.95
    assert report["answer_contains_sentence"] >= 0.7
    assert report["abstention_recall"] >= 0.8
    assert report["abstention_precision"] >= 0.85
