"""Collections in SQLite: a server's private papers (``papers.owner``), listed, removed, and hidden from others.

The visibility rule itself is :class:`retrieval.models.Scope` (as SQL: ``rules.visible_sql``); this
mixin of :class:`~retrieval.storage.sqlite.store.SqlitePaperStore` lists and removes a collection's
papers and says which ids a scope must not see (for the lexical postings and the FAISS id selector).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from retrieval.models import Paper, Scope
from retrieval.storage.sqlite.rows import COLUMNS, row_to_paper

if TYPE_CHECKING:
    from retrieval.storage.sqlite.db import Database


class SqliteCollections:
    """The collection operations of the SQLite paper store."""

    db: Database
    _owners: dict[int, str] | None
    _df_version: int
    _hidden: dict[tuple[int, str | None], np.ndarray]

    if TYPE_CHECKING:

        def clear_term_caches(self) -> None:
            """The store's: forget cached statistics."""
            ...

        def _doc_freqs(self, conn: sqlite3.Connection, terms: Sequence[str]) -> dict[str, int]:
            """The store's: refresh the caches when the database changed."""
            ...

    # -- collections ---------------------------------------------------------------------

    def owners(self) -> dict[int, str]:
        """{paper id: owner} of every private paper (cached until the library changes)."""
        with self.db.read() as conn:
            version = int(conn.execute("PRAGMA data_version").fetchone()[0])
            if self._owners is None or version != self._df_version:
                if version != self._df_version:
                    self._doc_freqs(conn, ())
                self._owners = {
                    int(r[0]): str(r[1]) for r in conn.execute("SELECT id, owner FROM papers WHERE owner IS NOT NULL")
                }
            return self._owners

    def collections(self) -> dict[str, int]:
        """Papers per collection."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT owner, COUNT(*) FROM papers WHERE owner IS NOT NULL GROUP BY owner ORDER BY owner"
            ).fetchall()
        return {str(r[0]): int(r[1]) for r in rows}

    def owned(self, collection: str, limit: int = 25, offset: int = 0) -> tuple[list[Paper], int]:
        """A page of a collection's papers (newest first) and how many it has."""
        with self.db.read() as conn:
            total = int(conn.execute("SELECT COUNT(*) FROM papers WHERE owner = ?", (collection,)).fetchone()[0])
            rows = conn.execute(
                f"SELECT {COLUMNS} FROM papers WHERE owner = ? ORDER BY id DESC LIMIT ? OFFSET ?",
                (collection, limit, offset),
            ).fetchall()
        return [row_to_paper(r) for r in rows], total

    def remove_owned(self, collection: str, paper_ids: Sequence[int] | None = None) -> int:
        """Delete papers of a collection (all of them with None); papers of others are never touched."""
        self.clear_term_caches()
        with self.db.transaction() as conn:
            if paper_ids is None:
                return int(conn.execute("DELETE FROM papers WHERE owner = ?", (collection,)).rowcount)
            removed = 0
            for start in range(0, len(paper_ids), 900):
                chunk = list(paper_ids[start : start + 900])
                marks = ",".join("?" * len(chunk))
                removed += int(
                    conn.execute(
                        f"DELETE FROM papers WHERE owner = ? AND id IN ({marks})", (collection, *chunk)
                    ).rowcount
                )
            return removed

    def hidden_ids(self, scope: Scope) -> np.ndarray:
        """Sorted ids of the private papers ``scope`` does not see (what search must leave out); cached."""
        if scope.everything:
            return np.zeros(0, np.int64)
        owners = self.owners()
        key = (id(owners), scope.collection)
        found = self._hidden.get(key)
        if found is None:
            found = np.array(sorted(i for i, o in owners.items() if o != scope.collection), dtype=np.int64)
            if len(self._hidden) > 1000:
                self._hidden.clear()
            self._hidden[key] = found
        return found
