"""Whether to answer at all: every abstention decision of the query path, in one place.

- an empty question (nothing to search for): :func:`is_empty_question`;
- a question the library does not cover: the coverage model (:func:`abstention_signals`,
  :func:`coverage_confidence`, :func:`is_covered`);
- a question asked of one paper whose abstract does not say: :func:`paper_says`.

The reason an answer carries is a :class:`Reason` (str-valued, so ``reason == "not_covered"``
and JSON output read as before); it lives in :mod:`retrieval.models` beside :class:`Answer`.
"""

from __future__ import annotations

import functools
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from retrieval.models import Reason
from retrieval.text import clean_question, has_content, term_set

__all__ = [
    "FEATURES",
    "PAPER_SAYS_COSINE",
    "CoverageModel",
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

# The coverage model: a logistic regression over the signals of :data:`FEATURES`, standardized,
# with its threshold, read from abstain_model.json (plain JSON with a manifest of what fitted it:
# bench/abstain_fit.py, `paperbot eval --fit`). No pickles.
MODEL_FILE = Path(__file__).with_name("abstain_model.json")
FEATURES = (
    "top_sentence",  # best sentence cosine among all candidates
    "top_doc",  # best paper cosine among all candidates
    "top_rrf",  # the top paper's reciprocal-rank fusion score (every retriever puts it first)
    "fused_gap",  # how far the first paper stands above the second (fused standard scores, capped)
    "doc_gap",  # the first paper's cosine above the candidates' median
    "known_terms",  # share of the question's words the library holds at all
    "rare_known",  # IDF-weighted share of the question's words the library holds
    "top_cover",  # IDF-weighted share of the question's words the top paper holds
    "title_match",  # share of the question's words in the top paper's title
    "top_hit_sentence",  # the top paper's best sentence cosine
    "top_whole",  # best whole-paper cosine ("title. abstract" as one text) among all candidates
    "hit_whole",  # the top paper's whole-paper cosine
    "whole_gap",  # the best whole-paper cosine above the candidates' median
)


@dataclass(frozen=True)
class CoverageModel:
    """Logistic weights over standardized signals (``features``: some of :data:`FEATURES`), and the
    confidence below which to abstain."""

    weights: tuple[float, ...]
    bias: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    threshold: float
    manifest: dict[str, object]
    features: tuple[str, ...] = FEATURES

    def confidence(self, signals: Sequence[float]) -> float:
        """Probability-like confidence that the library covers the question (``signals``: all of :data:`FEATURES`)."""
        picked = [signals[FEATURES.index(name)] for name in self.features] if len(signals) == len(FEATURES) else signals
        z = self.bias + sum(
            w * (x - m) / s for w, x, m, s in zip(self.weights, picked, self.mean, self.scale, strict=True)
        )
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> CoverageModel:
        """The model in ``path`` (its features must all be among :data:`FEATURES`)."""
        data = json.loads(path.read_text(encoding="utf-8"))
        unknown = [name for name in data["features"] if name not in FEATURES]
        if unknown:
            raise ValueError(f"{path}: fitted on features {unknown} this code does not compute ({FEATURES})")
        return cls(
            weights=tuple(float(x) for x in data["weights"]),
            bias=float(data["bias"]),
            mean=tuple(float(x) for x in data["mean"]),
            scale=tuple(float(x) or 1.0 for x in data["scale"]),
            threshold=float(data["threshold"]),
            manifest=dict(data.get("manifest", {})),
            features=tuple(data["features"]),
        )

    def save(self, path: Path = MODEL_FILE) -> None:
        """Write the model as JSON, atomically (a temporary file, then ``os.replace``)."""
        data = {
            "features": list(self.features),
            "weights": [round(w, 6) for w in self.weights],
            "bias": round(self.bias, 6),
            "mean": [round(m, 6) for m in self.mean],
            "scale": [round(s, 6) for s in self.scale],
            "threshold": round(self.threshold, 6),
            "manifest": self.manifest,
        }
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, path)


@functools.lru_cache(maxsize=1)
def coverage_model() -> CoverageModel:
    """The shipped coverage model (loaded once)."""
    return CoverageModel.load()


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


def abstention_signals(result: SearchResult) -> tuple[float, ...]:
    """What the coverage model reads (:data:`FEATURES`, in order)."""
    sig = result.signals
    if not result.hits or sig is None or not len(sig.ids):
        return (result.top_sentence, result.top_doc, *([0.0] * (len(FEATURES) - 2)))
    top = result.hits[0]
    where = np.flatnonzero(sig.ids == top.paper.id)
    j = int(where[0]) if len(where) else 0
    top_rrf = float(rank_fusion(sig)[j]) if len(where) else 0.0
    fused_gap = min(result.fused_gap, 3.0)
    doc_gap = float(sig.doc[j] - np.median(sig.doc)) if len(where) else 0.0
    terms = sig.terms
    known = [t for t in terms if sig.doc_freq.get(t, 0) > 0]
    known_terms = len(known) / len(terms) if terms else 1.0
    known_idf = sum(sig.term_idf.get(t, 0.0) for t in known)
    unknown_idf = max_idf(sig) * (len(terms) - len(known))
    rare_known = known_idf / (known_idf + unknown_idf) if known_idf + unknown_idf > 0 else 1.0
    title = term_set(top.paper.title)
    title_match = len(title & set(terms)) / len(terms) if terms else 0.0
    whole = sig.whole if len(sig.whole) == len(sig.ids) else sig.doc
    return (
        result.top_sentence,
        result.top_doc,
        top_rrf,
        float(fused_gap),
        doc_gap,
        known_terms,
        rare_known,
        float(sig.cover[j]) if len(where) else 0.0,
        title_match,
        top.sentence_score,
        float(whole.max()),
        float(whole[j]) if len(where) else 0.0,
        float(whole.max() - np.median(whole)),
    )


def max_idf(sig: Signals) -> float:
    """The IDF a word the library does not hold would have (what an unknown word weighs)."""
    return math.log(1.0 + (sig.library_size + 0.5) / 0.5)


def coverage_confidence(features: Sequence[float]) -> float:
    """Probability-like confidence that the library covers the question."""
    return coverage_model().confidence(features)


def is_covered(result: SearchResult) -> tuple[bool, float]:
    """Whether the library answers the question of ``result``, and the model's confidence."""
    if not result.hits:
        return False, 0.0
    model = coverage_model()
    confidence = model.confidence(abstention_signals(result))
    return confidence >= model.threshold, confidence


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
