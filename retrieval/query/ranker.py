"""The learned ranker: a linear model over each candidate's features, reordering the fused top.

Hand-set fusion (:func:`retrieval.query.search.fuse_scores`, ``Settings.fusion_weights``) ranks
every candidate; the learned model then reorders its first :data:`RERANK` by ``w · features``
(:data:`RANK_FEATURES`: the four fused signals' standard scores, the whole-paper cosine's, the raw
cosines, the question words in the title, the hand-fused score). It is a softmax (listwise) model
fitted by ``bench/ranker_fit.py`` (``paperbot eval --fit-ranker``) on SciFact train claims (even
ids) and the fitting parts of the bundled question sets, and kept as plain JSON with a manifest
(``ranker_model.json``, no pickles). Without that file, or when ``PAPERBOT_FUSION_WEIGHTS`` is set,
hand-set fusion alone ranks.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from retrieval.query.standard import standard_scores
from retrieval.text import term_set

log = logging.getLogger(__name__)

MODEL_FILE = Path(__file__).with_name("ranker_model.json")
# How many of the hand-fused candidates the model reorders (the rest keep their fused order below).
RERANK = 30
RANK_FEATURES = (
    "z_doc",  # standard score of the paper cosine over the candidates
    "z_sent",  # ... of the best sentence cosine
    "z_lex",  # ... of BM25 (a paper without any question word at -3)
    "z_cover",  # ... of the IDF-weighted share of the question's words it holds
    "z_whole",  # ... of the whole-paper cosine ("title. abstract" as one text)
    "doc",  # the raw cosines
    "sent",
    "whole",
    "title",  # share of the question's words in the paper's title
    "fused",  # the hand-fused score
)


class Signals(Protocol):
    """What the ranker reads of :class:`retrieval.query.search.Signals` (not imported: search imports this module)."""

    ids: np.ndarray
    doc: np.ndarray
    sent: np.ndarray
    lex: np.ndarray
    cover: np.ndarray
    whole: np.ndarray
    exact: set[int]
    terms: list[str]


def candidate_features(sig: Signals, fused: np.ndarray, rows: np.ndarray, titles: Mapping[int, str]) -> np.ndarray:
    """The (len(rows), len(RANK_FEATURES)) features of the candidates at ``rows`` (standard scores over all)."""
    whole = sig.whole if len(sig.whole) == len(sig.ids) else sig.doc
    z = [
        standard_scores(sig.doc),
        standard_scores(sig.sent),
        standard_scores(sig.lex, sig.lex > 0),
        standard_scores(sig.cover),
        standard_scores(whole),
    ]
    terms = set(sig.terms)
    title = np.array(
        [len(term_set(titles.get(int(sig.ids[r]), "")) & terms) / len(terms) if terms else 0.0 for r in rows]
    )
    cols = [*(v[rows] for v in z), sig.doc[rows], sig.sent[rows], whole[rows], title, np.minimum(fused[rows], 10.0)]
    return np.column_stack(cols).astype(np.float64)


@dataclass(frozen=True)
class LearnedRanker:
    """Weights over :data:`RANK_FEATURES` (standardized by ``mean`` / ``scale``), with what fitted them."""

    weights: tuple[float, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    manifest: dict[str, object]
    rerank: int = RERANK

    def scores(self, features: np.ndarray) -> np.ndarray:
        """The model's score of each row of ``features``."""
        return ((features - np.asarray(self.mean)) / np.asarray(self.scale)) @ np.asarray(self.weights)

    def reorder(self, sig: Signals, fused: np.ndarray, titles: Mapping[int, str]) -> np.ndarray:
        """Scores that put the fused top :attr:`rerank` in the model's order (exact title / id matches first)."""
        top = np.argsort(-fused, kind="stable")[: self.rerank]
        if len(top) < 2:
            return fused
        model = self.scores(candidate_features(sig, fused, top, titles))
        exact = np.array([int(sig.ids[j]) in sig.exact for j in top])
        model = model + np.where(exact, 100.0, 0.0)  # as fuse_scores: exact title / id matches on top
        # The candidates left out stay below the reordered ones, in their fused order.
        rest = np.ones(len(fused), dtype=bool)
        rest[top] = False
        out = np.empty(len(fused), dtype=np.float64)
        out[top] = model
        if rest.any():
            out[rest] = float(model.min()) - 1.0 + (fused[rest] - float(fused[rest].max()))
        return out

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> LearnedRanker:
        """The model in ``path`` (its features must be :data:`RANK_FEATURES`, in order)."""
        data = json.loads(path.read_text(encoding="utf-8"))
        if tuple(data["features"]) != RANK_FEATURES:
            raise ValueError(f"{path}: fitted on features {data['features']}, this code computes {RANK_FEATURES}")
        return cls(
            weights=tuple(float(x) for x in data["weights"]),
            mean=tuple(float(x) for x in data["mean"]),
            scale=tuple(float(x) or 1.0 for x in data["scale"]),
            manifest=dict(data.get("manifest", {})),
            rerank=int(data.get("rerank", RERANK)),
        )

    def save(self, path: Path = MODEL_FILE) -> None:
        """Write the model as JSON, atomically (a temporary file, then ``os.replace``)."""
        data = {
            "features": list(RANK_FEATURES),
            "weights": [round(w, 6) for w in self.weights],
            "mean": [round(m, 6) for m in self.mean],
            "scale": [round(s, 6) for s in self.scale],
            "rerank": self.rerank,
            "manifest": self.manifest,
        }
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, path)


def shipped_ranker(path: Path = MODEL_FILE) -> LearnedRanker | None:
    """The shipped model, or None (hand-set fusion ranks) when there is none or it does not fit this code."""
    if not path.exists():
        return None
    try:
        return LearnedRanker.load(path)
    except (OSError, ValueError, KeyError) as exc:
        log.warning("the learned ranker in %s is unusable (%s); ranking by hand-set fusion", path, exc)
        return None
