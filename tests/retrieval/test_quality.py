"""Retrieval and answer quality on the dev question sets (regression floors; `paperbot eval` prints the figures)."""

from __future__ import annotations

from retrieval.evaluate import evaluate
from tests.conftest import DATA


def test_dev_set_quality_stays_above_its_floors(library):
    report = evaluate(library, DATA / "dev_questions.jsonl", DATA / "dev_unanswerable.jsonl", top_k=5)
    assert report["answerable"] >= 40 and report["unanswerable"] >= 5
    # Measured 2026-11-23: R@1 0.921, R@5 0.992, MRR 0.952, answered 0.992, contains 0.724, abstain P 0.958 R 0.92.
    assert report["recall@1"] >= 0.89
    assert report["recall@5"] >= 0.97
    assert report["mrr"] >= 0.92
    assert report["answered_covered"] >= 0.95
    assert report["answer_contains_sentence"] >= 0.65
    assert report["abstention_recall"] >= 0.8
    assert report["abstention_precision"] >= 0.85
