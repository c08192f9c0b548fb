"""Hybrid retrieval: dense (paper and best-sentence cosine) + lexical BM25 + term coverage, fused.

Every candidate from either retriever is scored on all four signals, which are combined as a
weighted sum of standard scores (:func:`fuse_scores`); exact title or arXiv-id matches go first.
Scoring a paper by its best-matching sentence as well as by its whole text matters for
one-sentence claims and for long abstracts the model truncates. The lexical search needs no
question vector, so it runs on a worker thread beside the encoding and the dense search.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from retrieval.encoder.embedder import Embedder
from retrieval.models import SHARED, Hit, Paper, Scope
from retrieval.query.asks import asked_for
from retrieval.query.generic import facet_sentences, generic_facets
from retrieval.query.ranker import LearnedRanker
from retrieval.query.sentences import idf, score_sentences
from retrieval.query.standard import standard_scores
from retrieval.storage.protocol import PaperStore, VectorIndex
from retrieval.text import query_terms, split_sentences, strip_framing

log = logging.getLogger(__name__)

CANDIDATES = 100
# Lexical searches in flight at once (one per concurrent question; more wait their turn).
LEXICAL_WORKERS = 4

# Score fusion weights of (paper cosine, best-sentence cosine, BM25, term coverage): see fuse_scores.
DEFAULT_WEIGHTS = (1.0, 1.0, 0.5, 0.5)


@dataclass
class SearchResult:
    """Ranked hits plus the signals the responder uses to decide whether to abstain."""

    query: str
    hits: list[Hit]
    library_size: int
    # Cosine of the best sentence / paper among all candidates.
    top_sentence: float = 0.0
    top_doc: float = 0.0
    # The candidates' ranking signals (what retrieval.query.abstain reads besides the hits).
    signals: Signals | None = None
    # Asking one paper a generic question ("what do they propose?"): the facets asked (retrieval.query.generic).
    facets: tuple[str, ...] = ()
    # How far the best candidate's fused score stands above the second's (an abstention signal).
    fused_gap: float = 0.0
    # Each hit's abstract sentences in order, with their answer score (see retrieval.query.sentences), by paper id.
    sentences: dict[int, list[tuple[str, float]]] = field(default_factory=dict)


@dataclass
class Signals:
    """The candidates of one question and each ranking signal's score for them (aligned arrays)."""

    ids: np.ndarray
    doc: np.ndarray  # cosine of the paper's vector
    sent: np.ndarray  # cosine of its best sentence
    lex: np.ndarray  # BM25 (0: no query word)
    cover: np.ndarray  # IDF-weighted share of the question's words it contains
    exact: set[int]
    topic: str  # the question without request framing
    qvec: np.ndarray
    terms: list[str]
    term_idf: dict[str, float]
    # How many papers hold each question word, and how many papers there are.
    doc_freq: dict[str, int] = field(default_factory=dict)
    library_size: int = 0
    # Cosine of the paper's whole-paper vector ("title. abstract" as one text); its paper cosine without one.
    whole: np.ndarray = field(default_factory=lambda: np.zeros(0))


def fuse_scores(sig: Signals, weights: Sequence[float] | None = None) -> np.ndarray:
    """Weighted sum of each signal's standard score over the candidates; exact title / id matches on top.

    Unlike rank fusion it keeps how far ahead a paper is: a paper far above the rest on one
    signal is not pulled level with one that is barely ahead. Measured on SciFact train
    claims (tuned on the even ids, odd ids left out) and on the bundled question sets; see README.
    """
    w_doc, w_sent, w_lex, w_cover = weights or DEFAULT_WEIGHTS
    fused = (
        w_doc * standard_scores(sig.doc)
        + w_sent * standard_scores(sig.sent)
        + w_lex * standard_scores(sig.lex, sig.lex > 0)
        + w_cover * standard_scores(sig.cover)
    )
    return fused + np.array([100.0 if i in sig.exact else 0.0 for i in sig.ids.tolist()])


