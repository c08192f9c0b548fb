"""Quality measures: nDCG as BEIR computes it, and the ranking report beside plain BM25 and MiniLM."""

from __future__ import annotations

import json
import math

import pytest

from bench.evaluate import evaluate, evaluate_ranking, format_ranking_report, ndcg


def test_ndcg_is_one_for_a_perfect_ranking_and_discounts_lower_ranks():
    assert ndcg(["a", "b", "x"], {"a", "b"}) == 1.0
    assert ndcg(["x", "a"], {"a"}) == pytest.approx(1 / math.log2(3))
    assert ndcg(["x", "y"], {"a"}) == 0.0
    # Only the top k count, and the ideal ranking is capped at k too.
    assert ndcg(["x", "a"], {"a"}, k=1) == 0.0


def test_the_ranking_report_has_each_system_on_all_queries_and_both_halves(small_library, tmp_path):
    queries = tmp_path / "queries.jsonl"
    rows = [
        {"id": "1", "q": "routing tokens to experts", "relevant": ["paper-0"]},
        {"id": "2", "q": "protein folding with attention over residue pairs", "relevant": ["paper-1"]},
        {"id": "3", "q": "self-supervised audio pretraining for speech", "relevant": ["paper-2"]},
        {"id": "4", "q": "four-bit weights for language models", "relevant": ["paper-6"]},
    ]
    queries.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    report = evaluate_ranking(small_library, queries)
    assert report["queries"] == 4 and set(report["systems"]) == {"hybrid", "bm25", "minilm"}
    for splits in report["systems"].values():
        assert set(splits) == {"all", "even", "odd"}
    assert report["systems"]["hybrid"]["all"]["recall@10"] == 1.0
    assert report["systems"]["hybrid"]["all"]["mrr@10"] > 0.7
    assert "hybrid  odd" in format_ranking_report(report)


def test_question_kinds_are_reported_apart(library, tmp_path):
    path = tmp_path / "kinds.jsonl"
    title = "POINTS: Improving Your Vision-language Model with Affordable Strategies"
    rows = [
        {
            "question": "how many parameters does the POINTS vision-language model have?",
            "title": title,
            "answer_sentence": "These innovations resulted in a 9B parameter model that performs competitively with "
            "state-of-the-art models.",
            "kind": "count",
        },
        {
            "question": "how did the POINTS authors filter pre-training data?",
            "title": title,
            "answer_sentence": "A sentence found in no abstract.",
            "kind": "method",
        },
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    report = evaluate(library, path, None)
    assert report["contains_sentence_count"] == 1.0 and report["contains_sentence_method"] == 0.0
    assert report["contains_sentence_factoid"] == 1.0 and report["contains_sentence_other_kinds"] == 0.0
