"""Vectors in PostgreSQL: stored with their papers (the ingest operations), searched by pgvector.

Each paper has one row in ``paper_vectors``: its vector (``vector(d)``, the normalized mean of
its sentence vectors, under an HNSW index for inner product = cosine) and its sentences'
vectors as one float16 ``bytea`` (n x d, row-major). Search asks HNSW for the nearest papers,
then fetches the candidates' rows in one query and scores paper and sentence cosines in the
process: sentence vectors need no index of their own, and half precision halves what is stored
and read. One model per database (``library_meta``); another model replaces the table.

:class:`PgVectorTable` holds the store operations that ``retrieval.ingest`` uses (the same set
as ``retrieval.storage.sqlite.vectors``): papers and their vectors commit in one transaction.
The search side is :class:`retrieval.storage.postgres.index.PgVectorIndex`.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterable, Iterator, Mapping, Sequence

import numpy as np
import psycopg
from psycopg_pool import ConnectionPool

from retrieval.models import Paper, UpsertReport
from retrieval.storage.errors import MissingVectors
from retrieval.storage.postgres.rows import row_to_paper
from retrieval.storage.postgres.schema import LOCK_INGEST, LOCK_MIGRATE, vector_table_sql
from retrieval.storage.postgres.whole import write_whole
from retrieval.storage.rules import stored_record

log = logging.getLogger(__name__)

# HNSW candidates examined per query (set on every pooled connection); searches ask for at most 100.
EF_SEARCH = 100
# Papers whose vectors are kept between the steps of a question (and the next few questions).
CACHE_PAPERS = 2000


def bump_version(conn: psycopg.Connection) -> None:
    """Mark papers or vectors as changed, for other processes' caches (inside the writing transaction)."""
    conn.execute("UPDATE library_meta SET value = (value::bigint + 1)::text WHERE key = 'papers_version'")


def mean_vector(sentences: np.ndarray) -> np.ndarray:
    """A paper's vector: the normalized mean of its (float16-stored) sentence vectors, as the FAISS index builds it."""
    total = np.asarray(sentences, dtype=np.float16).astype(np.float32).sum(axis=0)
    return (total / max(float(np.linalg.norm(total)), 1e-12)).astype(np.float32)


# COPY's binary format: signature, flags, header extension length; then rows; then -1.
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_COPY_TRAILER = struct.pack(">h", -1)
VECTOR_COLUMNS = "paper_id, text_hash, embedding, sentences, n_sentences"


def copy_vectors(
    conn: psycopg.Connection, rows: Iterable[tuple[int, str, np.ndarray]], table: str = "paper_vectors"
) -> int:
    """COPY (paper id, text hash, float16 sentence vectors) rows into ``table`` in binary; rows written.

    The bulk path for vectors that already exist (a migration, a benchmark load): each row is
    packed here in COPY's binary format (pgvector's: int16 dimension, int16 unused, big-endian
    float32s), several times faster than adapting each value in Python.
    """
    count = 0
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({VECTOR_COLUMNS}) FROM STDIN WITH (FORMAT BINARY)") as copy:  # type: ignore[arg-type]  # trusted table name
        parts: list[bytes] = [_COPY_HEADER]
        for paper_id, hash_, sentences in rows:
            half = np.ascontiguousarray(sentences, dtype="<f2")
            mean = mean_vector(half).astype(">f4")
            key = hash_.encode()
            blob = half.tobytes()
            parts.append(
                struct.pack(">hiqi", 5, 8, int(paper_id), len(key))
                + key
                + struct.pack(">ihh", 4 + 4 * mean.shape[0], mean.shape[0], 0)
                + mean.tobytes()
                + struct.pack(">i", len(blob))
                + blob
                + struct.pack(">ii", 4, half.shape[0])
            )
            count += 1
            if len(parts) >= 2000:
                copy.write(b"".join(parts))
                parts = []
        parts.append(_COPY_TRAILER)
        copy.write(b"".join(parts))
    return count


