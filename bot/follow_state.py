"""Follows in the library's SQLite file: who follows what, which papers each user was sent, closed DMs.

Two rules make the DMs safe to retry from any process: a user gets at most one DM per UTC day (the
``follow_dm_log`` row for (user, day) is claimed before sending), and never the same paper twice
(``follow_sent``'s primary key (user, paper) decides; a paper is claimed with the day, inside the same
transaction, and released again only when the DM could not be sent). A user whose DMs are closed is
marked and skipped until they use ``/follow`` again.

Everything here is blocking; the cogs call it through ``asyncio.to_thread``.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from bot.state import utcnow
from retrieval.models import Follow
from retrieval.query.follows import MAX_FOLLOWS, FollowError, parse_follow
from retrieval.storage.sqlite.db import Database
from retrieval.storage.sqlite.state import from_iso, to_iso

log = logging.getLogger(__name__)

# DM log statuses: "sending" (claimed), "sent", "failed" (retried after a pause), "closed" (DMs closed).
SENDING, SENT, FAILED, CLOSED = "sending", "sent", "failed", "closed"
RETRY_FAILED_AFTER = timedelta(minutes=30)


class FollowStore:
    """Follows, the per-day DM log, the papers sent, and users whose DMs are closed."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # follows

    @staticmethod
    def _follow(row: sqlite3.Row) -> Follow:
        return Follow(id=row["id"], user_id=row["user_id"], kind=row["kind"], value=row["value"], norm=row["norm"])

    def add(self, user_id: int, kind: str, text: str) -> Follow:
        """Follow a topic or author; raises :class:`FollowError` when invalid, a duplicate, or over the limit."""
        value, norm = parse_follow(kind, text)
        with self.db.transaction() as conn:
            count = conn.execute("SELECT COUNT(*) FROM follows WHERE user_id = ?", (user_id,)).fetchone()[0]
            duplicate = conn.execute(
                "SELECT 1 FROM follows WHERE user_id = ? AND kind = ? AND norm = ?", (user_id, kind, norm)
            ).fetchone()
            if duplicate:
                raise FollowError(f"You already follow the {kind} “{value}”.")
            if count >= MAX_FOLLOWS:
                raise FollowError(f"You follow {MAX_FOLLOWS} things already, the most allowed; remove one first.")
            cursor = conn.execute(
                "INSERT INTO follows (user_id, kind, value, norm) VALUES (?, ?, ?, ?)", (user_id, kind, value, norm)
            )
            row = conn.execute("SELECT * FROM follows WHERE id = ?", (cursor.lastrowid,)).fetchone()
        return self._follow(row)

    def of_user(self, user_id: int) -> list[Follow]:
        """A user's follows, oldest first."""
        with self.db.read() as conn:
            rows = conn.execute("SELECT * FROM follows WHERE user_id = ? ORDER BY id", (user_id,)).fetchall()
        return [self._follow(row) for row in rows]

    def remove(self, user_id: int, follow_id: int) -> Follow | None:
        """Stop one follow of this user; None when the user has no such follow."""
        with self.db.transaction() as conn:
            row = conn.execute("SELECT * FROM follows WHERE id = ? AND user_id = ?", (follow_id, user_id)).fetchone()
            if row is None:
                return None
            conn.execute("DELETE FROM follows WHERE id = ?", (follow_id,))
        return self._follow(row)

    def active(self) -> list[Follow]:
        """Every follow of users whose DMs are not known to be closed."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT f.* FROM follows f LEFT JOIN follow_users u ON u.user_id = f.user_id"
                " WHERE u.dms_closed_at IS NULL ORDER BY f.user_id, f.id"
            ).fetchall()
        return [self._follow(row) for row in rows]

    # closed DMs

    def mark_closed(self, user_id: int, reason: str, now: datetime | None = None) -> None:
        """Remember that this user cannot be sent DMs; they are skipped until :meth:`reopen`."""
        with self.db.transaction() as conn:
            conn.execute(
                """INSERT INTO follow_users (user_id, dms_closed_at, last_error) VALUES (?, ?, ?)
                   ON CONFLICT (user_id) DO UPDATE SET dms_closed_at = excluded.dms_closed_at,
                       last_error = excluded.last_error""",
                (user_id, to_iso(now or utcnow()), reason),
            )

    def reopen(self, user_id: int) -> bool:
        """Try DMs again for this user (they used ``/follow``); True when they were marked closed."""
        with self.db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE follow_users SET dms_closed_at = NULL WHERE user_id = ? AND dms_closed_at IS NOT NULL",
                (user_id,),
            )
        return cursor.rowcount > 0

    def closed_since(self, user_id: int) -> datetime | None:
        """When this user's DMs were found closed, or None."""
        with self.db.read() as conn:
            row = conn.execute("SELECT dms_closed_at FROM follow_users WHERE user_id = ?", (user_id,)).fetchone()
        return from_iso(row[0]) if row and row[0] else None

    # what was sent

    def unsent(self, user_id: int, paper_ids: Sequence[int]) -> list[int]:
        """The ids, in order, of papers this user was never sent (a preview; claims nothing)."""
        with self.db.read() as conn:
            sent = {
                int(row[0]) for row in conn.execute("SELECT paper_id FROM follow_sent WHERE user_id = ?", (user_id,))
            }
        return [pid for pid in paper_ids if pid not in sent]

    def claim(self, user_id: int, day: date, paper_ids: Sequence[int], now: datetime, limit: int = 10) -> list[int]:
        """Take the right to DM this user today about up to ``limit`` papers never sent to them.

        Returns the claimed paper ids (in the order given); empty when today's DM is already sent or
        claimed elsewhere, or no paper is new to the user (then nothing is recorded).
        """
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT status, claimed_at FROM follow_dm_log WHERE user_id = ? AND day = ?", (user_id, day.isoformat())
            ).fetchone()
            if row is not None and not (
                row["status"] == FAILED and now - from_iso(row["claimed_at"]) >= RETRY_FAILED_AFTER
            ):
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
                (user_id, day.isoformat(), SENDING, to_iso(now)),
            )
        return claimed

    def finish(self, user_id: int, day: date, status: str, paper_ids: Sequence[int] = ()) -> None:
        """Record how a claimed DM ended; unless it was sent, its papers are released for a later DM."""
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE follow_dm_log SET status = ? WHERE user_id = ? AND day = ?", (status, user_id, day.isoformat())
            )
            if status != SENT:
                for paper_id in paper_ids:
                    conn.execute(
                        "DELETE FROM follow_sent WHERE user_id = ? AND paper_id = ? AND day = ?",
                        (user_id, paper_id, day.isoformat()),
                    )

    def dm_status(self, user_id: int, day: date) -> str | None:
        """The status of this user's DM of ``day``, if one was claimed."""
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT status FROM follow_dm_log WHERE user_id = ? AND day = ?", (user_id, day.isoformat())
            ).fetchone()
        return row[0] if row else None
