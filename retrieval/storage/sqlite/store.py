"""The paper store: papers in SQLite, deduplicated across sources, with full-text search."""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from retrieval.models import Paper, UpsertReport
from retrieval.storage.rules import stored_record
from retrieval.storage.sqlite.db import Database
from retrieval.storage.sqlite.rows import COLUMNS, row_to_paper
from retrieval.storage.sqlite.vectors import SqliteVectorTable
from retrieval.storage.sqlite.whole import SqliteWholeTable
from retrieval.text import normalize_title, text_hash, title_slug

log = logging.getLogger(__name__)


__all__ = ["Postings", "SqlitePaperStore", "UpsertReport", "corpus_fingerprint"]

# In a large library, terms in more than this share of papers are left out of BM25 queries
# (see lexical_search); below PRUNE_FROM papers every term is kept, as standard BM25 does.
COMMON_TERM_FRACTION = 0.10
PRUNE_FROM = 20_000
# BM25 weight of a title match relative to one in the abstract.
TITLE_WEIGHT = 2.0
# Cached term postings are dropped all at once past this many entries (~12 bytes each).
POSTINGS_CACHE_ENTRIES = 4_000_000


def corpus_fingerprint(pairs: dict[int, str], ids: Iterable[int]) -> str:
    """Hash of (id, text hash) for ``ids``: equal fingerprints mean the same texts were embedded."""
    digest = hashlib.sha1()
    for paper_id in sorted(ids):
        digest.update(f"{paper_id}:{pairs.get(paper_id, '-')};".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class Postings:
    """The papers that contain one term, and the term's BM25 contribution to each (zeros in a large library)."""

    ids: np.ndarray
    scores: np.ndarray


def _fts_quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


class SqlitePaperStore(SqliteVectorTable, SqliteWholeTable):
    """Papers, the days listings showed them, their sentence vectors, and lexical (FTS5 BM25) search."""

    def __init__(self, db: Database, prune_from: int = PRUNE_FROM) -> None:
        self.db = db
        self.prune_from = prune_from
        # Document frequencies and postings of query terms, valid while no other connection
        # writes (see data_version).
        self._df_cache: dict[str, int] = {}
        self._df_version = -1
        self._df_total = 0
        self._postings: dict[str, Postings] = {}
        self._postings_entries = 0

    # -- writing -------------------------------------------------------------------------

    def upsert(self, papers: Iterable[Paper]) -> UpsertReport:
        """Insert new papers and merge known ones, in one transaction.

        A paper is known when its arXiv id, its external id or (failing both) its
        normalized title matches a stored paper. Merging keeps what is stored and
        fills in what the new record adds (arXiv id, links, authors, fresher upvotes).
        """
        report = UpsertReport()
        self.clear_term_caches()  # our own writes do not change data_version
        with self.db.transaction() as conn:
            for paper in papers:
                self._upsert_one(conn, paper, report)
        return report

    def clear_term_caches(self) -> None:
        """Forget cached document frequencies and postings (they are refilled on the next search)."""
        self._df_version = -1  # the next look-up sees a "changed" database and resets everything

    def _find(self, conn: sqlite3.Connection, paper: Paper) -> tuple[sqlite3.Row | None, bool]:
        """The stored row this paper merges into, and whether the match was by id (not title)."""
        if paper.arxiv_id:
            row = conn.execute(f"SELECT {COLUMNS} FROM papers WHERE arxiv_id = ?", (paper.arxiv_id,)).fetchone()
            if row:
                return row, True
        if paper.ext_id:
            row = conn.execute(f"SELECT {COLUMNS} FROM papers WHERE ext_id = ?", (paper.ext_id,)).fetchone()
            if row:
                return row, True
        norm = normalize_title(paper.title)
        rows = conn.execute(f"SELECT {COLUMNS} FROM papers WHERE norm_title = ?", (norm,)).fetchall()
        for row in rows:
            # A title match must not merge two different arXiv papers.
            if not (paper.arxiv_id and row["arxiv_id"] and row["arxiv_id"] != paper.arxiv_id):
                return row, False
        return None, False

    def _upsert_one(self, conn: sqlite3.Connection, paper: Paper, report: UpsertReport) -> tuple[int, str]:
        """Insert or merge one paper; (its row id, the text hash it is stored with)."""
        row, by_id = self._find(conn, paper)
        if row is None:
            stored_hash = text_hash(paper.title, paper.abstract)
            ext_id = paper.ext_id or paper.arxiv_id or title_slug(paper.title)
            cur = conn.execute(
                "INSERT INTO papers (ext_id, arxiv_id, title, norm_title, abstract, url, authors, author_count,"
                " published, upvotes, github, project_page, source, text_hash)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    ext_id,
                    paper.arxiv_id,
                    paper.title,
                    normalize_title(paper.title),
                    paper.abstract,
                    paper.url,
                    json.dumps(list(paper.authors)),
                    paper.author_count if paper.author_count is not None else (len(paper.authors) or None),
                    paper.published.isoformat() if paper.published else None,
                    paper.upvotes,
                    paper.github,
                    paper.project_page,
                    paper.source,
                    stored_hash,
                ),
            )
            paper_id = int(cur.lastrowid or 0)
            report.new.append(paper_id)
        else:
            paper_id = row["id"]
            old = row_to_paper(row)
            merged, stored_hash = stored_record(old, paper, by_id)
            if merged != old:
                conn.execute(
                    "UPDATE papers SET arxiv_id=?, title=?, norm_title=?, abstract=?, url=?, authors=?,"
                    " author_count=?, published=?, upvotes=?, github=?, project_page=?, text_hash=?,"
                    " updated_at=strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id=?",
                    (
                        merged.arxiv_id,
                        merged.title,
                        normalize_title(merged.title),
                        merged.abstract,
                        merged.url,
                        json.dumps(list(merged.authors)),
                        merged.author_count,
                        merged.published.isoformat() if merged.published else None,
                        merged.upvotes,
                        merged.github,
                        merged.project_page,
                        stored_hash,
                        paper_id,
                    ),
                )
                report.updated.append(paper_id)
            else:
                report.unchanged += 1
        if paper.listed_on:
            conn.execute(
                "INSERT OR IGNORE INTO paper_days (paper_id, day) VALUES (?, ?)",
                (paper_id, paper.listed_on.isoformat()),
            )
        return paper_id, stored_hash

    # -- reading -------------------------------------------------------------------------

    def count(self) -> int:
        """Number of papers."""
        with self.db.read() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM papers").fetchone()[0])

    def get(self, paper_id: int) -> Paper | None:
        """One paper by row id."""
        papers = self.get_many([paper_id])
        return papers.get(paper_id)

    def get_many(self, paper_ids: Sequence[int]) -> dict[int, Paper]:
        """Papers by row id (missing ids are left out)."""
        if not paper_ids:
            return {}
        out: dict[int, Paper] = {}
        with self.db.read() as conn:
            # Chunk to stay under SQLite's bound-parameter limit.
            for start in range(0, len(paper_ids), 900):
                chunk = list(paper_ids[start : start + 900])
                marks = ",".join("?" * len(chunk))
                for row in conn.execute(f"SELECT {COLUMNS} FROM papers WHERE id IN ({marks})", chunk):
                    out[row["id"]] = row_to_paper(row)
        return out

    def get_by_ext_id(self, ext_id: str) -> Paper | None:
        """One paper by its public id (or arXiv id)."""
        with self.db.read() as conn:
            row = conn.execute(
                f"SELECT {COLUMNS} FROM papers WHERE ext_id = ? OR arxiv_id = ?", (ext_id, ext_id)
            ).fetchone()
        return row_to_paper(row) if row else None

    def id_hashes(self) -> dict[int, str]:
        """Every paper's id and text hash (cheap: no text is read)."""
        with self.db.read() as conn:
            return {int(r[0]): str(r[1]) for r in conn.execute("SELECT id, text_hash FROM papers")}

    def texts(self, paper_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
        """(title, abstract) by id, for embedding."""
        out: dict[int, tuple[str, str]] = {}
        with self.db.read() as conn:
            for start in range(0, len(paper_ids), 900):
                chunk = list(paper_ids[start : start + 900])
                marks = ",".join("?" * len(chunk))
                for r in conn.execute(f"SELECT id, title, abstract FROM papers WHERE id IN ({marks})", chunk):
                    out[int(r[0])] = (str(r[1]), str(r[2]))
        return out

    def change_marker(self) -> tuple[int, int, str]:
        """(count, max id, last update / last vector row): changes when papers or their vectors change."""
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT COUNT(*), COALESCE(MAX(id), 0), COALESCE(MAX(updated_at), '') FROM papers"
            ).fetchone()
            # Vectors written for existing papers (a model change, a resumed import) count as a change too.
            vec = conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM paper_vectors").fetchone()
            whole = conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM paper_whole").fetchone()
        return int(row[0]), int(row[1]), f"{row[2]}/{vec[0]}/{whole[0]}"

    def data_version(self) -> int:
        """SQLite's data_version: changes when another connection (or process) commits; O(1)."""
        with self.db.read() as conn:
            return int(conn.execute("PRAGMA data_version").fetchone()[0])

    def fingerprint(self) -> str:
        """A hash of every paper's id and text: equal fingerprints mean the same corpus to embed."""
        pairs = self.id_hashes()
        return corpus_fingerprint(pairs, pairs)

    def find_exact(self, query: str) -> list[int]:
        """Ids of papers whose normalized title or arXiv id equals the query."""
        norm = normalize_title(query)
        if not norm:
            return []
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT id FROM papers WHERE norm_title = ? OR arxiv_id = ? OR ext_id = ? ORDER BY id",
                (norm, query.strip(), query.strip()),
            ).fetchall()
        return [int(r[0]) for r in rows]

    def lexical_search(self, terms: Sequence[str], limit: int) -> list[tuple[int, float]]:
        """BM25 (FTS5) search for any of ``terms``; (id, score) best first, higher is better.

        Below 20,000 papers, FTS5's BM25 of the OR query is summed from each term's own
        BM25, cached with its postings: a question then costs a sum over cached arrays and
        only its new words reach SQLite (bundled corpus: 0.8 ms for the OR query, 0.1 ms
        from the cache; the scores are equal). From 20,000 papers the OR query runs as
        such (matching terms one by one costs more there, 8.7 against 7.4 ms p50 at
        100,000), and terms found in over 10% of the papers are left out: their BM25
        weight is small, but matching them scores most papers (120 ms p50 with them).
        """
        return self.rank_bm25(self.postings(terms), limit)

    def rank_bm25(self, postings: dict[str, Postings], limit: int) -> list[tuple[int, float]]:
        """:meth:`lexical_search` over postings already fetched by :meth:`postings` (callers that need both)."""
        if not postings:
            return []
        if self._df_total >= self.prune_from:
            with self.db.read() as conn:
                rows = conn.execute(
                    "SELECT rowid, -bm25(papers_fts, ?, 1.0) AS score FROM papers_fts WHERE papers_fts MATCH ?"
                    " ORDER BY score DESC LIMIT ?",
                    (TITLE_WEIGHT, " OR ".join(_fts_quote(t) for t in postings), limit),
                ).fetchall()
            return [(int(r[0]), float(r[1])) for r in rows]
        ids = np.concatenate([p.ids for p in postings.values()])
        scores = np.concatenate([p.scores for p in postings.values()])
        unique, inverse = np.unique(ids, return_inverse=True)
        totals = np.bincount(inverse, weights=scores)
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

    def suggest_titles(self, prefix: str, limit: int = 25) -> list[tuple[int, str]]:
        """Titles for autocomplete: prefix matches first, then substring matches."""
        norm = normalize_title(prefix)
        with self.db.read() as conn:
            if not norm:
                rows = conn.execute(
                    "SELECT id, title FROM papers ORDER BY COALESCE(upvotes, 0) DESC, id DESC LIMIT ?", (limit,)
                ).fetchall()
                return [(int(r[0]), str(r[1])) for r in rows]
            like = norm.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            rows = conn.execute(
                "SELECT id, title FROM papers WHERE norm_title LIKE ? ESCAPE '\\'"
                " ORDER BY (norm_title LIKE ? ESCAPE '\\') DESC, COALESCE(upvotes, 0) DESC, id LIMIT ?",
                (f"%{like}%", f"{like}%", limit),
            ).fetchall()
        return [(int(r[0]), str(r[1])) for r in rows]

    def newest_day(self) -> date | None:
        """The most recent day any listing showed a paper."""
        with self.db.read() as conn:
            row = conn.execute("SELECT MAX(day) FROM paper_days").fetchone()
        return date.fromisoformat(row[0]) if row and row[0] else None

    def papers_on(self, day: date) -> list[Paper]:
        """Papers a listing showed on ``day``."""
        with self.db.read() as conn:
            rows = conn.execute(
                f"SELECT {', '.join('p.' + c.strip() for c in COLUMNS.split(','))} FROM papers p"
                " JOIN paper_days d ON d.paper_id = p.id WHERE d.day = ? ORDER BY p.id",
                (day.isoformat(),),
            ).fetchall()
        return [row_to_paper(r, listed_on=day) for r in rows]

    def papers_between(self, since: date, until: date) -> list[Paper]:
        """Papers a listing showed on any day from ``since`` to ``until`` (both included), each once.

        ``listed_on`` is the latest of those days.
        """
        with self.db.read() as conn:
            rows = conn.execute(
                f"SELECT {', '.join('p.' + c.strip() for c in COLUMNS.split(','))}, MAX(d.day) AS last_day"
                " FROM papers p JOIN paper_days d ON d.paper_id = p.id WHERE d.day BETWEEN ? AND ?"
                " GROUP BY p.id ORDER BY p.id",
                (since.isoformat(), until.isoformat()),
            ).fetchall()
        return [row_to_paper(r, listed_on=date.fromisoformat(r["last_day"])) for r in rows]

    def source_counts(self) -> dict[str, int]:
        """How many papers each source contributed."""
        with self.db.read() as conn:
            rows = conn.execute("SELECT source, COUNT(*) FROM papers GROUP BY source ORDER BY source").fetchall()
        return {str(r[0]): int(r[1]) for r in rows}