def ensure_vector_table(pool: ConnectionPool, model: str, dimension: int) -> None:
    """Create the vector table for ``model`` (replacing one built by another model), under the migration lock."""
    want = {"vector_model": model, "vector_dimension": str(int(dimension))}
    with pool.connection() as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_MIGRATE,))
        have = dict(conn.execute("SELECT key, value FROM library_meta WHERE key LIKE 'vector%%'").fetchall())
        found = conn.execute("SELECT to_regclass('paper_vectors') IS NOT NULL").fetchone()
        exists = bool(found and found[0])
        if exists and have == want:
            return
        if exists:
            log.warning("stored vectors were built by %s; replacing them (papers are re-embedded)", have)
            conn.execute("DROP TABLE paper_vectors")
        conn.execute(vector_table_sql(dimension))  # type: ignore[arg-type]  # trusted SQL, int dimension
        for key, value in want.items():
            conn.execute(
                "INSERT INTO library_meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
        bump_version(conn)


class PgVectorTable:
    """The ingest operations of :class:`~retrieval.storage.postgres.store.PgPaperStore` (see the module doc)."""

    pool: ConnectionPool

    def _write_vectors(self, conn: psycopg.Connection, paper_id: int, hash_: str, vecs: np.ndarray) -> None:
        half = np.ascontiguousarray(vecs, dtype="<f2")
        conn.execute(
            "INSERT INTO paper_vectors (paper_id, text_hash, embedding, sentences, n_sentences)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (paper_id) DO UPDATE SET text_hash = excluded.text_hash,"
            " embedding = excluded.embedding, sentences = excluded.sentences, n_sentences = excluded.n_sentences",
            (paper_id, hash_, mean_vector(half), half.tobytes(), int(half.shape[0])),
        )

    def plan_embedding(self, papers: Sequence[Paper], model: str) -> list[tuple[str, str] | None]:
        """For each paper, the text to embed before it can be upserted, or None when vectors exist."""
        out: list[tuple[str, str] | None] = []
        with self.pool.connection() as conn:
            for paper in papers:
                row, by_id = self._find(conn, paper)  # type: ignore[attr-defined]
                if row is None:
                    out.append((paper.title, paper.abstract))
                    continue
                merged, hash_ = stored_record(row_to_paper(row), paper, by_id)
                found = conn.execute(
                    "SELECT 1 FROM paper_vectors WHERE paper_id = %s AND text_hash = %s", (row[0], hash_)
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
        """Upsert papers and their sentence (and whole-paper) vectors in one transaction; MissingVectors rolls it back."""
        report = UpsertReport()
        with self.pool.connection() as conn, conn.transaction():
            # One writer at a time: two processes importing the same paper must not both insert it.
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_INGEST,))
            missing: set[str] = set()
            for paper in papers:
                paper_id, stored_hash = self._upsert_one(conn, paper, report)  # type: ignore[attr-defined]
                have = conn.execute(
                    "SELECT 1 FROM paper_vectors WHERE paper_id = %s AND text_hash = %s", (paper_id, stored_hash)
                ).fetchone()
                if have:
                    continue
                vecs = vectors.get(stored_hash)
                if vecs is None:
                    missing.add(stored_hash)
                    continue
                self._write_vectors(conn, paper_id, stored_hash, vecs)
                if whole and stored_hash in whole:
                    write_whole(conn, paper_id, model, stored_hash, whole[stored_hash])
            if missing:
                raise MissingVectors(missing)
            bump_version(conn)
        self.clear_term_caches()  # type: ignore[attr-defined]
        return report

    def papers_without_vectors(self, model: str, limit: int) -> list[tuple[int, str, str]]:
        """(id, title, abstract) of up to ``limit`` papers lacking current vectors, by id."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT p.id, p.title, p.abstract FROM papers p LEFT JOIN paper_vectors v"
                " ON v.paper_id = p.id AND v.text_hash = p.text_hash WHERE v.paper_id IS NULL ORDER BY p.id LIMIT %s",
                (limit,),
            ).fetchall()
        return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]

    def add_vectors(self, model: str, vectors: Mapping[int, tuple[str, np.ndarray]]) -> int:
        """Store vectors of existing papers; those whose text changed meanwhile are skipped. Rows written."""
        written = 0
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_INGEST,))
            current = dict(
                conn.execute("SELECT id, text_hash FROM papers WHERE id = ANY(%s)", (list(vectors),)).fetchall()
            )
            for paper_id, (hash_, vecs) in vectors.items():
                if current.get(paper_id) == hash_:
                    self._write_vectors(conn, paper_id, hash_, vecs)
                    written += 1
            if written:
                bump_version(conn)
        return written

    def vector_hashes(self, model: str) -> dict[int, str]:
        """{paper id: text hash} of the papers with current vectors."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT v.paper_id, v.text_hash FROM paper_vectors v JOIN papers p"
                " ON p.id = v.paper_id AND p.text_hash = v.text_hash"
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
            with self.pool.connection() as conn:
                rows = conn.execute(
                    "SELECT v.paper_id, v.text_hash, v.n_sentences, v.sentences FROM paper_vectors v"
                    " JOIN papers p ON p.id = v.paper_id AND p.text_hash = v.text_hash WHERE v.paper_id = ANY(%s)",
                    (chunk,),
                ).fetchall()
            found = {int(r[0]): (str(r[1]), np.frombuffer(r[3], dtype="<f2").reshape(int(r[2]), -1)) for r in rows}
            for paper_id in chunk:
                if paper_id in found:
                    yield paper_id, *found[paper_id]

    def drop_vectors(self, model: str) -> int:
        """Forget every stored vector (forces re-embedding); rows removed."""
        with self.pool.connection() as conn, conn.transaction():
            removed = conn.execute("DELETE FROM paper_vectors").rowcount
            conn.execute("DELETE FROM paper_whole WHERE model = %s", (model,))
            bump_version(conn)
        return int(removed)

    def get_meta(self, key: str) -> str | None:
        """A library-level setting, or None."""
        with self.pool.connection() as conn:
            row = conn.execute("SELECT value FROM library_meta WHERE key = %s", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str | None) -> None:
        """Set (or with None, remove) a library-level setting."""
        with self.pool.connection() as conn:
            if value is None:
                conn.execute("DELETE FROM library_meta WHERE key = %s", (key,))
            else:
                conn.execute(
                    "INSERT INTO library_meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (key, value),
                )
