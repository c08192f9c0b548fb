"""Whole-paper vectors on SQLite: "title. abstract" encoded as ONE text, one float16 vector per paper.

A paper's sentence vectors (``vectors.py``) cover each sentence; its whole-paper vector is the
model's own reading of the paper at once (first 256 tokens), a signal of whether a question is
about the paper at all (abstention) and a ranking feature. Stored in ``paper_whole`` (schema v4)
by (paper, model), current while its text hash is the paper's. Written with the paper at ingest
(``upsert_with_vectors(..., whole=...)``) and, for papers stored before, by the resumable backfill
``retrieval.ingest.embed_missing_whole`` (``papers_without_whole`` / ``add_whole``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from retrieval.storage.sqlite.db import Database

__all__ = ["SqliteWholeTable"]


class SqliteWholeTable:
    """The whole-paper vector operations of the SQLite paper store."""

    db: Database

    @staticmethod
    def _write_whole(conn: sqlite3.Connection, paper_id: int, model: str, hash_: str, vec: np.ndarray) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO paper_whole (paper_id, model, text_hash, vector) VALUES (?, ?, ?, ?)",
            (paper_id, model, hash_, np.ascontiguousarray(vec, dtype="<f2").tobytes()),
        )

    def papers_without_whole(self, model: str, limit: int) -> list[tuple[int, str, str]]:
        """(id, title, abstract) of up to ``limit`` papers lacking a current whole-paper vector, by id."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT p.id, p.title, p.abstract FROM papers p LEFT JOIN paper_whole w"
                " ON w.paper_id = p.id AND w.model = ? AND w.text_hash = p.text_hash"
                " WHERE w.paper_id IS NULL ORDER BY p.id LIMIT ?",
                (model, limit),
            ).fetchall()
        return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]

    def add_whole(self, model: str, vectors: Mapping[int, tuple[str, np.ndarray]]) -> int:
        """Store whole-paper vectors {id: (text hash, vector)}; papers whose text changed are skipped. Rows written."""
        written = 0
        with self.db.transaction() as conn:
            for paper_id, (hash_, vec) in vectors.items():
                row = conn.execute("SELECT text_hash FROM papers WHERE id = ?", (paper_id,)).fetchone()
                if row is not None and row[0] == hash_:
                    self._write_whole(conn, paper_id, model, hash_, vec)
                    written += 1
        return written

    def whole_vectors(self, model: str, ids: Sequence[int] | None = None, batch: int = 900) -> dict[int, np.ndarray]:
        """{paper id: float32 vector} of current whole-paper vectors (of ``ids``, or of every paper)."""
        query = (
            "SELECT w.paper_id, w.vector FROM paper_whole w JOIN papers p"
            " ON p.id = w.paper_id AND p.text_hash = w.text_hash WHERE w.model = ?"
        )
        out: dict[int, np.ndarray] = {}
        with self.db.read() as conn:
            if ids is None:
                rows = conn.execute(query, (model,)).fetchall()
            else:
                rows = []
                for start in range(0, len(ids), batch):
                    chunk = [int(i) for i in ids[start : start + batch]]
                    marks = ",".join("?" * len(chunk))
                    rows += conn.execute(f"{query} AND w.paper_id IN ({marks})", (model, *chunk)).fetchall()
        for paper_id, blob in rows:
            out[int(paper_id)] = np.frombuffer(blob, dtype="<f2").astype(np.float32)
        return out
