"""Which sentences of an abstract answer a question: a small linear model over generic features.

The features are what distinguishes an answering sentence from its neighbours: its
cosine to the question (absolute, and relative to the abstract's best), the share of the
question's words it contains (plain and IDF-weighted), where it stands (first sentences
are background), whether it states a contribution ("we …", "this paper …"), its
length, and whether it holds what the question asks for (a number with the asked unit, a
name, a comparison: :mod:`retrieval.query.asks`). The weights are a logistic regression
(bench/sentence_fit.py, ``paperbot eval --fit-sentences``) fitted on the dev questions
and the fitting part of the factoid questions (tests/data/dev_questions.jsonl,
factoid_questions.jsonl; L2 0.3). The labelled sentence is the model's best on 59% of
those questions and in its top three on 85% (5-fold cross-validation by question); on
questions left out of the fitting (factoid_holdout.jsonl, holdout_questions.jsonl) 54% and
77%, against 48% and 74% with the previous weights, which lacked the question-kind
features. A yes / no claim check ("does X beat Y?") adds one more: whether the sentence states a
finding ("we find…", "results show…", "outperforms…"); refitted with it, cross-validated best 60%
(top three 85%), held-out hold-out questions top three 71% -> 73%, and through ``paperbot eval`` the
quote holds the labelled sentence on dev 0.780 -> 0.795, hold-out 0.571 -> 0.586, factoid 0.930 ->
0.953, factoid held out 0.952 -> 0.952.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from retrieval.query.asks import Ask, holds, states_finding
from retrieval.text import rough_stem, term_set

# cosine, overlap, idf-overlap, relative position, is-first, contribution cue, length, cosine - best cosine,
# then what the question asks for (retrieval.query.asks): a number, a number with the asked unit, a name,
# a comparison (or the means, for "how does…"); then, for a yes / no claim check, whether it states a finding.
WEIGHTS = (-4.45, 1.87, 3.44, -0.06, -2.2, 0.51, -0.82, 7.22, -0.19, 2.74, 1.53, 0.25, 0.91)
_CUE = re.compile(r"^(we |our |in this (paper|work)|this (paper|work)|here,? we|to (address|this end))", re.IGNORECASE)


def idf(doc_freq: int, total: int) -> float:
    """BM25's inverse document frequency."""
    return math.log(1.0 + (total - doc_freq + 0.5) / (doc_freq + 0.5))


def score_sentences(
    sentences: Sequence[str],
    cosines: Sequence[float],
    terms: Sequence[str],
    term_idf: dict[str, float],
    ask: Ask | None = None,
    weights: Sequence[float] = WEIGHTS,
) -> list[float]:
    """A relevance score for each sentence of one abstract (higher answers the question better)."""
    return [
        sum(w * f for w, f in zip(weights, features, strict=True))
        for features in sentence_features(sentences, cosines, terms, term_idf, ask)
    ]


def sentence_features(
    sentences: Sequence[str],
    cosines: Sequence[float],
    terms: Sequence[str],
    term_idf: dict[str, float],
    ask: Ask | None = None,
) -> list[tuple[float, ...]]:
    """The model's features of each sentence (see :data:`WEIGHTS` for their order)."""
    if not sentences:
        return []
    ask = ask or Ask()
    best = max(cosines)
    query = set(terms)
    weighted = [(rough_stem(t), term_idf.get(t, 1.0)) for t in query]
    total_idf = sum(w for _, w in weighted) or 1.0
    last = max(1, len(sentences) - 1)
    typed = frozenset(terms)
    rows = []
    for i, (text, cosine) in enumerate(zip(sentences, cosines, strict=True)):
        lowered = text.casefold()
        overlap = len(term_set(text) & query) / len(query) if query else 0.0
        idf_overlap = sum(w for stem, w in weighted if stem in lowered) / total_idf
        rows.append(
            (
                cosine,
                overlap,
                idf_overlap,
                i / last,
                1.0 if i == 0 else 0.0,
                1.0 if _CUE.match(text) else 0.0,
                min(len(text), 400) / 400,
                cosine - best,
                *holds(text, ask, typed),
                1.0 if ask.claim and states_finding(text) else 0.0,
            )
        )
    return rows
