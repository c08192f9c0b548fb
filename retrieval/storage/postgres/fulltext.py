"""Full texts and thread contexts in PostgreSQL (schema v5), as SQLite keeps them."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from psycopg_pool import ConnectionPool

from retrieval.models import FullText, FullTextRecord, ThreadContext
from retrieval.storage.rules import sections_from_rows, sentence_rows


class PgFullTextStore:
    """:class:`retrieval.storage.protocol.FullTextStore` over a connection pool."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def get_fulltext(self, paper_id: int) -> FullTextRecord | None:
        """The stored full text or failure of a paper."""
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT status, source, reason, fetched_at, truncated, model FROM fulltexts WHERE paper_id = %s",
                (paper_id,),
            ).fetchone()
            if row is None:
                return None
            rows = conn.execute(
                "SELECT section, heading, text FROM fulltext_sentences WHERE paper_id = %s ORDER BY position",
                (paper_id,),
            ).fetchall()
        status, source, reason, fetched, truncated, model = row
        text = FullText(source, sections_from_rows([tuple(r) for r in rows]), fetched, bool(truncated))
        return FullTextRecord(paper_id, status, fetched, text if status == "ok" else None, reason, model)

    def fulltext_vectors(self, paper_id: int, model: str) -> np.ndarray | None:
        """The sentence vectors of a stored full text for ``model``."""
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT dimension, vectors FROM fulltexts WHERE paper_id = %s AND model = %s AND status = 'ok'",
                (paper_id, model),
            ).fetchone()
        if row is None or row[1] is None:
            return None
        return np.frombuffer(bytes(row[1]), dtype=np.float16).reshape(-1, row[0]).astype(np.float32)

    def save_fulltext(self, paper_id: int, text: FullText, model: str, vectors: np.ndarray) -> None:
        """Replace a paper's full text and vectors in one transaction."""
        vecs = np.ascontiguousarray(vectors, dtype=np.float16)
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("DELETE FROM fulltexts WHERE paper_id = %s", (paper_id,))
            conn.execute(
                "INSERT INTO fulltexts (paper_id, status, source, fetched_at, truncated, model, dimension, vectors)"
                " VALUES (%s, 'ok', %s, %s, %s, %s, %s, %s)",
                (
                    paper_id,
                    text.source,
                    text.fetched_at or datetime.now(UTC),
                    text.truncated,
                    model,
                    int(vecs.shape[1]),
                    vecs.tobytes(),
                ),
            )
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO fulltext_sentences (paper_id, position, section, heading, text)"
                    " VALUES (%s, %s, %s, %s, %s)",
                    sentence_rows(paper_id, text),
                )

    def save_fulltext_failure(self, paper_id: int, reason: str, now: datetime) -> None:
        """Record why the full text cannot be had, unless one is stored."""
        with self.pool.connection() as conn:
            conn.execute(
                "INSERT INTO fulltexts (paper_id, status, reason, fetched_at) VALUES (%s, 'unavailable', %s, %s)"
                " ON CONFLICT (paper_id) DO UPDATE SET reason = excluded.reason, fetched_at = excluded.fetched_at"
                " WHERE fulltexts.status = 'unavailable'",
                (paper_id, reason[:500], now),
            )

    def papers_needing_fulltext(self, after_id: int, limit: int, retry_before: datetime) -> list[tuple[int, str]]:
        """Papers with an arXiv id and no full text (or an old failure), by id."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT p.id, p.arxiv_id FROM papers p LEFT JOIN fulltexts f ON f.paper_id = p.id"
                " WHERE p.id > %s AND p.arxiv_id IS NOT NULL"
                " AND (f.paper_id IS NULL OR (f.status = 'unavailable' AND f.fetched_at < %s))"
                " ORDER BY p.id LIMIT %s",
                (after_id, retry_before, limit),
            ).fetchall()
        return [(int(r[0]), str(r[1])) for r in rows]

    def fulltext_counts(self) -> dict[str, int]:
        """Stored full texts by status."""
        with self.pool.connection() as conn:
            rows = conn.execute("SELECT status, COUNT(*) FROM fulltexts GROUP BY status").fetchall()
        return {str(r[0]): int(r[1]) for r in rows}


class PgThreadStore:
    """:class:`retrieval.storage.protocol.ThreadStore` over a connection pool."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def save_thread(self, context: ThreadContext) -> None:
        """Store (replace) a thread's context."""
        with self.pool.connection() as conn:
            conn.execute(
                "INSERT INTO thread_context (thread_id, guild_id, paper_ids, created_at, expires_at)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (thread_id) DO UPDATE SET guild_id = excluded.guild_id,"
                " paper_ids = excluded.paper_ids, created_at = excluded.created_at, expires_at = excluded.expires_at",
                (context.thread_id, context.guild_id, list(context.paper_ids), context.created_at, context.expires_at),
            )

    def get_thread(self, thread_id: int, now: datetime) -> ThreadContext | None:
        """A thread's context unless unknown or expired."""
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT thread_id, guild_id, paper_ids, created_at, expires_at FROM thread_context"
                " WHERE thread_id = %s AND expires_at > %s",
                (thread_id, now),
            ).fetchone()
        if row is None:
            return None
        return ThreadContext(int(row[0]), row[1], tuple(int(i) for i in row[2]), row[3], row[4])

    def drop_thread(self, thread_id: int) -> bool:
        """Forget a thread."""
        with self.pool.connection() as conn:
            return conn.execute("DELETE FROM thread_context WHERE thread_id = %s", (thread_id,)).rowcount > 0

    def drop_expired(self, now: datetime) -> int:
        """Forget expired threads."""
        with self.pool.connection() as conn:
            return int(conn.execute("DELETE FROM thread_context WHERE expires_at <= %s", (now,)).rowcount)
