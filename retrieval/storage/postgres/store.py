"""Papers in PostgreSQL: the same merge rules as SQLite; lexical search is in ``lexical.py``.

Per-process caches (term statistics, the paper count) are dropped when ``papers_version``
changes, checked at most every :data:`CHECK_EVERY` seconds, so other processes' papers show
within seconds.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from retrieval.models import SHARED, Paper, Scope, UpsertReport
from retrieval.storage.postgres.collections import PgCollections
from retrieval.storage.postgres.lexical import PRUNE_FROM, PgLexicalSearch
from retrieval.storage.postgres.rows import COLUMNS, row_to_paper
from retrieval.storage.postgres.schema import LOCK_INGEST
from retrieval.storage.postgres.vectors import PgVectorTable, bump_version
from retrieval.storage.postgres.whole import PgWholeTable
from retrieval.storage.rules import stored_record, visible_sql
from retrieval.text import normalize_title, text_hash, title_slug

log = logging.getLogger(__name__)

# Seconds between checks of papers_version (other processes' writes).
CHECK_EVERY = 5.0


class PgPaperStore(PgCollections, PgLexicalSearch, PgVectorTable, PgWholeTable):
    """:class:`retrieval.storage.protocol.PaperStore` over a connection pool."""

    def __init__(self, pool: ConnectionPool, prune_from: int = PRUNE_FROM) -> None:
        self.pool = pool
        self.prune_from = prune_from
        self._lock = threading.Lock()
        self._version: str | None = None
        self._checked = 0.0
        self._df: dict[str, int] = {}
        self._selected: dict[tuple[str, ...], list[str]] = {}
        self._lexeme: dict[str, str] = {}
        self._totals: tuple[int, float] | None = None

    # -- change marker -------------------------------------------------------------------

    def version(self) -> str:
        """``papers_version``: changes with every committed write to papers or vectors, by any process."""
        with self.pool.connection() as conn:
            row = conn.execute("SELECT value FROM library_meta WHERE key = 'papers_version'").fetchone()
        return str(row[0]) if row else ""

    def check_version(self, force: bool = False) -> bool:
        """Drop cached statistics if another process wrote since the last check; True when it did."""
        now = time.monotonic()
        if not force and now - self._checked < CHECK_EVERY:
            return False
        self._checked = now
        current = self.version()
        if current == self._version:
            return False
        self._version = current
        self.clear_term_caches()
        return True

    def clear_term_caches(self) -> None:
        """Forget the paper count and term statistics (refilled on the next search)."""
        with self._lock:
            self._totals = None
            self._df.clear()
            self._selected.clear()

    # -- writing -------------------------------------------------------------------------

    def upsert(self, papers: Iterable[Paper]) -> UpsertReport:
        """Insert new papers and merge known ones, in one transaction."""
        report = UpsertReport()
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_INGEST,))
            for paper in papers:
                self._upsert_one(conn, paper, report)
            if report.new or report.updated:
                bump_version(conn)
        self.clear_term_caches()
        return report

    @staticmethod
    def _find(conn: psycopg.Connection, paper: Paper) -> tuple[Sequence[Any] | None, bool]:
        # Only a paper of the same owner: a private record never merges into the shared library or
        # into another collection, nor a shared one into a collection.
        owner = paper.owner
        if paper.arxiv_id:
            row = conn.execute(
                f"SELECT {COLUMNS} FROM papers WHERE arxiv_id = %s AND owner IS NOT DISTINCT FROM %s",
                (paper.arxiv_id, owner),
            ).fetchone()
            if row:
                return row, True
        if paper.ext_id:
            row = conn.execute(
                f"SELECT {COLUMNS} FROM papers WHERE ext_id = %s AND owner IS NOT DISTINCT FROM %s",
                (paper.ext_id, owner),
            ).fetchone()
            if row:
                return row, True
        rows = conn.execute(
            f"SELECT {COLUMNS} FROM papers WHERE norm_title = %s AND owner IS NOT DISTINCT FROM %s ORDER BY id",
            (normalize_title(paper.title), owner),
        ).fetchall()
        for row in rows:
            if not (paper.arxiv_id and row[2] and row[2] != paper.arxiv_id):
                return row, False
        return None, False

    def _upsert_one(self, conn: psycopg.Connection, paper: Paper, report: UpsertReport) -> tuple[int, str]:
        """Insert or merge one paper; (its row id, the text hash it is stored with)."""
        row, by_id = self._find(conn, paper)
        if row is None:
            stored_hash = text_hash(paper.title, paper.abstract)
            found = conn.execute(
                "INSERT INTO papers (ext_id, arxiv_id, title, norm_title, abstract, url, authors, author_count,"
                " published, upvotes, github, project_page, source, text_hash, owner)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                (
                    paper.ext_id or paper.arxiv_id or title_slug(paper.title),
                    paper.arxiv_id,
                    paper.title,
                    normalize_title(paper.title),
                    paper.abstract,
                    paper.url,
                    json.dumps(list(paper.authors)),
                    paper.author_count if paper.author_count is not None else (len(paper.authors) or None),
                    paper.published,
                    paper.upvotes,
                    paper.github,
                    paper.project_page,
                    paper.source,
                    stored_hash,
                    paper.owner,
                ),
            ).fetchone()
            assert found is not None
            paper_id = int(found[0])
            report.new.append(paper_id)
        else:
            paper_id = int(row[0])
            old = row_to_paper(row)
            merged, stored_hash = stored_record(old, paper, by_id)
            if merged != old:
                conn.execute(
                    "UPDATE papers SET arxiv_id=%s, title=%s, norm_title=%s, abstract=%s, url=%s, authors=%s,"
                    " author_count=%s, published=%s, upvotes=%s, github=%s, project_page=%s, text_hash=%s,"
                    " updated_at=now() WHERE id=%s",
                    (
                        merged.arxiv_id,
                        merged.title,
                        normalize_title(merged.title),
                        merged.abstract,
                        merged.url,
                        json.dumps(list(merged.authors)),
                        merged.author_count,
                        merged.published,
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
                "INSERT INTO paper_days (paper_id, day) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (paper_id, paper.listed_on),
            )
        return paper_id, stored_hash

    # -- reading -------------------------------------------------------------------------

    def count(self, scope: Scope | None = None) -> int:
        """Number of papers: every one (None; cached until another write is seen), or those ``scope`` sees."""
        if scope is None or scope.everything:
            return self._lexical_totals()[0]
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT (SELECT papers FROM lexical_totals) - (SELECT COUNT(*) FROM papers WHERE owner IS NOT NULL"
                " AND owner IS DISTINCT FROM %s)",
                (scope.collection,),
            ).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def get(self, paper_id: int, scope: Scope = SHARED) -> Paper | None:
        """One paper by row id, if ``scope`` sees it."""
        return self.get_many([paper_id], scope).get(paper_id)

    def get_many(self, paper_ids: Sequence[int], scope: Scope = SHARED) -> dict[int, Paper]:
        """Papers by row id that ``scope`` sees (missing and hidden ids left out)."""
        if not paper_ids:
            return {}
        where, args = visible_sql(scope, "%s")
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT {COLUMNS} FROM papers WHERE id = ANY(%s) AND {where}", (list(paper_ids), *args)
            ).fetchall()
        return {int(r[0]): row_to_paper(r) for r in rows}

    def get_by_ext_id(self, ext_id: str, scope: Scope = SHARED) -> Paper | None:
        """One paper by its public id or arXiv id that ``scope`` sees; the collection's own first."""
        where, args = visible_sql(scope, "%s")
        with self.pool.connection() as conn:
            row = conn.execute(
                f"SELECT {COLUMNS} FROM papers WHERE (ext_id = %s OR arxiv_id = %s) AND {where}"
                " ORDER BY owner IS NULL, id LIMIT 1",
                (ext_id, ext_id, *args),
            ).fetchone()
        return row_to_paper(row) if row else None

    def id_hashes(self) -> dict[int, str]:
        """Every paper's id and text hash."""
        with self.pool.connection() as conn:
            return {int(r[0]): str(r[1]) for r in conn.execute("SELECT id, text_hash FROM papers")}

    def find_exact(self, query: str, scope: Scope = SHARED) -> list[int]:
        """Ids of papers ``scope`` sees whose normalized title, arXiv id or public id equals the query."""
        norm = normalize_title(query)
        if not norm:
            return []
        where, args = visible_sql(scope, "%s")
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT id FROM papers WHERE (norm_title = %s OR arxiv_id = %s OR ext_id = %s) AND {where} ORDER BY id",
                (norm, query.strip(), query.strip(), *args),
            ).fetchall()
        return [int(r[0]) for r in rows]

    def suggest_titles(self, prefix: str, limit: int = 25, scope: Scope = SHARED) -> list[tuple[int, str]]:
        """Titles ``scope`` sees for autocomplete: prefix matches first, then substring matches (trigram index)."""
        norm = normalize_title(prefix)
        where, args = visible_sql(scope, "%s")
        with self.pool.connection() as conn:
            if not norm:
                rows = conn.execute(
                    f"SELECT id, title FROM papers WHERE {where} ORDER BY COALESCE(upvotes, 0) DESC, id DESC LIMIT %s",
                    (*args, limit),
                ).fetchall()
            else:
                like = norm.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                rows = conn.execute(
                    f"SELECT id, title FROM papers WHERE norm_title LIKE %s AND {where}"
                    " ORDER BY (norm_title LIKE %s) DESC, COALESCE(upvotes, 0) DESC, id LIMIT %s",
                    (f"%{like}%", *args, f"{like}%", limit),
                ).fetchall()
        return [(int(r[0]), str(r[1])) for r in rows]

    def newest_day(self) -> date | None:
        """The most recent day any listing showed a paper."""
        with self.pool.connection() as conn:
            row = conn.execute("SELECT MAX(day) FROM paper_days").fetchone()
        return row[0] if row else None

    def papers_on(self, day: date, scope: Scope = SHARED) -> list[Paper]:
        """Papers ``scope`` sees that a listing showed on ``day``."""
        cols = ", ".join("p." + c.strip() for c in COLUMNS.split(","))
        where, args = visible_sql(scope, "%s", "p.owner")
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT {cols} FROM papers p JOIN paper_days d ON d.paper_id = p.id WHERE d.day = %s AND {where}"
                " ORDER BY p.id",
                (day, *args),
            ).fetchall()
        return [row_to_paper(r, listed_on=day) for r in rows]

    def papers_between(self, since: date, until: date, scope: Scope = SHARED) -> list[Paper]:
        """Papers ``scope`` sees that a listing showed on any day from ``since`` to ``until`` (both included),
        each once. ``listed_on`` is the latest of those days.
        """
        cols = ", ".join("p." + c.strip() for c in COLUMNS.split(","))
        where, args = visible_sql(scope, "%s", "p.owner")
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT {cols}, MAX(d.day) FROM papers p JOIN paper_days d ON d.paper_id = p.id"
                f" WHERE d.day BETWEEN %s AND %s AND {where} GROUP BY p.id ORDER BY p.id",
                (since, until, *args),
            ).fetchall()
        return [row_to_paper(r, listed_on=r[-1]) for r in rows]

    def source_counts(self) -> dict[str, int]:
        """How many papers each source contributed."""
        with self.pool.connection() as conn:
            rows = conn.execute("SELECT source, COUNT(*) FROM papers GROUP BY source ORDER BY source").fetchall()
        return {str(r[0]): int(r[1]) for r in rows}
