"""Bot state in the library's SQLite file: guild settings, library roles, the digest log, feedback.

A digest post is claimed inside one ``BEGIN IMMEDIATE`` transaction (the row's primary key is
(channel, day)), so two processes on one file can never both claim the same channel and day.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from datetime import date, datetime, time

from retrieval.models import GuildSettings, LogEntry
from retrieval.storage.sqlite.db import Database, from_iso, to_iso
from retrieval.storage.sqlite.follows import SqliteFollowStore
from retrieval.storage.sqlite.fulltext import SqliteThreadStore

POSTING, SKIPPED = "posting", "skipped"


def _settings(row: sqlite3.Row) -> GuildSettings:
    hour, minute = (int(part) for part in row["post_time"].split(":"))
    return GuildSettings(
        guild_id=row["guild_id"],
        channel_id=row["channel_id"],
        post_time=time(hour, minute),
        timezone=row["timezone"],
        topics=tuple(json.loads(row["topics"] or "[]")),
        enabled=bool(row["enabled"]),
        last_error=row["last_error"],
        updated_at=from_iso(row["updated_at"]),
        frequency=row["frequency"] or "daily",
        weekday=row["weekday"],
    )


def _entry(row: sqlite3.Row) -> LogEntry:
    return LogEntry(
        channel_id=row["channel_id"],
        day=date.fromisoformat(row["day"]),
        status=row["status"],
        message_id=row["message_id"],
        claimed_at=from_iso(row["claimed_at"]),
    )


class SqliteStateStore:
    """:class:`retrieval.storage.protocol.StateStore` over a :class:`Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.follows = SqliteFollowStore(db)
        self.threads = SqliteThreadStore(db)

    def get_settings(self, guild_id: int) -> GuildSettings | None:
        """A server's settings, enabled or not."""
        with self.db.read() as conn:
            row = conn.execute("SELECT * FROM guild_settings WHERE guild_id = ?", (guild_id,)).fetchone()
        return _settings(row) if row else None

    def enabled_settings(self) -> list[GuildSettings]:
        """Every server with daily posts switched on."""
        with self.db.read() as conn:
            rows = conn.execute("SELECT * FROM guild_settings WHERE enabled = 1 ORDER BY guild_id").fetchall()
        return [_settings(row) for row in rows]

    def save_settings(
        self,
        guild_id: int,
        channel_id: int,
        post_time: str,
        timezone: str,
        topics: Sequence[str],
        now: datetime,
        frequency: str = "daily",
        weekday: int | None = None,
    ) -> None:
        """Create or replace a server's settings; the channel's "skipped" rows are dropped."""
        with self.db.transaction() as conn:
            conn.execute(
                """INSERT INTO guild_settings (guild_id, channel_id, post_time, timezone, topics, enabled,
                                               last_error, updated_at, frequency, weekday)
                   VALUES (?, ?, ?, ?, ?, 1, NULL, ?, ?, ?)
                   ON CONFLICT (guild_id) DO UPDATE SET channel_id = excluded.channel_id,
                       post_time = excluded.post_time, timezone = excluded.timezone, topics = excluded.topics,
                       enabled = 1, last_error = NULL, updated_at = excluded.updated_at,
                       frequency = excluded.frequency, weekday = excluded.weekday""",
                (guild_id, channel_id, post_time, timezone, json.dumps(list(topics)), to_iso(now), frequency, weekday),
            )
            conn.execute("DELETE FROM digest_log WHERE channel_id = ? AND status = ?", (channel_id, SKIPPED))

    def disable(self, guild_id: int, now: datetime) -> bool:
        """Switch a server's daily posts off; False when it had none."""
        with self.db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE guild_settings SET enabled = 0, updated_at = ? WHERE guild_id = ? AND enabled = 1",
                (to_iso(now), guild_id),
            )
        return cursor.rowcount > 0

    def record_error(self, guild_id: int, message: str | None) -> None:
        """Remember (or clear) the last posting problem."""
        with self.db.transaction() as conn:
            conn.execute("UPDATE guild_settings SET last_error = ? WHERE guild_id = ?", (message, guild_id))

    def log_entry(self, channel_id: int, day: date) -> LogEntry | None:
        """The digest log row of a channel and day."""
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT * FROM digest_log WHERE channel_id = ? AND day = ?", (channel_id, day.isoformat())
            ).fetchone()
        return _entry(row) if row else None

    def last_entry(self, channel_id: int) -> LogEntry | None:
        """The newest digest log row of a channel."""
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT * FROM digest_log WHERE channel_id = ? ORDER BY day DESC LIMIT 1", (channel_id,)
            ).fetchone()
        return _entry(row) if row else None

    def claim(self, channel_id: int, day: date, now: datetime, may_retake: Callable[[LogEntry], bool]) -> bool:
        """Insert the (channel, day) row, or retake an existing one that ``may_retake`` allows; atomically."""
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO digest_log (channel_id, day, status, claimed_at) VALUES (?, ?, ?, ?)",
                (channel_id, day.isoformat(), POSTING, to_iso(now)),
            )
            if conn.execute("SELECT changes()").fetchone()[0]:
                return True
            row = conn.execute(
                "SELECT * FROM digest_log WHERE channel_id = ? AND day = ?", (channel_id, day.isoformat())
            ).fetchone()
            if not may_retake(_entry(row)):
                return False
            conn.execute(
                "UPDATE digest_log SET status = ?, claimed_at = ? WHERE channel_id = ? AND day = ?",
                (POSTING, to_iso(now), channel_id, day.isoformat()),
            )
            return True

    def finish(self, channel_id: int, day: date, status: str, message_id: int | None) -> None:
        """Record how a claimed post ended."""
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE digest_log SET status = ?, message_id = ? WHERE channel_id = ? AND day = ?",
                (status, message_id, channel_id, day.isoformat()),
            )

    def record_feedback(self, question: str, paper_ext_id: str, user_id: int, vote: int) -> None:
        """Store or replace a vote ("" for no paper: SQLite's UNIQUE treats NULLs as distinct)."""
        with self.db.transaction() as conn:
            conn.execute(
                """INSERT INTO feedback (question, paper_ext_id, user_id, vote) VALUES (?, ?, ?, ?)
                   ON CONFLICT (question, paper_ext_id, user_id) DO UPDATE SET vote = excluded.vote,
                       created_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')""",
                (question, paper_ext_id, user_id, vote),
            )

    def feedback_totals(self, question: str) -> tuple[int, int]:
        """(👍 count, 👎 count) for a question."""
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT COALESCE(SUM(vote = 1), 0), COALESCE(SUM(vote = -1), 0) FROM feedback WHERE question = ?",
                (question,),
            ).fetchone()
        return int(row[0]), int(row[1])

    def library_role(self, guild_id: int) -> int | None:
        """The role allowed to add papers in a server, if set."""
        with self.db.read() as conn:
            row = conn.execute("SELECT role_id FROM library_roles WHERE guild_id = ?", (guild_id,)).fetchone()
        return int(row[0]) if row else None

    def set_library_role(self, guild_id: int, role_id: int | None) -> None:
        """Set (None: clear) the role allowed to add papers in a server."""
        with self.db.transaction() as conn:
            if role_id is None:
                conn.execute("DELETE FROM library_roles WHERE guild_id = ?", (guild_id,))
            else:
                conn.execute(
                    """INSERT INTO library_roles (guild_id, role_id) VALUES (?, ?)
                       ON CONFLICT (guild_id) DO UPDATE SET role_id = excluded.role_id""",
                    (guild_id, role_id),
                )
