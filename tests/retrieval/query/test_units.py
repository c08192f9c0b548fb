"""Pure unit tests of the query path: score fusion, sentence scoring, digest picking, abstention rules."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from retrieval.models import Hit, Paper, Reason
from retrieval.query.abstain import (
    PAPER_SAYS_COSINE,
    coverage_confidence,
    is_covered,
    is_empty_question,
    paper_says,
    rank_fusion,
)
from retrieval.query.asks import asked_for
from retrieval.query.digest import TOPIC_FLOOR, build_digest, rank_papers
from retrieval.query.search import SearchResult, Signals, fuse_scores
from retrieval.query.sentences import idf, score_sentences, sentence_features
from retrieval.query.standard import MISSING_Z


def _signals(doc, sent, lex, cover, exact=()) -> Signals:
    n = len(doc)
    return Signals(
        ids=np.arange(1, n + 1, dtype=np.int64),
        doc=np.asarray(doc, dtype=float),
        sent=np.asarray(sent, dtype=float),
        lex=np.asarray(lex, dtype=float),
        cover=np.asarray(cover, dtype=float),
        exact=set(exact),
        topic="q",
        qvec=np.zeros(4, dtype=np.float32),
        terms=["q"],
        term_idf={"q": 1.0},
    )


# -- fusion -------------------------------------------------------------------------------


def test_fusion_ranks_the_paper_ahead_on_every_signal_first():
    sig = _signals([0.2, 0.6, 0.4], [0.3, 0.7, 0.5], [1.0, 5.0, 2.0], [0.2, 1.0, 0.5])
    assert np.argmax(fuse_scores(sig)) == 1


def test_fusion_keeps_how_far_ahead_a_paper_is():
    # Paper 1 is far ahead on the paper cosine; paper 2 barely ahead on the sentence cosine.
    sig = _signals([0.9, 0.3, 0.3, 0.3], [0.50, 0.51, 0.3, 0.3], [1.0, 1.0, 1.0, 1.0], [0.5, 0.5, 0.5, 0.5])
    fused = fuse_scores(sig, (1.0, 1.0, 0.0, 0.0))
    assert fused[0] > fused[1]


def test_a_paper_without_any_question_word_stands_below_on_bm25():
    sig = _signals([0.5, 0.5, 0.5], [0.5, 0.5, 0.5], [0.0, 2.0, 4.0], [0.0, 0.5, 1.0])
    fused = fuse_scores(sig, (0.0, 0.0, 1.0, 0.0))
    assert fused[0] == pytest.approx(MISSING_Z)
    assert fused[2] > fused[1] > fused[0]


def test_exact_title_matches_go_first_whatever_their_scores():
    sig = _signals([0.9, 0.1], [0.9, 0.1], [5.0, 0.0], [1.0, 0.0], exact={2})
    assert np.argmax(fuse_scores(sig)) == 1


def test_equal_candidates_fuse_to_equal_scores_and_a_single_candidate_is_finite():
    sig = _signals([0.4, 0.4], [0.4, 0.4], [1.0, 1.0], [0.5, 0.5])
    fused = fuse_scores(sig)
    assert fused[0] == pytest.approx(fused[1])
    assert np.isfinite(fuse_scores(_signals([0.4], [0.4], [1.0], [0.5]))).all()


def test_rank_fusion_rewards_the_paper_every_retriever_puts_first():
    sig = _signals([0.9, 0.5, 0.1], [0.9, 0.5, 0.1], [3.0, 2.0, 0.0], [1.0, 0.5, 0.0])
    fused = rank_fusion(sig)
    assert fused[0] > fused[1] > fused[2]
    assert rank_fusion(_signals([0.1, 0.9], [0.1, 0.9], [0.0, 1.0], [0.0, 1.0], exact={1}))[0] > 1.0


# -- sentence scoring -----------------------------------------------------------------------


def test_idf_is_higher_for_rarer_words():
    assert idf(1, 1000) > idf(100, 1000) > idf(900, 1000) > 0


def test_the_sentence_closest_to_the_question_scores_highest_other_things_equal():
    sentences = ["Deep nets are popular.", "We prune filters of CNNs.", "Results are good."]
    scores = score_sentences(sentences, [0.2, 0.7, 0.2], ["prune", "filters"], {"prune": 3.0, "filters": 2.0})
    assert max(range(3), key=scores.__getitem__) == 1


def test_a_sentence_holding_the_asked_number_beats_one_without_it():
    sentences = ["We propose a sparse model.", "The model has 7 billion parameters and runs fast."]
    ask = asked_for("how many parameters does the model have?")
    scores = score_sentences(sentences, [0.5, 0.5], ["parameters", "model"], {"parameters": 2.0, "model": 1.0}, ask)
    assert scores[1] > scores[0]


def test_sentence_features_mark_position_cue_and_cosine_gap():
    rows = sentence_features(["Background here.", "We propose X."], [0.3, 0.6], ["x"], {"x": 1.0})
    first, second = rows
    assert first[4] == 1.0 and second[4] == 0.0  # is-first
    assert second[5] == 1.0 and first[5] == 0.0  # contribution cue
    assert first[7] == pytest.approx(-0.3) and second[7] == pytest.approx(0.0)  # cosine minus best
    assert sentence_features([], [], [], {}) == []


# -- digest picking -------------------------------------------------------------------------


def _paper(pid: int, title: str, upvotes: int = 0, published: date | None = None) -> Paper:
    return Paper(id=pid, title=title, abstract="A.", upvotes=upvotes, published=published)


def test_digest_orders_by_upvotes_then_newest_then_title():
    papers = [
        _paper(1, "b", 5, date(2026, 1, 1)),
        _paper(2, "a", 5, date(2026, 1, 1)),
        _paper(3, "c", 5, date(2026, 2, 1)),
        _paper(4, "d", 9),
    ]
    assert [p.id for p in rank_papers(papers)] == [4, 3, 2, 1]


def test_digest_puts_on_topic_papers_first_and_keeps_the_limit():
    papers = [_paper(1, "popular", 100), _paper(2, "on topic", 0), _paper(3, "close", 1)]
    scores = {1: TOPIC_FLOOR - 0.05, 2: 0.6, 3: 0.4}
    assert [p.id for p in rank_papers(papers, scores)] == [2, 3, 1]
    digest = build_digest(date(2026, 1, 1), papers, topics=("x",), topic_scores=scores, limit=2)
    assert [e.paper.id for e in digest.entries] == [2, 3] and digest.total == 3
    assert digest.entries[0].topic_score == 0.6
    assert build_digest(None, [], limit=5).entries == ()
    assert all(e.topic_score is None for e in build_digest(None, papers, topic_scores=scores).entries)


# -- abstention rules -----------------------------------------------------------------------


@pytest.mark.parametrize(("question", "empty"), [("", True), ("  ?! ", True), ("@everyone ...", True), ("GAN?", False)])
def test_the_one_empty_question_check(question, empty):
    assert is_empty_question(question) is empty


def test_coverage_confidence_grows_with_the_signals_the_shipped_model_weighs():
    from retrieval.query.abstain import FEATURES, coverage_model

    base = [0.4, 0.4, 0.1] + [0.5] * (len(FEATURES) - 3)
    for i, weight in enumerate(coverage_model().weights):
        more = list(base)
        more[i] += 0.2
        assert (coverage_confidence(more) > coverage_confidence(base)) == (weight > 0)


def test_no_hits_is_not_covered_and_a_paper_says_by_its_best_sentence():
    assert is_covered(SearchResult("q", [], 10)) == (False, 0.0)
    hit = Hit(paper=_paper(1, "t"), score=1.0)
    assert paper_says(SearchResult("q", [hit], 1, top_sentence=PAPER_SAYS_COSINE + 0.01))
    assert not paper_says(SearchResult("q", [hit], 1, top_sentence=PAPER_SAYS_COSINE - 0.01))


def test_reason_is_a_str_enum_that_compares_and_serializes_as_before():
    assert Reason.NOT_COVERED == "not_covered" and Reason.NONE == ""
    assert f"{Reason.EMPTY}" == "empty"


# -- generic questions of one paper ---------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "facets"),
    [
        ("what do they propose?", ("contribution",)),
        ("what is this paper about?", ("topic",)),
        ("what is the main result?", ("result",)),
        ("summarize it", ("summary",)),
        ("tl;dr?", ("summary",)),
        ("what problem does it address?", ("problem",)),
        ("how do they evaluate it?", ("evaluation",)),
        ("what's new here?", ("novelty",)),
        ("how does it work?", ("method",)),
        ("how many parameters does the model have?", ()),
        ("what is the best recipe for lasagna?", ()),
    ],
)
def test_generic_questions_are_told_from_specific_ones(question, facets):
    from retrieval.query.generic import generic_facets

    assert tuple(generic_facets(question)) == facets


def test_a_summary_quotes_the_contribution_then_the_result_sentence():
    from retrieval.query.generic import Facet, facet_sentences

    sentences = [
        "Large models are costly to serve, a problem for many users.",
        "We propose Foo, a method that prunes heads.",
        "It uses a small router.",
        "Experiments show Foo outperforms baselines by 12% on GLUE.",
    ]
    centrality = [0.5, 0.7, 0.4, 0.6]
    assert facet_sentences(sentences, centrality, [Facet.SUMMARY]) == [1, 3]
    assert facet_sentences(sentences, centrality, [Facet.PROBLEM]) == [0]
    assert facet_sentences(sentences, centrality, [Facet.RESULT]) == [3]
    assert facet_sentences([], [], [Facet.RESULT]) == []
