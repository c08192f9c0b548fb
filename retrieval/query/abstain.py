"""Whether to answer at all: every abstention decision of the query path, in one place.

- an empty question (nothing to search for): :func:`is_empty_question`;
- a question the library does not cover: the coverage model (:func:`abstention_signals`,
  :func:`coverage_confidence`, :func:`is_covered`);
- a question asked of one paper whose abstract does not say: :func:`paper_says`.

The reason an answer carries is a :class:`Reason` (str-valued, so ``reason == "not_covered"``
and JSON output read as before); it lives in :mod:`retrieval.models` beside :class:`Answer`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from retrieval.models import Reason
from retrieval.text import clean_question, has_content

__all__ = [
    "PAPER_SAYS_COSINE",
    "Reason",
    "abstention_signals",
    "coverage_confidence",
    "is_covered",
    "is_empty_question",
    "paper_says",
    "rank_fusion",
]

if TYPE_CHECKING:
    from retrieval.query.search import SearchResult, Signals


def is_empty_question(question: str) -> bool:
    """True when a question (raw or cleaned) has nothing to search for: no letter or digit once cleaned."""
    return not has_content(clean_question(question))


# -- coverage: does the library answer the question at all? ---------------------------------

# Reciprocal-rank fusion of the four ranking signals, used only as an abstention signal: the top
# paper's RRF score is high when every retriever puts it first. Fitted with these weights.
RRF_K = 10.0
RRF_WEIGHTS = (2.0, 1.0, 2.0, 1.0)

# Abstention: a logistic model over three measured signals of how well the library
# matches the question: the best sentence cosine and the best paper cosine among all
# candidates, and the top paper's reciprocal-rank fusion score. Fitted on tests/data (dev
# questions and half the hold-out questions against out-of-library questions) by `paperbot
# eval --fit`; the threshold answers 99% of the fitting set's covered questions. Word overlap
# is left out on purpose: it made the model refuse questions that paraphrase their paper.
ABSTAIN_WEIGHTS = (3.42, 3.3, 1.78)
ABSTAIN_BIAS = -2.97
ABSTAIN_THRESHOLD = 0.671


def _ranks(scores: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """1-based rank of each score (higher first); invalid entries get +inf."""
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty(len(scores), dtype=np.float64)
    ranks[order] = np.arange(1, len(scores) + 1)
    if valid is not None:
        ranks[~valid] = np.inf
    return ranks


def rank_fusion(sig: Signals, weights: tuple[float, float, float, float] = RRF_WEIGHTS) -> np.ndarray:
    """Weighted reciprocal-rank fusion of the candidates' signals; exact title / id matches on top."""
    w_doc, w_sent, w_lex, w_cover = weights
    fused = (
        w_doc / (RRF_K + _ranks(sig.doc))
        + w_sent / (RRF_K + _ranks(sig.sent))
        + w_lex / (RRF_K + _ranks(sig.lex, sig.lex > 0))
        + w_cover / (RRF_K + _ranks(sig.cover, sig.cover > 0))
    )
    return fused + np.array([1.0 if i in sig.exact else 0.0 for i in sig.ids.tolist()])


def abstention_signals(result: SearchResult) -> tuple[float, float, float]:
    """What the coverage model reads: best sentence cosine, best paper cosine, the top paper's rank-fusion score."""
    if not result.hits or result.signals is None or not len(result.signals.ids):
        return result.top_sentence, result.top_doc, 0.0
    top_id = result.hits[0].paper.id
    where = np.flatnonzero(result.signals.ids == top_id)
    top_fused = float(rank_fusion(result.signals)[where[0]]) if len(where) else 0.0
    return result.top_sentence, result.top_doc, top_fused


def coverage_confidence(top_sentence: float, top_doc: float, top_fused: float) -> float:
    """Probability-like confidence that the library covers the question."""
    w_sent, w_doc, w_fused = ABSTAIN_WEIGHTS
    z = w_sent * top_sentence + w_doc * top_doc + w_fused * top_fused + ABSTAIN_BIAS
    return 1.0 / (1.0 + math.exp(-z))


def is_covered(result: SearchResult) -> tuple[bool, float]:
    """Whether the library answers the question of ``result``, and the model's confidence."""
    if not result.hits:
        return False, 0.0
    confidence = coverage_confidence(*abstention_signals(result))
    return confidence >= ABSTAIN_THRESHOLD, confidence


# -- asking one paper: does its abstract say? ------------------------------------------------

# It "does not say" when its best sentence is this far from the question (cosine). Set on dev
# questions asked of their own paper (answered) against the same questions asked of another paper
# (should not be); see bench/evaluate.py.
PAPER_SAYS_COSINE = 0.35


def paper_says(result: SearchResult) -> bool:
    """Whether the one paper of ``result`` answers its question.

    A generic question ("what do they propose?", "main result?") always: every abstract says what it
    proposes and finds (retrieval.query.generic). A specific one when a sentence is close enough to it.
    Measured (bench/evaluate.py evaluate_own_vs_other_paper): every dev and factoid question asked of its own
    paper is answered; of the same questions asked of another paper 73% (dev) and 79% (factoid) are not.
    """
    return bool(result.facets) or result.top_sentence >= PAPER_SAYS_COSINE
