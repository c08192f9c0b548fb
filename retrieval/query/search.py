"""Hybrid retrieval: dense (paper and best-sentence cosine) + lexical BM25, fused by rank.

Every candidate from either retriever is scored on all three signals, then the three
rankings are combined by weighted reciprocal rank fusion; exact title or arXiv-id
matches go first. Scoring a paper by its best-matching sentence as well as by its whole
text matters for one-sentence claims and for long abstracts the model truncates.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from retrieval.encoder.embedder import Embedder
from retrieval.models import Hit, Paper
from retrieval.query.sentences import idf, score_sentences
from retrieval.storage.protocol import PaperStore, VectorIndex
from retrieval.text import query_terms, split_sentences, strip_framing

log = logging.getLogger(__name__)

CANDIDATES = 100
RRF_K = 10.0


DEFAULT_WEIGHTS = (2.0, 1.0, 2.0, 1.0)


def _weights() -> tuple[float, float, float, float]:
    """RRF weights of (paper cosine, best-sentence cosine, BM25, IDF-weighted term coverage); see README."""
    raw = os.environ.get("PAPERBOT_FUSION_WEIGHTS", "")
    if raw:
        try:
            values = tuple(float(x) for x in raw.split(","))
            if len(values) == 4:
                return values  # type: ignore[return-value]
        except ValueError:
            pass
        log.warning("ignoring malformed PAPERBOT_FUSION_WEIGHTS=%r (want four numbers)", raw)
    return DEFAULT_WEIGHTS


FUSION_WEIGHTS = _weights()


@dataclass
class SearchResult:
    """Ranked hits plus the signals the responder uses to decide whether to abstain."""

    query: str
    hits: list[Hit]
    library_size: int
    # Cosine of the best sentence / paper among all candidates.
    top_sentence: float = 0.0
    top_doc: float = 0.0
    # Each hit's abstract sentences in order, with their answer score (see retrieval.query.sentences), by paper id.
    sentences: dict[int, list[tuple[str, float]]] = field(default_factory=dict)


def _ranks(scores: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """1-based rank of each score (higher first); invalid entries get +inf."""
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty(len(scores), dtype=np.float64)
    ranks[order] = np.arange(1, len(scores) + 1)
    if valid is not None:
        ranks[~valid] = np.inf
    return ranks


class HybridSearcher:
    """Searches a store and its vector index (either backend: they supply the signals, this fuses them)."""

    def __init__(self, store: PaperStore, index: VectorIndex, embedder: Embedder) -> None:
        self.store = store
        self.index = index
        self.embedder = embedder

    def search(self, query: str, k: int) -> SearchResult:
        """The ``k`` best papers for ``query`` with their best sentences and scores."""
        self.index.refresh(self.store)
        topic = strip_framing(query)
        terms = query_terms(topic)
        n_cand = max(CANDIDATES, 4 * k)
        lexical = self.store.lexical_search(terms, n_cand)
        exact = self.store.find_exact(query) or (self.store.find_exact(topic) if topic != query else [])
        freqs, total = self.store.doc_freqs(terms)
        qvec = self.embedder.encode_query(topic)
        dense = self.index.search(qvec, n_cand)
        cand_ids = list(dict.fromkeys([*exact, *(i for i, _ in dense), *(i for i, _ in lexical)]))
        size = self.index.size
        if not cand_ids:
            return SearchResult(query, [], size)
        ids = np.asarray(cand_ids)
        doc = self.index.doc_scores(qvec, cand_ids)
        sent = self.index.best_sentence_scores(qvec, cand_ids)
        lex_map = dict(lexical)
        lex = np.array([lex_map.get(i, 0.0) for i in cand_ids])
        term_idf = {t: idf(f, total) for t, f in freqs.items()}
        cover = self._coverage(self.store.term_matches(terms, cand_ids), term_idf, cand_ids)
        w_doc, w_sent, w_lex, w_cover = FUSION_WEIGHTS
        fused = (
            w_doc / (RRF_K + _ranks(doc))
            + w_sent / (RRF_K + _ranks(sent))
            + w_lex / (RRF_K + _ranks(lex, lex > 0))
            + w_cover / (RRF_K + _ranks(cover, cover > 0))
        )
        exact_set = set(exact)
        fused = fused + np.array([1.0 if i in exact_set else 0.0 for i in cand_ids])
        order = np.argsort(-fused, kind="stable")[:k]
        top_ids = [int(ids[j]) for j in order]
        papers = self.store.get_many(top_ids)
        hits = []
        scored_sentences: dict[int, list[tuple[str, float]]] = {}
        for j in order:
            paper = papers.get(int(ids[j]))
            if paper is None:  # deleted by another process since indexing
                continue
            sentences, cosines = self.sentence_cosines(qvec, paper)
            scores = score_sentences(sentences, cosines, terms, term_idf)
            scored_sentences[int(ids[j])] = list(zip(sentences, scores, strict=True))
            best = max(range(len(scores)), key=scores.__getitem__)
            sentence, s_score = sentences[best], cosines[best]
            hits.append(
                Hit(
                    paper=paper,
                    score=float(fused[j]),
                    best_sentence=sentence,
                    sentence_score=s_score,
                    dense_score=float(doc[j]),
                    lexical_score=float(lex[j]),
                    exact=int(ids[j]) in exact_set,
                )
            )
        return SearchResult(
            query=query,
            hits=hits,
            library_size=size,
            top_sentence=float(sent.max()),
            top_doc=float(doc.max()),
            sentences=scored_sentences,
        )

    @staticmethod
    def _coverage(matches: dict[str, np.ndarray], term_idf: dict[str, float], cand_ids: list[int]) -> np.ndarray:
        """How much of the question each candidate covers: the IDF-weighted share of its words it contains."""
        out = np.zeros(len(cand_ids))
        total = sum(term_idf.values())
        if not matches or total <= 0:
            return out
        cands = np.asarray(cand_ids, dtype=np.int64)
        for term, found in matches.items():
            out += np.isin(cands, found) * term_idf[term]
        return out / total

    def sentence_cosines(self, qvec: np.ndarray, paper: Paper) -> tuple[list[str], list[float]]:
        """A paper's abstract sentences, in order, with their cosine to the query."""
        assert paper.id is not None
        sentences = split_sentences(paper.abstract) or [paper.abstract]
        scores = self.index.sentence_scores(qvec, paper.id)
        if len(scores) != len(sentences):  # not indexed yet
            return sentences, [0.0] * len(sentences)
        return sentences, [float(x) for x in scores]

    def similar(self, paper_id: int, k: int) -> list[Hit]:
        """Papers nearest to a paper's own vector, the paper left out."""
        vec = self.index.paper_vector(paper_id)
        if vec is None:
            return []
        found = [(i, s) for i, s in self.index.search(vec, k + 1) if i != paper_id][:k]
        papers = self.store.get_many([i for i, _ in found])
        return [Hit(paper=papers[i], score=s, dense_score=s) for i, s in found if i in papers]

    def topic_scores(self, papers: Sequence[Paper], topics: Sequence[str]) -> dict[int, float]:
        """Each paper's best cosine to any of the topics (for ranking a digest)."""
        if not papers or not topics:
            return {}
        tvecs = self.embedder.encode([t for t in topics if t.strip()])
        ids = [p.id for p in papers if p.id is not None]
        out: dict[int, float] = {}
        for pid in ids:
            vec = self.index.paper_vector(pid)
            if vec is not None and len(tvecs):
                out[pid] = float((tvecs @ vec).max())
        return out
