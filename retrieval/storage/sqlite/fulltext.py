"""Full texts and thread contexts in the library's SQLite file (schema v4)."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime

import numpy as np

from retrieval.models import FullText, FullTextRecord, ThreadContext
from retrieval.storage.rules import sections_from_rows, sentence_rows
from retrieval.storage.sqlite.db import Database, from_iso, to_iso


class SqliteFullTextStore:
    """:class:`retrieval.storage.protocol.FullTextStore` over a :class:`Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def get_fulltext(self, paper_id: int) -> FullTextRecord | None:
        """The stored full text or failure of a paper."""
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT status, source, reason, fetched_at, truncated, model FROM fulltexts WHERE paper_id = ?",
                (paper_id,),
            ).fetchone()
            if row is None:
                return None
            rows = conn.execute(
                "SELECT section, heading, text FROM fulltext_sentences WHERE paper_id = ? ORDER BY position",
                (paper_id,),
            ).fetchall()
        fetched = from_iso(row["fetched_at"])
        text = None
        if row["status"] == "ok":
            text = FullText(
                row["source"], sections_from_rows([tuple(r) for r in rows]), fetched, bool(row["truncated"])
            )
        return FullTextRecord(paper_id, row["status"], fetched, text, row["reason"], row["model"])

    def fulltext_vectors(self, paper_id: int, model: str) -> np.ndarray | None:
        """The sentence vectors of a stored full text for ``model``."""
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT dimension, vectors FROM fulltexts WHERE paper_id = ? AND model = ? AND status = 'ok'",
                (paper_id, model),
            ).fetchone()
        if row is None or row["vectors"] is None:
            return None
        return np.frombuffer(row["vectors"], dtype=np.float16).reshape(-1, row["dimension"]).astype(np.float32)

    def save_fulltext(self, paper_id: int, text: FullText, model: str, vectors: np.ndarray) -> None:
        """Replace a paper's full text and vectors in one transaction."""
        vecs = np.ascontiguousarray(vectors, dtype=np.float16)
        fetched = to_iso(text.fetched_at) if text.fetched_at else to_iso(datetime.now().astimezone())
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM fulltexts WHERE paper_id = ?", (paper_id,))
            conn.execute(
                "INSERT INTO fulltexts (paper_id, status, source, fetched_at, truncated, model, dimension, vectors)"
                " VALUES (?, 'ok', ?, ?, ?, ?, ?, ?)",
                (paper_id, text.source, fetched, int(text.truncated), model, int(vecs.shape[1]), vecs.tobytes()),
            )
            conn.executemany(
                "INSERT INTO fulltext_sentences (paper_id, position, section, heading, text) VALUES (?, ?, ?, ?, ?)",
                sentence_rows(paper_id, text),
            )

    def save_fulltext_failure(self, paper_id: int, reason: str, now: datetime) -> None:
        """Record why the full text cannot be had, unless one is stored."""
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO fulltexts (paper_id, status, reason, fetched_at) VALUES (?, 'unavailable', ?, ?)"
                " ON CONFLICT (paper_id) DO UPDATE SET reason = excluded.reason, fetched_at = excluded.fetched_at"
                " WHERE fulltexts.status = 'unavailable'",
                (paper_id, reason[:500], to_iso(now)),
            )

    def papers_needing_fulltext(self, after_id: int, limit: int, retry_before: datetime) -> list[tuple[int, str]]:
        """Papers with an arXiv id and no full text (or an old failure), by id."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT p.id, p.arxiv_id FROM papers p LEFT JOIN fulltexts f ON f.paper_id = p.id"
                " WHERE p.id > ? AND p.arxiv_id IS NOT NULL"
                " AND (f.paper_id IS NULL OR (f.status = 'unavailable' AND f.fetched_at < ?))"
                " ORDER BY p.id LIMIT ?",
                (after_id, to_iso(retry_before), limit),
            ).fetchall()
        return [(int(r[0]), str(r[1])) for r in rows]

    def fulltext_counts(self) -> dict[str, int]:
        """Stored full texts by status."""
        with self.db.read() as conn:
            rows = conn.execute("SELECT status, COUNT(*) FROM fulltexts GROUP BY status").fetchall()
        return {str(r[0]): int(r[1]) for r in rows}


def _thread(row: sqlite3.Row) -> ThreadContext:
    return ThreadContext(
        thread_id=int(row["thread_id"]),
        guild_id=row["guild_id"],
        paper_ids=tuple(int(i) for i in json.loads(row["paper_ids"])),
        created_at=from_iso(row["created_at"]),
        expires_at=from_iso(row["expires_at"]),
    )


class SqliteThreadStore:
    """:class:`retrieval.storage.protocol.ThreadStore` over a :class:`Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def save_thread(self, context: ThreadContext) -> None:
        """Store (replace) a thread's context."""
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO thread_context (thread_id, guild_id, paper_ids, created_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    context.thread_id,
                    context.guild_id,
                    json.dumps(list(context.paper_ids)),
                    to_iso(context.created_at),
                    to_iso(context.expires_at),
                ),
            )

    def get_thread(self, thread_id: int, now: datetime) -> ThreadContext | None:
        """A thread's context unless unknown or expired."""
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT * FROM thread_context WHERE thread_id = ? AND expires_at > ?", (thread_id, to_iso(now))
            ).fetchone()
        return _thread(row) if row else None

    def drop_thread(self, thread_id: int) -> bool:
        """Forget a thread."""
        with self.db.transaction() as conn:
            return conn.execute("DELETE FROM thread_context WHERE thread_id = ?", (thread_id,)).rowcount > 0

    def drop_expired(self, now: datetime) -> int:
        """Forget expired threads."""
        with self.db.transaction() as conn:
            return int(conn.execute("DELETE FROM thread_context WHERE expires_at <= ?", (to_iso(now),)).rowcount)
