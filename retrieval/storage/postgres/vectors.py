"""Vectors in PostgreSQL: pgvector HNSW over paper vectors, sentence vectors fetched for candidates.

Each paper has one row in ``paper_vectors``: its vector (``vector(d)``, HNSW, inner product on
normalized vectors = cosine) and its sentences' vectors as one float16 ``bytea`` (n x d,
row-major). Search asks HNSW for the nearest papers, then fetches the candidates' rows in one
query and scores paper and sentence cosines in the process; sentence vectors never need an
index of their own, and half precision halves what is stored and read.

Papers and their vectors are written in the same transaction, chunk by chunk: a kill at any
point leaves whole chunks, and the next run embeds only what has no vectors.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import psycopg
from psycopg_pool import ConnectionPool

from retrieval.models import Paper, UpsertReport
from retrieval.storage.postgres.schema import LOCK_INGEST, LOCK_MIGRATE, vector_table_sql
from retrieval.storage.postgres.store import PgPaperStore, bump_version
from retrieval.storage.protocol import ProgressFactory, iter_chunks
from retrieval.storage.sqlite.index import SPLITTER_VERSION, paper_vectors
from retrieval.text import split_sentences, text_hash

if TYPE_CHECKING:
    from retrieval.encoder.embedder import Embedder

log = logging.getLogger(__name__)

# Papers embedded and committed per transaction.
CHUNK = 128
# HNSW candidates examined per query (pgvector's default 40 would cap results at 40).
EF_SEARCH = 200


def embed_texts(embedder: Embedder, texts: Sequence[tuple[str, str]]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Paper vectors (mean of sentence vectors) and each paper's float16 sentence vectors."""
    sentences = [split_sentences(abstract) or [abstract] for _, abstract in texts]
    flat = [s for group in sentences for s in group]
    vectors = embedder.encode(flat) if flat else np.zeros((0, embedder.dimension), np.float32)
    counts = np.array([len(g) for g in sentences], dtype=np.int64)
    docs = paper_vectors(vectors, counts) if len(counts) else np.zeros((0, embedder.dimension), np.float32)
    bounds = np.concatenate([[0], np.cumsum(counts)])
    per_paper = [vectors[bounds[i] : bounds[i + 1]].astype(np.float16) for i in range(len(texts))]
    return docs, per_paper


def _array(value: object) -> np.ndarray:
    """A fetched ``vector`` as float32 (pgvector returns its own Vector type)."""
    to_numpy = getattr(value, "to_numpy", None)
    return np.asarray(to_numpy() if to_numpy else value, dtype=np.float32)


