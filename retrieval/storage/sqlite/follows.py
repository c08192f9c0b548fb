"""Follow state in the library's SQLite file: follows, the follow-DM log, the papers sent, closed DMs.

Every write runs in one ``BEGIN IMMEDIATE`` transaction, which SQLite serializes across processes
on the file, and ``follow_sent``'s primary key (user, paper) keeps a paper from being claimed twice.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import date, datetime

from retrieval.models import Follow
from retrieval.storage.protocol import AddRefusal, DmStatus
from retrieval.storage.sqlite.db import Database, from_iso, to_iso


def _follow(row: sqlite3.Row) -> Follow:
    return Follow(id=row["id"], user_id=row["user_id"], kind=row["kind"], value=row["value"], norm=row["norm"])


class SqliteFollowStore:
    """:class:`retrieval.storage.protocol.FollowStateStore` over a :class:`Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add_follow(self, user_id: int, kind: str, value: str, norm: str, limit: int) -> Follow | AddRefusal:
        """Add a follow unless it is a duplicate or the user has ``limit`` already."""
        with self.db.transaction() as conn:
            duplicate = conn.execute(
                "SELECT 1 FROM follows WHERE user_id = ? AND kind = ? AND norm = ?", (user_id, kind, norm)
            ).fetchone()
            if duplicate:
                return "duplicate"
            count = conn.execute("SELECT COUNT(*) FROM follows WHERE user_id = ?", (user_id,)).fetchone()[0]
            if count >= limit:
                return "limit"
            cursor = conn.execute(
                "INSERT INTO follows (user_id, kind, value, norm) VALUES (?, ?, ?, ?)", (user_id, kind, value, norm)
            )
            row = conn.execute("SELECT * FROM follows WHERE id = ?", (cursor.lastrowid,)).fetchone()
        return _follow(row)

    def follows_of(self, user_id: int) -> list[Follow]:
        """A user's follows, oldest first."""
        with self.db.read() as conn:
            rows = conn.execute("SELECT * FROM follows WHERE user_id = ? ORDER BY id", (user_id,)).fetchall()
        return [_follow(row) for row in rows]

    def remove_follow(self, user_id: int, follow_id: int) -> Follow | None:
        """Delete one follow of this user; None when the user has no such follow."""
        with self.db.transaction() as conn:
            row = conn.execute("SELECT * FROM follows WHERE id = ? AND user_id = ?", (follow_id, user_id)).fetchone()
            if row is None:
                return None
            conn.execute("DELETE FROM follows WHERE id = ?", (follow_id,))
        return _follow(row)

    def active_follows(self) -> list[Follow]:
        """Every follow of users whose DMs are not marked closed."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT f.* FROM follows f LEFT JOIN follow_users u ON u.user_id = f.user_id"
                " WHERE u.dms_closed_at IS NULL ORDER BY f.user_id, f.id"
            ).fetchall()
        return [_follow(row) for row in rows]

    def mark_closed(self, user_id: int, reason: str, now: datetime) -> None:
        """Mark this user's DMs closed."""
        with self.db.transaction() as conn:
            conn.execute(
                """INSERT INTO follow_users (user_id, dms_closed_at, last_error) VALUES (?, ?, ?)
                   ON CONFLICT (user_id) DO UPDATE SET dms_closed_at = excluded.dms_closed_at,
                       last_error = excluded.last_error""",
                (user_id, to_iso(now), reason),
            )

    def reopen(self, user_id: int) -> bool:
        """Clear the closed mark; True when there was one."""
        with self.db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE follow_users SET dms_closed_at = NULL WHERE user_id = ? AND dms_closed_at IS NOT NULL",
                (user_id,),
            )
        return cursor.rowcount > 0

    def closed_since(self, user_id: int) -> datetime | None:
        """When this user's DMs were marked closed, or None."""
        with self.db.read() as conn:
            row = conn.execute("SELECT dms_closed_at FROM follow_users WHERE user_id = ?", (user_id,)).fetchone()
        return from_iso(row[0]) if row and row[0] else None

    def sent_papers(self, user_id: int) -> set[int]:
        """Ids of the papers claimed or sent to this user."""
        with self.db.read() as conn:
            rows = conn.execute("SELECT paper_id FROM follow_sent WHERE user_id = ?", (user_id,)).fetchall()
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
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT status, claimed_at FROM follow_dm_log WHERE user_id = ? AND day = ?", (user_id, day.isoformat())
            ).fetchone()
            if row is not None and not may_retake(row["status"], from_iso(row["claimed_at"])):
                return []
            claimed: list[int] = []
            for paper_id in paper_ids:
                if len(claimed) >= limit:
                    break
                cursor = conn.execute(
                    "INSERT INTO follow_sent (user_id, paper_id, day) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                    (user_id, paper_id, day.isoformat()),
                )
                if cursor.rowcount == 1:
                    claimed.append(paper_id)
            if not claimed:
                return []
            conn.execute(
                """INSERT INTO follow_dm_log (user_id, day, status, claimed_at) VALUES (?, ?, ?, ?)
                   ON CONFLICT (user_id, day) DO UPDATE SET status = excluded.status,
                       claimed_at = excluded.claimed_at""",
                (user_id, day.isoformat(), DmStatus.SENDING, to_iso(now)),
            )
        return claimed

    def finish_dm(self, user_id: int, day: date, status: str, release: Sequence[int]) -> None:
        """Set the DM row's status and release papers claimed that day."""
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE follow_dm_log SET status = ? WHERE user_id = ? AND day = ?", (status, user_id, day.isoformat())
            )
            conn.executemany(
                "DELETE FROM follow_sent WHERE user_id = ? AND paper_id = ? AND day = ?",
                [(user_id, paper_id, day.isoformat()) for paper_id in release],
            )

    def dm_status(self, user_id: int, day: date) -> str | None:
        """The status of the user's DM row of ``day``, if any."""
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT status FROM follow_dm_log WHERE user_id = ? AND day = ?", (user_id, day.isoformat())
            ).fetchone()
        return row[0] if row else None
