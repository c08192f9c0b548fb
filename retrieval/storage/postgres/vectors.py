"""Vectors in PostgreSQL: stored with their papers (the ingest operations), searched by pgvector.

Each paper has one row in ``paper_vectors``: its vector (``vector(d)``, the normalized mean of
its sentence vectors, under an HNSW index for inner product = cosine) and its sentences'
vectors as one float16 ``bytea`` (n x d, row-major). Search asks HNSW for the nearest papers,
then fetches the candidates' rows in one query and scores paper and sentence cosines in the
process: sentence vectors need no index of their own, and half precision halves what is stored
and read. One model per database (``library_meta``); another model replaces the table.

:class:`PgVectorTable` holds the store operations that ``retrieval.ingest`` uses (the same set
as ``retrieval.storage.sqlite.vectors``): papers and their vectors commit in one transaction.
"""

from __future__ import annotations

import logging
import struct
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import psycopg
from psycopg_pool import ConnectionPool

from retrieval.models import Paper, UpsertReport
from retrieval.storage.postgres.schema import LOCK_INGEST, LOCK_MIGRATE, vector_table_sql
from retrieval.storage.protocol import MissingVectors, paper_vectors
from retrieval.text import text_hash

if TYPE_CHECKING:
    from retrieval.storage.postgres.store import PgPaperStore

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
        from retrieval.storage.postgres.store import row_to_paper
        from retrieval.storage.protocol import merge_paper

        out: list[tuple[str, str] | None] = []
        with self.pool.connection() as conn:
            for paper in papers:
                row, by_id = self._find(conn, paper)  # type: ignore[attr-defined]
                if row is None:
                    out.append((paper.title, paper.abstract))
                    continue
                merged = merge_paper(row_to_paper(row), paper, by_id)
                found = conn.execute(
                    "SELECT 1 FROM paper_vectors WHERE paper_id = %s AND text_hash = %s",
                    (row[0], text_hash(merged.title, merged.abstract)),
                ).fetchone()
                out.append(None if found else (merged.title, merged.abstract))
        return out

    def upsert_with_vectors(
        self, papers: Sequence[Paper], model: str, vectors: Mapping[str, np.ndarray]
    ) -> UpsertReport:
        """Upsert papers and their sentence vectors in one transaction; MissingVectors rolls it all back."""
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


