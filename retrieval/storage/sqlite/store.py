"""The paper store: papers in SQLite, deduplicated across sources, with full-text search."""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import date

import numpy as np

from retrieval.models import SHARED, Paper, Scope, UpsertReport
from retrieval.storage.rules import stored_record, visible_sql
from retrieval.storage.sqlite.collections import SqliteCollections
from retrieval.storage.sqlite.db import Database
from retrieval.storage.sqlite.lexical import PRUNE_FROM, SqliteLexicalSearch
from retrieval.storage.sqlite.rows import COLUMNS, row_to_paper
from retrieval.storage.sqlite.vectors import SqliteVectorTable
from retrieval.storage.sqlite.whole import SqliteWholeTable
from retrieval.text import normalize_title, text_hash, title_slug

log = logging.getLogger(__name__)


__all__ = ["SqlitePaperStore", "UpsertReport", "corpus_fingerprint"]


def corpus_fingerprint(pairs: dict[int, str], ids: Iterable[int]) -> str:
    """Hash of (id, text hash) for ``ids``: equal fingerprints mean the same texts were embedded."""
    digest = hashlib.sha1()
    for paper_id in sorted(ids):
        digest.update(f"{paper_id}:{pairs.get(paper_id, '-')};".encode())
    return digest.hexdigest()


