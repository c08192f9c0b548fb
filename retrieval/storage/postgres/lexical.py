"""Lexical search in PostgreSQL: BM25 over impact-ordered postings, bounded per question.

Lexical scores are BM25 as FTS5 computes it (title hits count twice, as FTS5's column weight 2);
PostgreSQL's own ``ts_rank`` has no inverse document frequency: with it, hold-out Recall@1 fell
from 0.829 to 0.757 (see README). Scoring every paper that holds a query word does not scale
(a common word is in 100,000 papers of a million), so the search is bounded the way search
engines bound it: each paper's words are also kept as postings (``paper_terms``, kept in line
with ``papers`` by triggers; schema.py) ordered per word by their BM25 term-frequency part. A
query reads the best :data:`PER_TERM` postings of each of its words from that index, sums them
into candidates, and scores the best :data:`POOL` candidates exactly from their ``tsvector``.
Below ``PER_TERM`` papers per word the result is exact BM25; above it, a paper that holds only
common words at low weight can be missed. Document frequencies and the library's totals are
exact, kept by the same triggers, and cached per process (store.py drops the caches).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from psycopg_pool import ConnectionPool

from retrieval.models import SHARED, Scope

# As in the SQLite store: from this many papers, terms in over 10% of them leave lexical queries.
COMMON_TERM_FRACTION = 0.10
PRUNE_FROM = 20_000
# BM25 weight of a title hit relative to one in the abstract (as the SQLite store).
TITLE_WEIGHT = 2.0
# Postings read per query word (best first), and candidates scored exactly: the bound on a query's work.
PER_TERM = 1000
POOL = 100


class PgLexicalSearch:
    """The lexical half of :class:`~retrieval.storage.postgres.store.PgPaperStore` (see the module doc)."""

    pool: ConnectionPool
    prune_from: int
    _lock: threading.Lock
    _df: dict[str, int]
    _selected: dict[tuple[str, ...], list[str]]
    _lexeme: dict[str, str]
    _totals: tuple[int, float] | None

    if TYPE_CHECKING:

        def check_version(self, force: bool = False) -> bool:
            """The store's: drops these caches when another process wrote."""
            ...

    def _lexical_totals(self) -> tuple[int, float]:
        """(paper count, mean document length), kept by the postings triggers; cached."""
        self.check_version()
        with self._lock:
            if self._totals is not None:
                return self._totals
        with self.pool.connection() as conn:
            row = conn.execute("SELECT papers, length FROM lexical_totals").fetchone()
        papers, length = (int(row[0]), int(row[1])) if row else (0, 0)
        totals = (papers, max(length / papers, 1.0) if papers else 1.0)
        with self._lock:
            self._totals = totals
        return totals

    def doc_freqs(self, terms: Sequence[str]) -> tuple[dict[str, int], int]:
        """How many papers contain each term (its english lexeme; 0 for a stop word), and the paper count."""
        total = self._lexical_totals()[0]
        missing = [t for t in terms if t not in self._df]
        if missing:
            lexemes = self._lexemes(missing)
            with self.pool.connection() as conn:
                found = dict(
                    conn.execute(
                        "SELECT lexeme, df FROM term_stats WHERE lexeme = ANY(%s)", (list(set(lexemes.values())),)
                    ).fetchall()
                )
            with self._lock:
                for term in missing:
                    self._df[term] = int(found.get(lexemes.get(term, ""), 0))
        return {t: self._df.get(t, 0) for t in terms}, total

    def _selective_terms(self, terms: Sequence[str]) -> list[str]:
        """``terms`` without the very common ones in a large library (at least the two rarest kept)."""
        key = tuple(terms)
        if key in self._selected:
            return self._selected[key]
        freq, total = self.doc_freqs(terms)
        kept = list(terms)
        if total >= self.prune_from:
            cap = int(total * COMMON_TERM_FRACTION)
            kept = [t for t in terms if freq[t] <= cap] or sorted(terms, key=lambda t: freq[t])[:2]
        with self._lock:
            if len(self._selected) > 10_000:
                self._selected.clear()
            self._selected[key] = kept
        return kept

    def _lexemes(self, terms: Sequence[str]) -> dict[str, str]:
        """Each term's english-stemmed lexeme (terms that are stop words have none); cached."""
        missing = [t for t in terms if t not in self._lexeme]
        if missing:
            with self.pool.connection() as conn:
                rows = conn.execute(
                    "SELECT t, (SELECT lexeme FROM unnest(to_tsvector('english', t)) LIMIT 1)"
                    " FROM unnest(%s::text[]) AS t",
                    (missing,),
                ).fetchall()
            with self._lock:
                if len(self._lexeme) > 100_000:
                    self._lexeme.clear()
                for term, lexeme in rows:
                    self._lexeme[str(term)] = str(lexeme or "")
        return {t: self._lexeme[t] for t in terms if self._lexeme.get(t)}

    def lexical_search(self, terms: Sequence[str], limit: int, scope: Scope = SHARED) -> list[tuple[int, float]]:
        """BM25 over papers holding any of ``terms``, as FTS5 scores it (title hits count twice).

        Candidates come from the best :data:`PER_TERM` postings of each word (see the module doc);
        the best :data:`POOL` of them are scored exactly from their ``tsvector`` (positions and
        A/B weights): idf x tf(k1+1) / (tf + k1(1-b+b*len/avglen)), k1 = 1.2, b = 0.75, summed
        over the question's words. Papers ``scope`` does not see (other collections' private papers) are
        left out inside the query, before the postings are cut at :data:`PER_TERM`.
        """
        kept = self._selective_terms(terms)
        lexemes = self._lexemes(kept)
        if not lexemes:
            return []
        freqs, total = self.doc_freqs(list(lexemes))
        words = list(lexemes)
        idfs = [max(math.log((total - freqs[t] + 0.5) / (freqs[t] + 0.5)), 1e-6) for t in words]
        # The private papers this scope must not see: few, read from their partial index, hashed once.
        hide = (
            ""
            if scope.everything
            else " AND pt.paper_id NOT IN (SELECT id FROM papers WHERE owner IS NOT NULL"
            " AND owner IS DISTINCT FROM %(owner)s)"
        )
        with self.pool.connection() as conn:
            rows = conn.execute(
                "WITH q(lexeme, idf) AS (SELECT * FROM unnest(%(lexemes_t)s::text[], %(idfs)s::float8[])),"
                " cand AS (SELECT c.paper_id FROM q, LATERAL (SELECT pt.paper_id, pt.impact FROM paper_terms pt"
                f" WHERE pt.lexeme = q.lexeme{hide} ORDER BY pt.impact DESC LIMIT %(per_term)s) c"
                " GROUP BY c.paper_id ORDER BY SUM(q.idf * c.impact) DESC LIMIT %(pool)s)"
                " SELECT p.id, SUM(q.idf * f.tf * (%(k1)s + 1) / (f.tf + %(k1)s * (1 - %(b)s + %(b)s * p.doc_len / %(avgdl)s)))"
                " AS score FROM cand JOIN papers p ON p.id = cand.paper_id,"
                " LATERAL (SELECT u.lexeme, (SELECT SUM(CASE WHEN w = 'A' THEN %(title)s ELSE 1.0 END)"
                " FROM unnest(u.weights) w) AS tf FROM unnest(p.tsv) u WHERE u.lexeme = ANY(%(lexemes)s)) f"
                " JOIN q ON q.lexeme = f.lexeme GROUP BY p.id ORDER BY score DESC, p.id LIMIT %(limit)s",
                {
                    "k1": 1.2,
                    "b": 0.75,
                    "avgdl": self._lexical_totals()[1],
                    "title": TITLE_WEIGHT,
                    "lexemes": list(set(lexemes.values())),
                    "lexemes_t": [lexemes[w] for w in words],
                    "idfs": idfs,
                    "per_term": PER_TERM,
                    "pool": max(POOL, limit),
                    "limit": limit,
                    "owner": scope.collection,
                },
            ).fetchall()
        return [(int(r[0]), float(r[1])) for r in rows]

    def term_matches(self, terms: Sequence[str], paper_ids: Sequence[int]) -> dict[str, np.ndarray]:
        """For each term :meth:`lexical_search` used, which of ``paper_ids`` contain it."""
        kept = self._selective_terms(terms)
        if not kept or not paper_ids:
            return {t: np.zeros(0, np.int64) for t in kept}
        tests = ", ".join("tsv @@ plainto_tsquery('english', %s)" for _ in kept)
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT id, {tests} FROM papers WHERE id = ANY(%s)", (*kept, list(paper_ids))
            ).fetchall()
        return {term: np.asarray([int(r[0]) for r in rows if r[1 + j]], dtype=np.int64) for j, term in enumerate(kept)}
