"""Follow state in PostgreSQL: follows, the follow-DM log, the papers sent, closed DMs.

Safe under many processes because the database decides, in one transaction each:
- a DM day is taken by ``INSERT … ON CONFLICT DO NOTHING`` on ``follow_dm_log``'s primary key
  (user, day) — a second claimer waits on that key until the first commits or rolls back — or, for
  an existing row, under ``SELECT … FOR UPDATE``;
- a paper is taken by inserting into ``follow_sent``, whose primary key (user, paper) admits one row;
- a claim that finds no paper new to the user rolls back, so it records nothing;
- a user's follow additions are serialized by a transaction-scoped advisory lock, so the limit holds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from retrieval.models import Follow
from retrieval.storage.postgres.schema import LOCK_FOLLOWS_OF
from retrieval.storage.protocol import AddRefusal, DmStatus

_FOLLOW = "id, user_id, kind, value, norm"


def _follow(row: Sequence[Any]) -> Follow:
    return Follow(id=int(row[0]), user_id=int(row[1]), kind=row[2], value=row[3], norm=row[4])


class PgFollowStore:
    """:class:`retrieval.storage.protocol.FollowStateStore` over a connection pool."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def add_follow(self, user_id: int, kind: str, value: str, norm: str, limit: int) -> Follow | AddRefusal:
        """Add a follow unless it is a duplicate or the user has ``limit`` already."""
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s::text))", (LOCK_FOLLOWS_OF, user_id))
            duplicate = conn.execute(
                "SELECT 1 FROM follows WHERE user_id = %s AND kind = %s AND norm = %s", (user_id, kind, norm)
            ).fetchone()
            if duplicate:
                return "duplicate"
            row = conn.execute("SELECT COUNT(*) FROM follows WHERE user_id = %s", (user_id,)).fetchone()
            if row is not None and int(row[0]) >= limit:
                return "limit"
            row = conn.execute(
                f"INSERT INTO follows (user_id, kind, value, norm) VALUES (%s, %s, %s, %s) RETURNING {_FOLLOW}",
                (user_id, kind, value, norm),
            ).fetchone()
        assert row is not None
        return _follow(row)

    def follows_of(self, user_id: int) -> list[Follow]:
        """A user's follows, oldest first."""
        with self.pool.connection() as conn:
            rows = conn.execute(f"SELECT {_FOLLOW} FROM follows WHERE user_id = %s ORDER BY id", (user_id,)).fetchall()
        return [_follow(row) for row in rows]

    def remove_follow(self, user_id: int, follow_id: int) -> Follow | None:
        """Delete one follow of this user; None when the user has no such follow."""
        with self.pool.connection() as conn:
            row = conn.execute(
                f"DELETE FROM follows WHERE id = %s AND user_id = %s RETURNING {_FOLLOW}", (follow_id, user_id)
            ).fetchone()
        return _follow(row) if row else None

    def active_follows(self) -> list[Follow]:
        """Every follow of users whose DMs are not marked closed."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT f.id, f.user_id, f.kind, f.value, f.norm FROM follows f"
                " LEFT JOIN follow_users u ON u.user_id = f.user_id"
                " WHERE u.dms_closed_at IS NULL ORDER BY f.user_id, f.id"
            ).fetchall()
        return [_follow(row) for row in rows]

    def mark_closed(self, user_id: int, reason: str, now: datetime) -> None:
        """Mark this user's DMs closed."""
        with self.pool.connection() as conn:
            conn.execute(
                """INSERT INTO follow_users (user_id, dms_closed_at, last_error) VALUES (%s, %s, %s)
                   ON CONFLICT (user_id) DO UPDATE SET dms_closed_at = excluded.dms_closed_at,
                       last_error = excluded.last_error""",
                (user_id, now, reason),
            )

    def reopen(self, user_id: int) -> bool:
        """Clear the closed mark; True when there was one."""
        with self.pool.connection() as conn:
            cursor = conn.execute(
                "UPDATE follow_users SET dms_closed_at = NULL WHERE user_id = %s AND dms_closed_at IS NOT NULL",
                (user_id,),
            )
            return cursor.rowcount > 0

    def closed_since(self, user_id: int) -> datetime | None:
        """When this user's DMs were marked closed, or None."""
        with self.pool.connection() as conn:
            row = conn.execute("SELECT dms_closed_at FROM follow_users WHERE user_id = %s", (user_id,)).fetchone()
        return row[0] if row else None

    def sent_papers(self, user_id: int) -> set[int]:
        """Ids of the papers claimed or sent to this user."""
        with self.pool.connection() as conn:
            rows = conn.execute("SELECT paper_id FROM follow_sent WHERE user_id = %s", (user_id,)).fetchall()
        return {int(row[0]) for row in rows}

    def claim_dm(
        self,
        user_id: int,
        day: date,
        paper_ids: Sequence[int],
        now: datetime,
        limit: int,
        may_retake: Callable[[str, datetime], bool],
    ) -> list[int]:
        """Take the (user, day) DM and up to ``limit`` papers new to the user, in one transaction."""
        claimed: list[int] = []
        with self.pool.connection() as conn, conn.transaction() as tx:
            inserted = conn.execute(
                "INSERT INTO follow_dm_log (user_id, day, status, claimed_at) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (user_id, day) DO NOTHING",
                (user_id, day, DmStatus.SENDING, now),
            ).rowcount
            if not inserted:
                row = conn.execute(
                    "SELECT status, claimed_at FROM follow_dm_log WHERE user_id = %s AND day = %s FOR UPDATE",
                    (user_id, day),
                ).fetchone()
                if row is None or not may_retake(row[0], row[1]):
                    return []
                conn.execute(
                    "UPDATE follow_dm_log SET status = %s, claimed_at = %s WHERE user_id = %s AND day = %s",
                    (DmStatus.SENDING, now, user_id, day),
                )
            for paper_id in paper_ids:
                if len(claimed) >= limit:
                    break
                taken = conn.execute(
                    "INSERT INTO follow_sent (user_id, paper_id, day) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                    (user_id, paper_id, day),
                ).rowcount
                if taken:
                    claimed.append(paper_id)
            if not claimed:
                # Nothing new: undo the day's row too (a day with nothing to send records nothing).
                raise psycopg.Rollback(tx)
        return claimed

    def finish_dm(self, user_id: int, day: date, status: str, release: Sequence[int]) -> None:
        """Set the DM row's status and release papers claimed that day."""
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("UPDATE follow_dm_log SET status = %s WHERE user_id = %s AND day = %s", (status, user_id, day))
            if release:
                conn.execute(
                    "DELETE FROM follow_sent WHERE user_id = %s AND day = %s AND paper_id = ANY(%s)",
                    (user_id, day, list(release)),
                )

    def dm_status(self, user_id: int, day: date) -> str | None:
        """The status of the user's DM row of ``day``, if any."""
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT status FROM follow_dm_log WHERE user_id = %s AND day = %s", (user_id, day)
            ).fetchone()
        return row[0] if row else None