class HybridSearcher:
    """Searches a store and its vector index (either backend: they supply the signals, this fuses them)."""

    def __init__(
        self,
        store: PaperStore,
        index: VectorIndex,
        embedder: Embedder,
        weights: tuple[float, float, float, float] | None = None,
        ranker: LearnedRanker | None = None,
    ) -> None:
        self.store = store
        self.index = index
        self.embedder = embedder
        self.weights = weights or DEFAULT_WEIGHTS  # PAPERBOT_FUSION_WEIGHTS
        # The learned model reordering the fused top (retrieval.query.ranker); None: hand-set fusion alone.
        self.ranker = ranker
        # Both backends' lexical searches release the GIL (SQLite's FTS5, a PostgreSQL round trip),
        # so a question costs about the slower of lexical and (encoding + dense), not their sum.
        self._lexical = ThreadPoolExecutor(LEXICAL_WORKERS, thread_name_prefix="paperbot-lexical")

    def close(self) -> None:
        """Let the worker threads go (searches still running finish first)."""
        self._lexical.shutdown(wait=True)

    def _lexical_half(self, terms: list[str], n_cand: int, scope: Scope) -> list[tuple[int, float]]:
        """Lexical candidates, with their vectors read ahead (on PostgreSQL: beside the dense search)."""
        found = self.store.lexical_search(terms, n_cand, scope)
        self.index.prefetch([i for i, _ in found])
        return found

    def signals(self, query: str, n_cand: int = CANDIDATES, scope: Scope = SHARED) -> Signals:
        """Every candidate ``scope`` sees from either retriever, scored on each ranking signal (before fusion)."""
        self.index.refresh(self.store)
        topic = strip_framing(query)
        terms = query_terms(topic)
        lexical_job = self._lexical.submit(self._lexical_half, terms, n_cand, scope)
        exact = self.store.find_exact(query, scope) or (self.store.find_exact(topic, scope) if topic != query else [])
        freqs, total = self.store.doc_freqs(terms)
        term_idf = {t: idf(f, total) for t, f in freqs.items()}
        qvec = self.embedder.encode_query(topic)
        dense = self.index.search(qvec, n_cand, scope)
        lexical = lexical_job.result()
        cand_ids = list(dict.fromkeys([*exact, *(i for i, _ in dense), *(i for i, _ in lexical)]))
        lex_map = dict(lexical)
        # Which candidates hold which words, read beside their vectors (two round trips at once on PostgreSQL).
        matches_job = self._lexical.submit(self.store.term_matches, terms, cand_ids)
        doc = self.index.doc_scores(qvec, cand_ids)
        sent = self.index.best_sentence_scores(qvec, cand_ids)
        whole = self.index.whole_scores(qvec, cand_ids)
        return Signals(
            ids=np.asarray(cand_ids, dtype=np.int64),
            doc=doc,
            sent=sent,
            lex=np.array([lex_map.get(i, 0.0) for i in cand_ids]),
            cover=self._coverage(matches_job.result(), term_idf, cand_ids),
            exact=set(exact),
            topic=topic,
            qvec=qvec,
            terms=terms,
            term_idf=term_idf,
            doc_freq=dict(freqs),
            library_size=total,
            whole=np.where(np.isnan(whole), doc, whole).astype(np.float64),
        )

    def search(self, query: str, k: int, scope: Scope = SHARED) -> SearchResult:
        """The ``k`` best papers ``scope`` sees for ``query``, with their best sentences and scores."""
        sig = self.signals(query, max(CANDIDATES, 4 * k), scope)
        size = self.index.size
        if not len(sig.ids):
            return SearchResult(query, [], size)
        ids, doc, sent, lex, qvec, terms, term_idf = (
            sig.ids,
            sig.doc,
            sig.sent,
            sig.lex,
            sig.qvec,
            sig.terms,
            sig.term_idf,
        )
        ask = asked_for(sig.topic)
        exact_set = sig.exact
        fused = fuse_scores(sig, self.weights)
        order = np.argsort(-fused, kind="stable")[: max(k, 2)]
        fused_gap = float(fused[order[0]] - fused[order[1]]) if len(order) > 1 else 3.0
        papers: dict[int, Paper] = {}
        ranked = fused
        if self.ranker is not None:
            # The learned model reorders the fused top (it reads their titles: fetched once, hits included).
            pool = np.argsort(-fused, kind="stable")[: max(self.ranker.rerank, k)]
            papers = self.store.get_many([int(ids[j]) for j in pool], scope)
            ranked = self.ranker.reorder(sig, fused, {i: p.title for i, p in papers.items()})
            order = np.argsort(-ranked, kind="stable")[:k]
        order = order[:k]
        top_ids = [int(ids[j]) for j in order]
        if not set(top_ids) <= set(papers):
            papers = self.store.get_many(top_ids, scope)
        hits = []
        scored_sentences: dict[int, list[tuple[str, float]]] = {}
        for j in order:
            paper = papers.get(int(ids[j]))
            if paper is None:  # deleted by another process since indexing
                continue
            sentences, cosines = self.sentence_cosines(qvec, paper)
            scores = score_sentences(sentences, cosines, terms, term_idf, ask)
            scored_sentences[int(ids[j])] = list(zip(sentences, scores, strict=True))
            best = max(range(len(scores)), key=scores.__getitem__)
            sentence, s_score = sentences[best], cosines[best]
            hits.append(
                Hit(
                    paper=paper,
                    score=float(ranked[j]),
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
            signals=sig,
            sentences=scored_sentences,
            fused_gap=fused_gap,
        )

    def within_paper(self, query: str, paper: Paper) -> SearchResult:
        """One paper's sentences scored for ``query``, as a one-hit result (for asking about one paper)."""
        self.index.refresh(self.store)
        topic = strip_framing(query)
        terms = query_terms(topic)
        freqs, total = self.store.doc_freqs(terms)
        term_idf = {t: idf(f, total) for t, f in freqs.items()}
        qvec = self.embedder.encode_query(topic)
        sentences, cosines = self.sentence_cosines(qvec, paper)
        ask = asked_for(topic)
        scores = score_sentences(sentences, cosines, terms, term_idf, ask)
        facets = generic_facets(topic)
        if facets:
            # Answered by the sentences that play the asked role (contribution, result...), not by meaning.
            chosen = facet_sentences(sentences, self._centrality(paper, len(sentences)), facets, cosines)
            scores = [10.0 - 0.01 * chosen.index(i) if i in chosen else s - 100.0 for i, s in enumerate(scores)]
        best = max(range(len(scores)), key=scores.__getitem__)
        assert paper.id is not None
        hit = Hit(
            paper=paper,
            score=0.0,
            best_sentence=sentences[best],
            sentence_score=cosines[best],
            dense_score=float(self.index.doc_scores(qvec, [paper.id])[0]),
        )
        return SearchResult(
            query=query,
            hits=[hit],
            library_size=self.index.size,
            top_sentence=max(cosines),
            top_doc=hit.dense_score,
            sentences={paper.id: list(zip(sentences, scores, strict=True))},
            facets=tuple(facets),
        )

    def _centrality(self, paper: Paper, n: int) -> list[float]:
        """Each sentence's cosine to its paper's vector (how much of the abstract it stands for)."""
        assert paper.id is not None
        vec = self.index.paper_vector(paper.id)
        scores = self.index.sentence_scores(vec, paper.id) if vec is not None else []
        return [float(x) for x in scores] if len(scores) == n else [0.0] * n

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

    def similar(self, paper_id: int, k: int, scope: Scope = SHARED) -> list[Hit]:
        """Papers ``scope`` sees nearest to a paper's own vector, the paper left out."""
        vec = self.index.paper_vector(paper_id)
        if vec is None:
            return []
        found = [(i, s) for i, s in self.index.search(vec, k + 1, scope) if i != paper_id][:k]
        papers = self.store.get_many([i for i, _ in found], scope)
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