class PgVectorIndex:
    """:class:`retrieval.storage.protocol.VectorIndex` in PostgreSQL."""

    index_type = "pgvector-hnsw"

    def __init__(self, pool: ConnectionPool, embedder: Embedder, progress: ProgressFactory | None = None) -> None:
        self.pool = pool
        self.embedder = embedder
        self.progress = progress
        self._size: int | None = None
        self._sentences: int | None = None
        self._version: str | None = None
        # The last candidates' rows: doc_scores, best_sentence_scores and sentence_scores share one fetch.
        self._rows_key: tuple[int, ...] = ()
        self._rows: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    @classmethod
    def open(
        cls, pool: ConnectionPool, store: PgPaperStore, embedder: Embedder, progress: ProgressFactory | None = None
    ) -> PgVectorIndex:
        """Create (or, for another model, replace) the vector table, then embed papers that lack vectors."""
        index = cls(pool, embedder, progress)
        index._ensure_table()
        index.sync(store)
        return index

    def _ensure_table(self) -> None:
        want = {
            "vector_model": self.embedder.name,
            "vector_dimension": str(self.embedder.dimension),
            "vector_splitter": str(SPLITTER_VERSION),
        }
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_MIGRATE,))
            have = dict(conn.execute("SELECT key, value FROM library_meta WHERE key LIKE 'vector_%%'").fetchall())
            exists = conn.execute("SELECT to_regclass('paper_vectors') IS NOT NULL").fetchone()
            if have == want and exists and exists[0]:
                return
            if exists and exists[0]:
                log.warning("stored vectors were built by %s; replacing them (papers are re-embedded)", have)
                conn.execute("DROP TABLE paper_vectors")
            conn.execute(vector_table_sql(self.embedder.dimension))  # type: ignore[arg-type]
            for key, value in want.items():
                conn.execute(
                    "INSERT INTO library_meta (key, value) VALUES (%s, %s)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (key, value),
                )
            bump_version(conn)

    # -- writing -------------------------------------------------------------------------

    def write_vectors(self, conn: psycopg.Connection, ids: Sequence[int], texts: dict[int, tuple[str, str]]) -> int:
        """Embed ``ids``' texts and store their vectors in ``conn``'s transaction; returns how many."""
        ids = [i for i in ids if i in texts]
        if not ids:
            return 0
        docs, sentences = embed_texts(self.embedder, [texts[i] for i in ids])
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO paper_vectors (paper_id, text_hash, embedding, sentences, n_sentences)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (paper_id) DO UPDATE SET text_hash = excluded.text_hash,"
                " embedding = excluded.embedding, sentences = excluded.sentences, n_sentences = excluded.n_sentences",
                [
                    (pid, text_hash(*texts[pid]), docs[j], sentences[j].tobytes(), len(sentences[j]))
                    for j, pid in enumerate(ids)
                ],
            )
        bump_version(conn)
        return len(ids)

    def ingest(self, store: PgPaperStore, papers: Sequence[Paper]) -> UpsertReport:  # type: ignore[override]
        """Upsert papers and embed the new or changed ones, committing each chunk's papers with their vectors."""
        report = UpsertReport()
        for chunk in iter_chunks(list(papers), CHUNK):
            with self.pool.connection() as conn, conn.transaction():
                # One writer at a time: two processes importing the same paper must not both insert it.
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_INGEST,))
                part = store.upsert_in(conn, chunk)
                changed = part.new + part.updated
                self.write_vectors(conn, changed, store.texts(changed, conn))
            report.new += part.new
            report.updated += part.updated
            report.unchanged += part.unchanged
        store.clear_term_caches()
        self._forget()
        return report

    def sync(self, store: PgPaperStore) -> None:  # type: ignore[override]
        """Embed papers without vectors (or whose text changed since), chunk by chunk (resumes a killed import)."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT p.id FROM papers p LEFT JOIN paper_vectors v ON v.paper_id = p.id"
                " WHERE v.paper_id IS NULL OR v.text_hash <> p.text_hash ORDER BY p.id"
            ).fetchall()
        missing = [int(r[0]) for r in rows]
        if not missing:
            return
        started = time.perf_counter()
        tick = self.progress(len(missing), "Embedding papers") if self.progress and len(missing) > 64 else None
        done = 0
        for chunk in iter_chunks(missing, CHUNK):
            with self.pool.connection() as conn, conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_INGEST,))
                # Another process may have embedded these while we waited for the lock.
                still = conn.execute(
                    "SELECT p.id FROM papers p LEFT JOIN paper_vectors v ON v.paper_id = p.id"
                    " WHERE p.id = ANY(%s) AND (v.paper_id IS NULL OR v.text_hash <> p.text_hash)",
                    (list(chunk),),
                ).fetchall()
                todo = [int(r[0]) for r in still]
                done += self.write_vectors(conn, todo, store.texts(todo, conn))
            if tick:
                tick(len(chunk))
        store.clear_term_caches()
        self._forget()
        log.info("embedded %d papers in %.1f s", done, time.perf_counter() - started)

    def rebuild(self, store: PgPaperStore) -> None:  # type: ignore[override]
        """Drop every vector and re-embed all papers."""
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("TRUNCATE paper_vectors")
            bump_version(conn)
        self._forget()
        self.sync(store)

    def refresh(self, store: PgPaperStore) -> None:  # type: ignore[override]
        """Search runs in the database, so others' papers are already visible; only cached counts are dropped."""
        if store.check_version():
            self._forget()

    def _forget(self) -> None:
        self._size = self._sentences = None
        self._rows_key, self._rows = (), {}

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
        """(paper id, cosine) of the ``k`` nearest papers by HNSW."""
        vec = np.asarray(query, dtype=np.float32)
        with self.pool.connection() as conn, conn.transaction():
            conn.execute(f"SET LOCAL hnsw.ef_search = {max(EF_SEARCH, int(k))}")
            rows = conn.execute(
                "SELECT paper_id, -(embedding <#> %s) FROM paper_vectors ORDER BY embedding <#> %s LIMIT %s",
                (vec, vec, int(k)),
            ).fetchall()
        return [(int(r[0]), float(r[1])) for r in rows]

    def _fetch(self, paper_ids: Sequence[int]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        key = tuple(int(i) for i in paper_ids)
        if key == self._rows_key or set(key) <= self._rows.keys():
            return self._rows
        dim = self.embedder.dimension
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT paper_id, embedding, sentences FROM paper_vectors WHERE paper_id = ANY(%s)", (list(key),)
            ).fetchall()
        out = {int(r[0]): (_array(r[1]), np.frombuffer(r[2], dtype=np.float16).reshape(-1, dim)) for r in rows}
        self._rows_key, self._rows = key, out
        return out

    def paper_vector(self, paper_id: int) -> np.ndarray | None:
        """A paper's stored vector."""
        found = self._fetch([paper_id]).get(paper_id)
        return None if found is None else found[0]

    def doc_scores(self, query: np.ndarray, paper_ids: Sequence[int]) -> np.ndarray:
        """Cosine of the query with each paper's vector (0 for papers without one)."""
        rows = self._fetch(paper_ids)
        return np.array([float(rows[p][0] @ query) if p in rows else 0.0 for p in paper_ids], dtype=np.float32).reshape(
            -1
        )

    def best_sentence_scores(self, query: np.ndarray, paper_ids: Sequence[int]) -> np.ndarray:
        """For each paper, the cosine of its best-matching sentence."""
        rows = self._fetch(paper_ids)
        q = np.asarray(query, dtype=np.float32)
        out = np.zeros(len(paper_ids), dtype=np.float32)
        for j, pid in enumerate(paper_ids):
            found = rows.get(pid)
            if found is not None and len(found[1]):
                out[j] = float((found[1].astype(np.float32) @ q).max())
        return out

    def sentence_scores(self, query: np.ndarray, paper_id: int) -> np.ndarray:
        """Cosine of the query with each sentence of a paper's abstract, in order."""
        found = self._fetch([paper_id]).get(paper_id) if paper_id not in self._rows else self._rows[paper_id]
        if found is None:
            return np.zeros(0, dtype=np.float32)
        return found[1].astype(np.float32) @ np.asarray(query, dtype=np.float32)
