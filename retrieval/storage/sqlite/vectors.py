"""The storage side of ingest: sentence vectors stored with their papers (SQLite).

These are the only operations the ingest pipeline (``retrieval.ingest``) and the dense index
need from a store; another backend implements the same set with the same plain types:

- ``plan_embedding(papers, model)``: for each incoming paper, the (title, abstract) it will be
  stored with if that text has no vectors for ``model`` yet, else None (read-only).
- ``upsert_with_vectors(papers, model, vectors)``: upsert papers and store every touched paper's
  sentence vectors (``vectors`` maps a text hash to a (sentences, dimension) array), in ONE
  transaction; raises :class:`MissingVectors` (and writes nothing) when a paper would be left
  without vectors, e.g. because another process changed its text since the plan.
- ``papers_without_vectors(model, limit)``: (id, title, abstract) of stored papers lacking current
  vectors for ``model`` (a model change, papers written by a plain ``upsert``).
- ``add_vectors(model, vectors)``: store vectors for existing papers, {id: (text hash, array)},
  skipping papers whose text changed meanwhile; one transaction.
- ``vector_hashes(model)``: {paper id: text hash} of the current vectors (cheap, no blobs).
- ``iter_vectors(model, ids)``: (paper id, text hash, float16 array) of current vectors, by id.
- ``drop_vectors(model)``, ``get_meta(key)``, ``set_meta(key, value)``.

"Current" means stored for the paper's present text (same text hash). Vectors are float16
(half the bytes; cosine changes by < 1e-3), rows of one paper in sentence order.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from retrieval.models import Paper, UpsertReport
from retrieval.storage.errors import MissingVectors
from retrieval.storage.rules import stored_record
from retrieval.storage.sqlite.rows import row_to_paper

__all__ = ["MissingVectors", "SqliteVectorTable", "from_blob", "to_blob"]

if TYPE_CHECKING:
    from retrieval.storage.sqlite.db import Database

_CURRENT = (
    "SELECT v.paper_id, v.text_hash, v.count, v.dimension, v.vectors FROM paper_vectors v"
    " JOIN papers p ON p.id = v.paper_id AND p.text_hash = v.text_hash WHERE v.model = ?"
)


def to_blob(vectors: np.ndarray) -> bytes:
    """float16 little-endian bytes of a (sentences, dimension) array."""
    return np.ascontiguousarray(vectors, dtype="<f2").tobytes()


def from_blob(blob: bytes, count: int, dimension: int) -> np.ndarray:
    """The (count, dimension) float16 array of :func:`to_blob`."""
    return np.frombuffer(blob, dtype="<f2").reshape(count, dimension)


class SqliteVectorTable:
    """Vector operations of :class:`~retrieval.storage.sqlite.store.SqlitePaperStore` (see the module doc)."""

    db: Database

    # SqlitePaperStore provides _find, _merge, _upsert_one and clear_term_caches (the paper-writing path).

    def plan_embedding(self, papers: Sequence[Paper], model: str) -> list[tuple[str, str] | None]:
        """For each paper, the text to embed before it can be upserted, or None when vectors exist."""
        out: list[tuple[str, str] | None] = []
        with self.db.read() as conn:
            for paper in papers:
                row, by_id = self._find(conn, paper)
                if row is None:
                    out.append((paper.title, paper.abstract))
                    continue
                merged, hash_ = stored_record(row_to_paper(row), paper, by_id)
                found = conn.execute(
                    "SELECT 1 FROM paper_vectors WHERE paper_id = ? AND model = ? AND text_hash = ?",
                    (row["id"], model, hash_),
                ).fetchone()
                out.append(None if found else (merged.title, merged.abstract))
        return out

    def upsert_with_vectors(
        self,
        papers: Sequence[Paper],
        model: str,
        vectors: Mapping[str, np.ndarray],
        whole: Mapping[str, np.ndarray] | None = None,
    ) -> UpsertReport:
        """Upsert papers and their sentence vectors (and whole-paper vectors, by text hash) in one transaction."""
        report = UpsertReport()
        self.clear_term_caches()
        with self.db.transaction() as conn:
            # Each paper's text as it stands after the whole chunk (two records of one paper: the last).
            final: dict[int, str] = {}
            for paper in papers:
                paper_id, stored_hash = self._upsert_one(conn, paper, report)
                final[paper_id] = stored_hash
            missing: set[str] = set()
            for paper_id, stored_hash in final.items():
                have = conn.execute(
                    "SELECT 1 FROM paper_vectors WHERE paper_id = ? AND model = ? AND text_hash = ?",
                    (paper_id, model, stored_hash),
                ).fetchone()
                if have:
                    continue
                vecs = vectors.get(stored_hash)
                if vecs is None:
                    missing.add(stored_hash)
                    continue
                self._write_vectors(conn, paper_id, model, stored_hash, vecs)
                if whole and stored_hash in whole:
                    self._write_whole(conn, paper_id, model, stored_hash, whole[stored_hash])  # type: ignore[attr-defined]
            if missing:
                raise MissingVectors(missing)  # rolls the whole chunk back
        return report

    @staticmethod
    def _write_vectors(conn: sqlite3.Connection, paper_id: int, model: str, hash_: str, vecs: np.ndarray) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO paper_vectors (paper_id, model, text_hash, count, dimension, vectors)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (paper_id, model, hash_, int(vecs.shape[0]), int(vecs.shape[1]), to_blob(vecs)),
        )

    def papers_without_vectors(self, model: str, limit: int) -> list[tuple[int, str, str]]:
        """(id, title, abstract) of up to ``limit`` papers lacking current vectors for ``model``, by id."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT p.id, p.title, p.abstract FROM papers p LEFT JOIN paper_vectors v"
                " ON v.paper_id = p.id AND v.model = ? AND v.text_hash = p.text_hash"
                " WHERE v.paper_id IS NULL ORDER BY p.id LIMIT ?",
                (model, limit),
            ).fetchall()
        return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]

    def add_vectors(self, model: str, vectors: Mapping[int, tuple[str, np.ndarray]]) -> int:
        """Store vectors of existing papers; those whose text changed meanwhile are skipped. Rows written."""
        written = 0
        with self.db.transaction() as conn:
            for paper_id, (hash_, vecs) in vectors.items():
                row = conn.execute("SELECT text_hash FROM papers WHERE id = ?", (paper_id,)).fetchone()
                if row is not None and row[0] == hash_:
                    self._write_vectors(conn, paper_id, model, hash_, vecs)
                    written += 1
        return written

    def vector_hashes(self, model: str) -> dict[int, str]:
        """{paper id: text hash} of the papers with current vectors for ``model``."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT v.paper_id, v.text_hash FROM paper_vectors v"
                " JOIN papers p ON p.id = v.paper_id AND p.text_hash = v.text_hash WHERE v.model = ?",
                (model,),
            ).fetchall()
        return {int(r[0]): str(r[1]) for r in rows}

    def iter_vectors(
        self, model: str, ids: Sequence[int] | None = None, batch: int = 500
    ) -> Iterator[tuple[int, str, np.ndarray]]:
        """(paper id, text hash, float16 (sentences, dimension)) of current vectors: ``ids`` in order, or all by id."""
        if ids is None:
            ids = sorted(self.vector_hashes(model))
        for start in range(0, len(ids), batch):
            chunk = list(ids[start : start + batch])
            marks = ",".join("?" * len(chunk))
            with self.db.read() as conn:
                rows = conn.execute(f"{_CURRENT} AND v.paper_id IN ({marks})", (model, *chunk)).fetchall()
            found = {int(r[0]): (str(r[1]), from_blob(r[4], int(r[2]), int(r[3]))) for r in rows}
            for paper_id in chunk:
                if paper_id in found:
                    yield paper_id, *found[paper_id]

    def drop_vectors(self, model: str) -> int:
        """Forget every vector of ``model`` (forces re-embedding); rows removed."""
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM paper_whole WHERE model = ?", (model,))
            return int(conn.execute("DELETE FROM paper_vectors WHERE model = ?", (model,)).rowcount)

    def get_meta(self, key: str) -> str | None:
        """A library-level setting (e.g. an unfinished seeding), or None."""
        with self.db.read() as conn:
            row = conn.execute("SELECT value FROM library_meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str | None) -> None:
        """Set (or with None, remove) a library-level setting."""
        with self.db.transaction() as conn:
            if value is None:
                conn.execute("DELETE FROM library_meta WHERE key = ?", (key,))
            else:
                conn.execute("INSERT OR REPLACE INTO library_meta (key, value) VALUES (?, ?)", (key, value))
