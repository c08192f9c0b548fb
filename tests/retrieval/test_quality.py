"""Retrieval and answer quality on the question sets (regression floors; `paperbot eval` prints the figures)."""

from __future__ import annotations

import pytest

from retrieval.evaluate import evaluate
from tests.conftest import DATA

# Measured 2026-11-23 (recall@1, recall@5, mrr, answered, contains, abstention precision, abstention recall):
#   dev:     0.961 0.984 0.971 0.984 0.756 0.905 0.76
#   holdout: 0.829 0.971 0.889 0.971 0.543 0.867 0.52
FLOORS = {
    "dev": {"recall@1": 0.93, "recall@5": 0.97, "mrr": 0.95, "answered_covered": 0.95,
            "answer_contains_sentence": 0.70, "abstention_precision": 0.85, "abstention_recall": 0.65},
    "holdout": {"recall@1": 0.79, "recall@5": 0.94, "mrr": 0.86, "answered_covered": 0.93,
                "answer_contains_sentence": 0.48, "abstention_precision": 0.75, "abstention_recall": 0.40},
}  # fmt: skip


@pytest.mark.parametrize("name", ["dev", "holdout"])
def test_question_set_quality_stays_above_its_floors(library, name):
    report = evaluate(library, DATA / f"{name}_questions.jsonl", DATA / f"{name}_unanswerable.jsonl", top_k=5)
    assert report["answerable"] >= 40 and report["unanswerable"] >= 5
    below = {k: round(report[k], 3) for k, floor in FLOORS[name].items() if report[k] < floor}
    assert not below, f"{name}: below the floor: {below}"


def test_fitting_the_abstention_model_recovers_positive_weights_and_the_answer_share(library):
    from retrieval.evaluate import fit_abstention

    fitted = fit_abstention(library, [DATA / "dev_questions.jsonl"], [DATA / "dev_unanswerable.jsonl"])
    assert fitted["covered"] == 127 and fitted["uncovered"] == 25
    assert all(w > 0 for w in fitted["weights"]) and fitted["bias"] < 0
    assert fitted["answered_covered"] >= 0.98 and fitted["abstained_uncovered"] >= 0.5
    assert 0.0 < fitted["threshold"] < 1.0
