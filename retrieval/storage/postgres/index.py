"""The vector index on PostgreSQL: pgvector's HNSW over the paper vectors, searched in the database.

HNSW gives the nearest papers; the candidates' rows (paper vector and float16 sentence vectors,
see ``vectors.py``) are fetched in one query and scored in the process, with a small cache shared
by the threads of one question.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from psycopg_pool import ConnectionPool

from retrieval.models import SHARED, Scope
from retrieval.storage.postgres.vectors import CACHE_PAPERS, EF_SEARCH
from retrieval.storage.rules import paper_vectors

if TYPE_CHECKING:
    from retrieval.storage.postgres.store import PgPaperStore


# A candidate's current whole-paper vector, read with its sentence vectors (model as the parameter).
_WHOLE_JOIN = (
    "LEFT JOIN paper_whole w ON w.paper_id = {alias}.paper_id AND w.text_hash = {alias}.text_hash AND w.model = %s"
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
        # The third part is the whole-paper vector (None without one).
        self._cache: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray | None]] = {}
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

    def search(self, query: np.ndarray, k: int, scope: Scope = SHARED) -> list[tuple[int, float]]:
        """(paper id, cosine) of the ``k`` nearest papers ``scope`` sees by HNSW; their sentence vectors come along.

        Other collections' private papers are filtered inside the query (a hashed NOT IN over the few
        private ids, tested as the HNSW scan yields rows).
        """
        vec = np.asarray(query, dtype=np.float32)
        hide, args = "", ()
        if not scope.everything:
            hide = (
                " WHERE paper_id NOT IN (SELECT id FROM papers WHERE owner IS NOT NULL AND owner IS DISTINCT FROM %s)"
            )
            args = (scope.collection,)
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT s.paper_id, s.score, s.sentences, w.vector FROM (SELECT paper_id, text_hash,"
                f" -(embedding <#> %s) AS score, sentences FROM paper_vectors{hide} ORDER BY embedding <#> %s LIMIT %s) s"
                f" {_WHOLE_JOIN.format(alias='s')} ORDER BY s.score DESC",
                (vec, *args, vec, min(int(k), EF_SEARCH), self.model),
                binary=True,
            ).fetchall()
        self._keep([(r[0], r[2], r[3]) for r in rows])
        return [(int(r[0]), float(r[1])) for r in rows]

    def prefetch(self, paper_ids: Sequence[int]) -> None:
        """Read these papers' vectors now (the lexical half does, beside the dense search)."""
        self._fetch(paper_ids)

    def _keep(
        self, rows: Sequence[tuple[int, bytes, bytes | None]]
    ) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
        """Parse (paper id, float16 sentences, float16 whole vector or None) rows into the cache; returns them."""
        rows = [r for r in rows if len(r[1])]
        out: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray | None]] = {}
        if rows:
            # One conversion for every candidate's sentences (per-row numpy calls cost more than the query).
            # The paper vector is their normalized mean, as stored: computed here, not read twice.
            counts = np.array([len(r[1]) // (2 * self.dimension) for r in rows], dtype=np.int64)
            sentences = np.frombuffer(b"".join(r[1] for r in rows), dtype="<f2").reshape(-1, self.dimension)
            sentences = sentences.astype(np.float32)
            means = paper_vectors(sentences, counts)
            starts = np.cumsum(counts) - counts
            for (paper_id, _, whole), start, count, mean in zip(rows, starts, counts, means, strict=True):
                vec = np.frombuffer(whole, dtype="<f2").astype(np.float32) if whole else None
                out[int(paper_id)] = (mean, sentences[start : start + count], vec)
        with self._cache_lock:
            if len(self._cache) + len(out) > CACHE_PAPERS:
                self._cache = {}
            self._cache.update(out)
        return out

    def _fetch(self, paper_ids: Sequence[int]) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
        """(paper vector, sentence vectors) of these papers (those without vectors left out)."""
        with self._cache_lock:
            cache = self._cache
        found = {int(p): cache[int(p)] for p in paper_ids if int(p) in cache}
        missing = [int(p) for p in paper_ids if int(p) not in found]
        if missing:
            with self.pool.connection() as conn:
                rows = conn.execute(
                    f"SELECT v.paper_id, v.sentences, w.vector FROM paper_vectors v {_WHOLE_JOIN.format(alias='v')}"
                    " WHERE v.paper_id = ANY(%s)",
                    (self.model, missing),
                    binary=True,
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

    def whole_scores(self, query: np.ndarray, paper_ids: Sequence[int]) -> np.ndarray:
        """Cosine of the query with each paper's whole-paper vector (NaN for papers without one)."""
        rows = self._fetch(paper_ids)
        q = np.asarray(query, dtype=np.float32)
        out = np.full(len(paper_ids), np.nan, dtype=np.float32)
        for j, pid in enumerate(paper_ids):
            found = rows.get(pid)
            if found is not None and found[2] is not None:
                out[j] = float(found[2] @ q)
        return out

    def sentence_scores(self, query: np.ndarray, paper_id: int) -> np.ndarray:
        """Cosine of the query with each sentence of a paper's abstract, in order."""
        found = self._fetch([paper_id]).get(paper_id)
        if found is None:
            return np.zeros(0, dtype=np.float32)
        return found[1] @ np.asarray(query, dtype=np.float32)
