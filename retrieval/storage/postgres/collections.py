"""Collections in PostgreSQL: a server's private papers (``papers.owner``), listed and removed.

The visibility rule is :class:`retrieval.models.Scope` (as SQL: ``rules.visible_sql``); search
applies it inside its queries (``lexical.py``, ``index.py``). This mixin of
:class:`~retrieval.storage.postgres.store.PgPaperStore` lists and removes a collection's papers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from psycopg_pool import ConnectionPool

from retrieval.models import Paper
from retrieval.storage.postgres.rows import COLUMNS, row_to_paper
from retrieval.storage.postgres.schema import LOCK_INGEST
from retrieval.storage.postgres.vectors import bump_version


class PgCollections:
    """The collection operations of the PostgreSQL paper store."""

    pool: ConnectionPool

    if TYPE_CHECKING:

        def clear_term_caches(self) -> None:
            """The store's: forget cached statistics."""
            ...

    def owners(self) -> dict[int, str]:
        """{paper id: owner} of every private paper."""
        with self.pool.connection() as conn:
            rows = conn.execute("SELECT id, owner FROM papers WHERE owner IS NOT NULL").fetchall()
        return {int(r[0]): str(r[1]) for r in rows}

    def collections(self) -> dict[str, int]:
        """Papers per collection."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT owner, COUNT(*) FROM papers WHERE owner IS NOT NULL GROUP BY owner ORDER BY owner"
            ).fetchall()
        return {str(r[0]): int(r[1]) for r in rows}

    def owned(self, collection: str, limit: int = 25, offset: int = 0) -> tuple[list[Paper], int]:
        """A page of a collection's papers (newest first) and how many it has."""
        with self.pool.connection() as conn:
            total_row = conn.execute("SELECT COUNT(*) FROM papers WHERE owner = %s", (collection,)).fetchone()
            rows = conn.execute(
                f"SELECT {COLUMNS} FROM papers WHERE owner = %s ORDER BY id DESC LIMIT %s OFFSET %s",
                (collection, limit, offset),
            ).fetchall()
        return [row_to_paper(r) for r in rows], int(total_row[0]) if total_row else 0

    def remove_owned(self, collection: str, paper_ids: Sequence[int] | None = None) -> int:
        """Delete papers of a collection (all of them with None); papers of others are never touched."""
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_INGEST,))
            if paper_ids is None:
                cur = conn.execute("DELETE FROM papers WHERE owner = %s", (collection,))
            else:
                cur = conn.execute(
                    "DELETE FROM papers WHERE owner = %s AND id = ANY(%s)", (collection, list(paper_ids))
                )
            removed = int(cur.rowcount)
            if removed:
                bump_version(conn)
        self.clear_term_caches()
        return removed