class SqlitePaperStore(SqliteCollections, SqliteLexicalSearch, SqliteVectorTable, SqliteWholeTable):
    """Papers, the days listings showed them, their sentence vectors, and lexical (FTS5 BM25) search."""

    def __init__(self, db: Database, prune_from: int = PRUNE_FROM) -> None:
        self.db = db
        SqliteLexicalSearch.__init__(self, prune_from)
        # {paper id: owner} of the private papers, valid with the term caches (same data_version).
        self._owners: dict[int, str] | None = None
        self._hidden: dict[tuple[int, str | None], np.ndarray] = {}

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
        """Forget cached term statistics, postings and who owns which paper (refilled on the next search)."""
        SqliteLexicalSearch.clear_term_caches(self)
        self._owners = None

    def _find(self, conn: sqlite3.Connection, paper: Paper) -> tuple[sqlite3.Row | None, bool]:
        """The stored row this paper merges into, and whether the match was by id (not title)."""
        # Only a paper of the same owner: a private record never merges into the shared library or
        # into another collection, nor a shared one into a collection.
        owner = paper.owner
        if paper.arxiv_id:
            row = conn.execute(
                f"SELECT {COLUMNS} FROM papers WHERE arxiv_id = ? AND owner IS ?", (paper.arxiv_id, owner)
            ).fetchone()
            if row:
                return row, True
        if paper.ext_id:
            row = conn.execute(
                f"SELECT {COLUMNS} FROM papers WHERE ext_id = ? AND owner IS ?", (paper.ext_id, owner)
            ).fetchone()
            if row:
                return row, True
        norm = normalize_title(paper.title)
        rows = conn.execute(
            f"SELECT {COLUMNS} FROM papers WHERE norm_title = ? AND owner IS ?", (norm, owner)
        ).fetchall()
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
                " published, upvotes, github, project_page, source, text_hash, owner)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                    paper.owner,
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

    def count(self, scope: Scope | None = None) -> int:
        """Number of papers: every one (None), or those visible in ``scope``."""
        if scope is None or scope.everything:
            with self.db.read() as conn:
                return int(conn.execute("SELECT COUNT(*) FROM papers").fetchone()[0])
        hidden = len(self.hidden_ids(scope))  # refreshes the cached total when the library changed
        return self._df_total - hidden

    def get(self, paper_id: int, scope: Scope = SHARED) -> Paper | None:
        """One paper by row id, if visible in ``scope``."""
        papers = self.get_many([paper_id], scope)
        return papers.get(paper_id)

    def get_many(self, paper_ids: Sequence[int], scope: Scope = SHARED) -> dict[int, Paper]:
        """Papers by row id that ``scope`` sees (missing and hidden ids are left out)."""
        if not paper_ids:
            return {}
        out: dict[int, Paper] = {}
        where, args = visible_sql(scope, "?")
        with self.db.read() as conn:
            # Chunk to stay under SQLite's bound-parameter limit.
            for start in range(0, len(paper_ids), 900):
                chunk = list(paper_ids[start : start + 900])
                marks = ",".join("?" * len(chunk))
                for row in conn.execute(
                    f"SELECT {COLUMNS} FROM papers WHERE id IN ({marks}) AND {where}", (*chunk, *args)
                ):
                    out[row["id"]] = row_to_paper(row)
        return out

    def get_by_ext_id(self, ext_id: str, scope: Scope = SHARED) -> Paper | None:
        """One paper by its public id (or arXiv id) that ``scope`` sees; the collection's own first."""
        where, args = visible_sql(scope, "?")
        with self.db.read() as conn:
            row = conn.execute(
                f"SELECT {COLUMNS} FROM papers WHERE (ext_id = ? OR arxiv_id = ?) AND {where}"
                " ORDER BY owner IS NULL, id LIMIT 1",
                (ext_id, ext_id, *args),
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

    def find_exact(self, query: str, scope: Scope = SHARED) -> list[int]:
        """Ids of papers ``scope`` sees whose normalized title, arXiv id or public id equals the query."""
        norm = normalize_title(query)
        if not norm:
            return []
        where, args = visible_sql(scope, "?")
        with self.db.read() as conn:
            rows = conn.execute(
                f"SELECT id FROM papers WHERE (norm_title = ? OR arxiv_id = ? OR ext_id = ?) AND {where} ORDER BY id",
                (norm, query.strip(), query.strip(), *args),
            ).fetchall()
        return [int(r[0]) for r in rows]

    def suggest_titles(self, prefix: str, limit: int = 25, scope: Scope = SHARED) -> list[tuple[int, str]]:
        """Titles ``scope`` sees for autocomplete: prefix matches first, then substring matches."""
        norm = normalize_title(prefix)
        where, args = visible_sql(scope, "?")
        with self.db.read() as conn:
            if not norm:
                rows = conn.execute(
                    f"SELECT id, title FROM papers WHERE {where} ORDER BY COALESCE(upvotes, 0) DESC, id DESC LIMIT ?",
                    (*args, limit),
                ).fetchall()
                return [(int(r[0]), str(r[1])) for r in rows]
            like = norm.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            rows = conn.execute(
                f"SELECT id, title FROM papers WHERE norm_title LIKE ? ESCAPE '\\' AND {where}"
                " ORDER BY (norm_title LIKE ? ESCAPE '\\') DESC, COALESCE(upvotes, 0) DESC, id LIMIT ?",
                (f"%{like}%", *args, f"{like}%", limit),
            ).fetchall()
        return [(int(r[0]), str(r[1])) for r in rows]

    def newest_day(self) -> date | None:
        """The most recent day any listing showed a paper."""
        with self.db.read() as conn:
            row = conn.execute("SELECT MAX(day) FROM paper_days").fetchone()
        return date.fromisoformat(row[0]) if row and row[0] else None

    def papers_on(self, day: date, scope: Scope = SHARED) -> list[Paper]:
        """Papers ``scope`` sees that a listing showed on ``day``."""
        where, args = visible_sql(scope, "?", "p.owner")
        with self.db.read() as conn:
            rows = conn.execute(
                f"SELECT {', '.join('p.' + c.strip() for c in COLUMNS.split(','))} FROM papers p"
                f" JOIN paper_days d ON d.paper_id = p.id WHERE d.day = ? AND {where} ORDER BY p.id",
                (day.isoformat(), *args),
            ).fetchall()
        return [row_to_paper(r, listed_on=day) for r in rows]

    def papers_between(self, since: date, until: date, scope: Scope = SHARED) -> list[Paper]:
        """Papers ``scope`` sees that a listing showed on any day from ``since`` to ``until`` (both included),
        each once. ``listed_on`` is the latest of those days.
        """
        where, args = visible_sql(scope, "?", "p.owner")
        with self.db.read() as conn:
            rows = conn.execute(
                f"SELECT {', '.join('p.' + c.strip() for c in COLUMNS.split(','))}, MAX(d.day) AS last_day"
                f" FROM papers p JOIN paper_days d ON d.paper_id = p.id WHERE d.day BETWEEN ? AND ? AND {where}"
                " GROUP BY p.id ORDER BY p.id",
                (since.isoformat(), until.isoformat(), *args),
            ).fetchall()
        return [row_to_paper(r, listed_on=date.fromisoformat(r["last_day"])) for r in rows]

    def source_counts(self) -> dict[str, int]:
        """How many papers each source contributed."""
        with self.db.read() as conn:
            rows = conn.execute("SELECT source, COUNT(*) FROM papers GROUP BY source ORDER BY source").fetchall()
        return {str(r[0]): int(r[1]) for r in rows}