class PgVectorIndex:
    """:class:`retrieval.storage.protocol.VectorIndex` in PostgreSQL (search runs in the database)."""

    index_type = "pgvector-hnsw"

    def __init__(self, pool: ConnectionPool, dimension: int, model: str) -> None:
        self.pool = pool
        self.dimension = dimension
        self.model = model
        self._size: int | None = None
        self._sentences: int | None = None
        # Candidates' (paper vector, sentence vectors), shared by the threads of one question (the
        # dense search and the lexical half fill it; the scores read it) and dropped on any write.
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._cache_lock = threading.Lock()

    # -- keeping in line: nothing to build, only caches to drop ---------------------------

    def sync(self, store: PgPaperStore) -> None:  # type: ignore[override]
        """Vectors are searched where they are stored: only cached counts are dropped."""
        self._forget()

    def rebuild(self, store: PgPaperStore) -> None:  # type: ignore[override]
        """Nothing is derived from the stored vectors: only cached counts are dropped."""
        self._forget()

    def refresh(self, store: PgPaperStore) -> None:  # type: ignore[override]
        """Others' papers are already visible to search; cached counts are dropped when they wrote."""
        if store.check_version():
            self._forget()

    def _forget(self) -> None:
        self._size = self._sentences = None
        with self._cache_lock:
            self._cache = {}

    # -- reading -------------------------------------------------------------------------

    def _counts(self) -> tuple[int, int]:
        if self._size is None or self._sentences is None:
            with self.pool.connection() as conn:
                row = conn.execute("SELECT COUNT(*), COALESCE(SUM(n_sentences), 0) FROM paper_vectors").fetchone()
            self._size, self._sentences = (int(row[0]), int(row[1])) if row else (0, 0)
        return self._size, self._sentences

    @property
    def size(self) -> int:
        """Papers with vectors."""
        return self._counts()[0]

    @property
    def sentence_count(self) -> int:
        """Sentence vectors stored."""
        return self._counts()[1]

    def disk_bytes(self) -> int:
        """Bytes of the vector table and its indexes."""
        with self.pool.connection() as conn:
            row = conn.execute("SELECT pg_total_relation_size('paper_vectors')").fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(paper id, cosine) of the ``k`` nearest papers by HNSW; their sentence vectors come along."""
        vec = np.asarray(query, dtype=np.float32)
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT paper_id, -(embedding <#> %s), sentences FROM paper_vectors ORDER BY embedding <#> %s LIMIT %s",
                (vec, vec, min(int(k), EF_SEARCH)),
                binary=True,
            ).fetchall()
        self._keep([(r[0], r[2]) for r in rows])
        return [(int(r[0]), float(r[1])) for r in rows]

    def prefetch(self, paper_ids: Sequence[int]) -> None:
        """Read these papers' vectors now (the lexical half does, beside the dense search)."""
        self._fetch(paper_ids)

    def _keep(self, rows: Sequence[tuple[int, bytes]]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Parse (paper id, float16 sentences) rows into the cache; returns them parsed."""
        rows = [r for r in rows if len(r[1])]
        out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        if rows:
            # One conversion for every candidate's sentences (per-row numpy calls cost more than the query).
            # The paper vector is their normalized mean, as stored: computed here, not read twice.
            counts = np.array([len(r[1]) // (2 * self.dimension) for r in rows], dtype=np.int64)
            sentences = np.frombuffer(b"".join(r[1] for r in rows), dtype="<f2").reshape(-1, self.dimension)
            sentences = sentences.astype(np.float32)
            means = paper_vectors(sentences, counts)
            starts = np.cumsum(counts) - counts
            for (paper_id, _), start, count, mean in zip(rows, starts, counts, means, strict=True):
                out[int(paper_id)] = (mean, sentences[start : start + count])
        with self._cache_lock:
            if len(self._cache) + len(out) > CACHE_PAPERS:
                self._cache = {}
            self._cache.update(out)
        return out

    def _fetch(self, paper_ids: Sequence[int]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """(paper vector, sentence vectors) of these papers (those without vectors left out)."""
        with self._cache_lock:
            cache = self._cache
        found = {int(p): cache[int(p)] for p in paper_ids if int(p) in cache}
        missing = [int(p) for p in paper_ids if int(p) not in found]
        if missing:
            with self.pool.connection() as conn:
                rows = conn.execute(
                    "SELECT paper_id, sentences FROM paper_vectors WHERE paper_id = ANY(%s)", (missing,), binary=True
                ).fetchall()
            found.update(self._keep(rows))
        return found

    def paper_vector(self, paper_id: int) -> np.ndarray | None:
        """A paper's stored vector."""
        found = self._fetch([paper_id]).get(paper_id)
        return None if found is None else found[0]

    def doc_scores(self, query: np.ndarray, paper_ids: Sequence[int]) -> np.ndarray:
        """Cosine of the query with each paper's vector (0 for papers without one)."""
        rows = self._fetch(paper_ids)
        q = np.asarray(query, dtype=np.float32)
        return np.array([float(rows[p][0] @ q) if p in rows else 0.0 for p in paper_ids], dtype=np.float32)

    def best_sentence_scores(self, query: np.ndarray, paper_ids: Sequence[int]) -> np.ndarray:
        """For each paper, the cosine of its best-matching sentence."""
        rows = self._fetch(paper_ids)
        q = np.asarray(query, dtype=np.float32)
        out = np.zeros(len(paper_ids), dtype=np.float32)
        for j, pid in enumerate(paper_ids):
            found = rows.get(pid)
            if found is not None and len(found[1]):
                out[j] = float((found[1] @ q).max())
        return out

    def sentence_scores(self, query: np.ndarray, paper_id: int) -> np.ndarray:
        """Cosine of the query with each sentence of a paper's abstract, in order."""
        found = self._fetch([paper_id]).get(paper_id)
        if found is None:
            return np.zeros(0, dtype=np.float32)
        return found[1] @ np.asarray(query, dtype=np.float32)
