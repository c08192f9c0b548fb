"""Whole-paper vectors on PostgreSQL: "title. abstract" encoded as ONE text, one float16 vector per paper.

The same table and rules as SQLite's (``retrieval/storage/sqlite/whole.py``): ``paper_whole``
(schema v5) by (paper, model), current while its text hash is the paper's. Search reads a
candidate's whole-paper vector in the same query as its sentence vectors (``index.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import psycopg
from psycopg_pool import ConnectionPool

from retrieval.storage.postgres.schema import LOCK_INGEST

__all__ = ["PgWholeTable", "write_whole"]


def write_whole(conn: psycopg.Connection, paper_id: int, model: str, hash_: str, vec: np.ndarray) -> None:
    """Insert or replace one paper's whole-paper vector (inside the caller's transaction)."""
    conn.execute(
        "INSERT INTO paper_whole (paper_id, model, text_hash, vector) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT (paper_id, model) DO UPDATE SET text_hash = excluded.text_hash, vector = excluded.vector",
        (paper_id, model, hash_, np.ascontiguousarray(vec, dtype="<f2").tobytes()),
    )


class PgWholeTable:
    """The whole-paper vector operations of the PostgreSQL paper store."""

    pool: ConnectionPool

    def papers_without_whole(self, model: str, limit: int) -> list[tuple[int, str, str]]:
        """(id, title, abstract) of up to ``limit`` papers lacking a current whole-paper vector, by id."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT p.id, p.title, p.abstract FROM papers p LEFT JOIN paper_whole w"
                " ON w.paper_id = p.id AND w.model = %s AND w.text_hash = p.text_hash"
                " WHERE w.paper_id IS NULL ORDER BY p.id LIMIT %s",
                (model, limit),
            ).fetchall()
        return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]

    def add_whole(self, model: str, vectors: Mapping[int, tuple[str, np.ndarray]]) -> int:
        """Store whole-paper vectors {id: (text hash, vector)}; papers whose text changed are skipped. Rows written."""
        written = 0
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_INGEST,))
            current = dict(
                conn.execute("SELECT id, text_hash FROM papers WHERE id = ANY(%s)", (list(vectors),)).fetchall()
            )
            for paper_id, (hash_, vec) in vectors.items():
                if current.get(paper_id) == hash_:
                    write_whole(conn, paper_id, model, hash_, vec)
                    written += 1
            if written:  # other processes drop their cached candidates (as vectors.bump_version)
                conn.execute("UPDATE library_meta SET value = (value::bigint + 1)::text WHERE key = 'papers_version'")
        return written

    def whole_vectors(self, model: str, ids: Sequence[int] | None = None) -> dict[int, np.ndarray]:
        """{paper id: float32 vector} of current whole-paper vectors (of ``ids``, or of every paper)."""
        query = (
            "SELECT w.paper_id, w.vector FROM paper_whole w JOIN papers p"
            " ON p.id = w.paper_id AND p.text_hash = w.text_hash WHERE w.model = %s"
        )
        with self.pool.connection() as conn:
            if ids is None:
                rows = conn.execute(query, (model,)).fetchall()
            else:
                rows = conn.execute(f"{query} AND w.paper_id = ANY(%s)", (model, [int(i) for i in ids])).fetchall()
        return {int(r[0]): np.frombuffer(r[1], dtype="<f2").astype(np.float32) for r in rows}
