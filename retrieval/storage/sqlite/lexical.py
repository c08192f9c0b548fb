"""Lexical search on SQLite: FTS5 BM25 over titles and abstracts, with per-term caches.

The counterpart of ``retrieval.storage.postgres.lexical``: a mixin of
:class:`~retrieval.storage.sqlite.store.SqlitePaperStore`, which gives it ``db``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from retrieval.models import SHARED, Scope
from retrieval.storage.sqlite.db import Database

# In a large library, terms in more than this share of papers are left out of BM25 queries
# (see lexical_search); below PRUNE_FROM papers every term is kept, as standard BM25 does.
COMMON_TERM_FRACTION = 0.10
PRUNE_FROM = 20_000
# BM25 weight of a title match relative to one in the abstract.
TITLE_WEIGHT = 2.0
# Cached term postings are dropped all at once past this many entries (~12 bytes each).
POSTINGS_CACHE_ENTRIES = 4_000_000


@dataclass(frozen=True)
class Postings:
    """The papers that contain one term, and the term's BM25 contribution to each (zeros in a large library)."""

    ids: np.ndarray
    scores: np.ndarray


def _fts_quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


class SqliteLexicalSearch:
    """The lexical half of search (see the module doc)."""

    db: Database
    # Given by SqliteCollections (the store's other mixin): ids a scope must not see.
    hidden_ids: Callable[[Scope], np.ndarray]

    def __init__(self, prune_from: int = PRUNE_FROM) -> None:
        self.prune_from = prune_from
        # Document frequencies and postings of query terms, valid while no other connection
        # writes (see data_version).
        self._df_cache: dict[str, int] = {}
        self._df_version = -1
        self._df_total = 0
        self._postings: dict[str, Postings] = {}
        self._postings_entries = 0

    def clear_term_caches(self) -> None:
        """Forget cached document frequencies and postings (they are refilled on the next search)."""
        self._df_version = -1  # the next look-up sees a "changed" database and resets everything

    def lexical_search(self, terms: Sequence[str], limit: int, scope: Scope = SHARED) -> list[tuple[int, float]]:
        """BM25 (FTS5) search for any of ``terms``; (id, score) best first, higher is better.

        Below 20,000 papers, FTS5's BM25 of the OR query is summed from each term's own
        BM25, cached with its postings: a question then costs a sum over cached arrays and
        only its new words reach SQLite (bundled corpus: 0.8 ms for the OR query, 0.1 ms
        from the cache; the scores are equal). From 20,000 papers the OR query runs as
        such (matching terms one by one costs more there, 8.7 against 7.4 ms p50 at
        100,000), and terms found in over 10% of the papers are left out: their BM25
        weight is small, but matching them scores most papers (120 ms p50 with them).
        Papers ``scope`` does not see are left out before ranking (in the SQL from 20,000 papers).
        """
        return self.rank_bm25(self.postings(terms), limit, scope)

    def rank_bm25(self, postings: dict[str, Postings], limit: int, scope: Scope = SHARED) -> list[tuple[int, float]]:
        """:meth:`lexical_search` over postings already fetched by :meth:`postings` (callers that need both)."""
        if not postings:
            return []
        if self._df_total >= self.prune_from:
            hide = ""
            args: tuple[object, ...] = ()
            if not scope.everything:
                # A small set (the private papers of other collections), built once per query.
                hide = " AND rowid NOT IN (SELECT id FROM papers WHERE owner IS NOT NULL AND owner IS NOT ?)"
                args = (scope.collection,)
            with self.db.read() as conn:
                rows = conn.execute(
                    "SELECT rowid, -bm25(papers_fts, ?, 1.0) AS score FROM papers_fts WHERE papers_fts MATCH ?"
                    f"{hide} ORDER BY score DESC LIMIT ?",
                    (TITLE_WEIGHT, " OR ".join(_fts_quote(t) for t in postings), *args, limit),
                ).fetchall()
            return [(int(r[0]), float(r[1])) for r in rows]
        ids = np.concatenate([p.ids for p in postings.values()])
        scores = np.concatenate([p.scores for p in postings.values()])
        unique, inverse = np.unique(ids, return_inverse=True)
        totals = np.bincount(inverse, weights=scores)
        hidden = self.hidden_ids(scope)
        if len(hidden):
            totals = np.where(np.isin(unique, hidden, assume_unique=True), -np.inf, totals)
            limit = min(limit, int(np.isfinite(totals).sum()))
        order = np.argsort(-totals, kind="stable")[:limit]
        return [(int(unique[i]), float(totals[i])) for i in order]

    def term_matches(self, terms: Sequence[str], paper_ids: Sequence[int]) -> dict[str, np.ndarray]:
        """Each term's papers (all of them, from the cached postings; the ids asked about are among them)."""
        return {term: found.ids for term, found in self.postings(terms).items()}

    def postings(self, terms: Sequence[str]) -> dict[str, Postings]:
        """Each term's papers (and, below 20,000 papers, BM25 contributions); cached.

        Very common terms are left out in a large library, as in :meth:`lexical_search`.
        """
        if not terms:
            return {}
        with self.db.read() as conn:
            out = {}
            for term in self._selective_terms(conn, terms):
                found = self._postings.get(term)
                if found is None:
                    found = self._match(conn, term, scored=self._df_total < self.prune_from)
                    if self._postings_entries + len(found.ids) > POSTINGS_CACHE_ENTRIES:
                        self._postings.clear()
                        self._postings_entries = 0
                    self._postings[term] = found
                    self._postings_entries += len(found.ids)
                out[term] = found
            return out

    @staticmethod
    def _match(conn: sqlite3.Connection, term: str, *, scored: bool) -> Postings:
        cursor = conn.cursor()
        cursor.row_factory = None  # plain tuples: several times faster to convert than sqlite3.Row
        # Quoted, so FTS5 syntax in user input is inert.
        if not scored:
            rows = cursor.execute("SELECT rowid FROM papers_fts WHERE papers_fts MATCH ?", (_fts_quote(term),))
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64)
            return Postings(ids, np.zeros(len(ids)))
        found = cursor.execute(
            "SELECT rowid, -bm25(papers_fts, ?, 1.0) FROM papers_fts WHERE papers_fts MATCH ?",
            (TITLE_WEIGHT, _fts_quote(term)),
        ).fetchall()
        pairs = np.asarray(found, dtype=np.float64).reshape(-1, 2)
        return Postings(pairs[:, 0].astype(np.int64), pairs[:, 1])

    def doc_freqs(self, terms: Sequence[str]) -> tuple[dict[str, int], int]:
        """How many papers contain each term (counted up to a cap in large libraries), and the paper count."""
        with self.db.read() as conn:
            return self._doc_freqs(conn, terms), self._df_total

    def _doc_freqs(self, conn: sqlite3.Connection, terms: Sequence[str]) -> dict[str, int]:
        version = int(conn.execute("PRAGMA data_version").fetchone()[0])
        if version != self._df_version or len(self._df_cache) > 50_000:
            self._df_cache.clear()
            self._postings.clear()
            self._postings_entries = 0
            self._df_version = version
            self._df_total = int(conn.execute("SELECT COUNT(*) FROM papers").fetchone()[0])
        # Counting stops just past the cap, so a very common term costs at most that many rows, once.
        cap = self._df_total if self._df_total < self.prune_from else self._common_cap() + 1
        for term in terms:
            if term not in self._df_cache:
                self._df_cache[term] = int(
                    conn.execute(
                        "SELECT COUNT(*) FROM (SELECT 1 FROM papers_fts WHERE papers_fts MATCH ? LIMIT ?)",
                        (_fts_quote(term), cap),
                    ).fetchone()[0]
                )
        return {t: self._df_cache[t] for t in terms}

    def _common_cap(self) -> int:
        """Past this many papers a term counts as very common (large libraries only)."""
        return int(self._df_total * COMMON_TERM_FRACTION)

    def _selective_terms(self, conn: sqlite3.Connection, terms: Sequence[str]) -> list[str]:
        """``terms`` without the very common ones in a large library (at least the two rarest are kept)."""
        freq = self._doc_freqs(conn, terms)
        if self._df_total < self.prune_from:
            return list(terms)
        cap = self._common_cap()
        kept = [t for t in terms if freq[t] <= cap]
        return kept or sorted(terms, key=lambda t: freq[t])[:2]
