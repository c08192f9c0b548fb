"""Bot state in PostgreSQL: guild settings, library roles, the digest log, feedback (follows: ``follows.py``).

The digest log's primary key (channel, day) decides who posts: ``INSERT … ON CONFLICT DO
NOTHING`` succeeds for exactly one process; retaking a retryable row locks it first
(``SELECT … FOR UPDATE``), so two processes cannot both retake it either.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import date, datetime, time
from typing import Any

from psycopg_pool import ConnectionPool

from retrieval.models import GuildSettings, LogEntry
from retrieval.storage.postgres.follows import PgFollowStore
from retrieval.storage.postgres.fulltext import PgThreadStore

POSTING, SKIPPED = "posting", "skipped"
_SETTINGS = "guild_id, channel_id, post_time, timezone, topics, enabled, last_error, updated_at, frequency, weekday"
_ENTRY = "channel_id, day, status, message_id, claimed_at"


def _settings(row: Sequence[Any]) -> GuildSettings:
    hour, minute = (int(part) for part in row[2].split(":"))
    topics = row[4] if isinstance(row[4], list) else json.loads(row[4] or "[]")
    return GuildSettings(
        guild_id=int(row[0]),
        channel_id=int(row[1]),
        post_time=time(hour, minute),
        timezone=row[3],
        topics=tuple(topics),
        enabled=bool(row[5]),
        last_error=row[6],
        updated_at=row[7],
        frequency=row[8] or "daily",
        weekday=row[9],
    )


def _entry(row: Sequence[Any]) -> LogEntry:
    return LogEntry(channel_id=int(row[0]), day=row[1], status=row[2], message_id=row[3], claimed_at=row[4])


class PgStateStore:
    """:class:`retrieval.storage.protocol.StateStore` over a connection pool."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool
        self.follows = PgFollowStore(pool)
        self.threads = PgThreadStore(pool)

    def get_settings(self, guild_id: int) -> GuildSettings | None:
        """A server's settings, enabled or not."""
        with self.pool.connection() as conn:
            row = conn.execute(f"SELECT {_SETTINGS} FROM guild_settings WHERE guild_id = %s", (guild_id,)).fetchone()
        return _settings(row) if row else None

    def enabled_settings(self) -> list[GuildSettings]:
        """Every server with daily posts switched on."""
        with self.pool.connection() as conn:
            rows = conn.execute(f"SELECT {_SETTINGS} FROM guild_settings WHERE enabled ORDER BY guild_id").fetchall()
        return [_settings(r) for r in rows]

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
        with self.pool.connection() as conn, conn.transaction():
            conn.execute(
                """INSERT INTO guild_settings (guild_id, channel_id, post_time, timezone, topics, enabled,
                                               last_error, updated_at, frequency, weekday)
                   VALUES (%s, %s, %s, %s, %s, TRUE, NULL, %s, %s, %s)
                   ON CONFLICT (guild_id) DO UPDATE SET channel_id = excluded.channel_id,
                       post_time = excluded.post_time, timezone = excluded.timezone, topics = excluded.topics,
                       enabled = TRUE, last_error = NULL, updated_at = excluded.updated_at,
                       frequency = excluded.frequency, weekday = excluded.weekday""",
                (guild_id, channel_id, post_time, timezone, json.dumps(list(topics)), now, frequency, weekday),
            )
            conn.execute("DELETE FROM digest_log WHERE channel_id = %s AND status = %s", (channel_id, SKIPPED))

    def disable(self, guild_id: int, now: datetime) -> bool:
        """Switch a server's daily posts off; False when it had none."""
        with self.pool.connection() as conn:
            cursor = conn.execute(
                "UPDATE guild_settings SET enabled = FALSE, updated_at = %s WHERE guild_id = %s AND enabled",
                (now, guild_id),
            )
            return cursor.rowcount > 0

    def record_error(self, guild_id: int, message: str | None) -> None:
        """Remember (or clear) the last posting problem."""
        with self.pool.connection() as conn:
            conn.execute("UPDATE guild_settings SET last_error = %s WHERE guild_id = %s", (message, guild_id))

    def log_entry(self, channel_id: int, day: date) -> LogEntry | None:
        """The digest log row of a channel and day."""
        with self.pool.connection() as conn:
            row = conn.execute(
                f"SELECT {_ENTRY} FROM digest_log WHERE channel_id = %s AND day = %s", (channel_id, day)
            ).fetchone()
        return _entry(row) if row else None

    def last_entry(self, channel_id: int) -> LogEntry | None:
        """The newest digest log row of a channel."""
        with self.pool.connection() as conn:
            row = conn.execute(
                f"SELECT {_ENTRY} FROM digest_log WHERE channel_id = %s ORDER BY day DESC LIMIT 1", (channel_id,)
            ).fetchone()
        return _entry(row) if row else None

    def claim(self, channel_id: int, day: date, now: datetime, may_retake: Callable[[LogEntry], bool]) -> bool:
        """Insert the (channel, day) row, or retake a locked existing one that ``may_retake`` allows."""
        with self.pool.connection() as conn, conn.transaction():
            inserted = conn.execute(
                "INSERT INTO digest_log (channel_id, day, status, claimed_at) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (channel_id, day) DO NOTHING",
                (channel_id, day, POSTING, now),
            ).rowcount
            if inserted:
                return True
            row = conn.execute(
                f"SELECT {_ENTRY} FROM digest_log WHERE channel_id = %s AND day = %s FOR UPDATE", (channel_id, day)
            ).fetchone()
            if row is None or not may_retake(_entry(row)):
                return False
            conn.execute(
                "UPDATE digest_log SET status = %s, claimed_at = %s WHERE channel_id = %s AND day = %s",
                (POSTING, now, channel_id, day),
            )
            return True

    def finish(self, channel_id: int, day: date, status: str, message_id: int | None) -> None:
        """Record how a claimed post ended."""
        with self.pool.connection() as conn:
            conn.execute(
                "UPDATE digest_log SET status = %s, message_id = %s WHERE channel_id = %s AND day = %s",
                (status, message_id, channel_id, day),
            )

    def record_feedback(self, question: str, paper_ext_id: str, user_id: int, vote: int) -> None:
        """Store or replace a vote."""
        with self.pool.connection() as conn:
            conn.execute(
                """INSERT INTO feedback (question, paper_ext_id, user_id, vote) VALUES (%s, %s, %s, %s)
                   ON CONFLICT (question, paper_ext_id, user_id) DO UPDATE SET vote = excluded.vote,
                       created_at = now()""",
                (question, paper_ext_id, user_id, vote),
            )

    def feedback_totals(self, question: str) -> tuple[int, int]:
        """(👍 count, 👎 count) for a question."""
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT COUNT(*) FILTER (WHERE vote = 1), COUNT(*) FILTER (WHERE vote = -1) FROM feedback"
                " WHERE question = %s",
                (question,),
            ).fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def library_role(self, guild_id: int) -> int | None:
        """The role allowed to add papers in a server, if set."""
        with self.pool.connection() as conn:
            row = conn.execute("SELECT role_id FROM library_roles WHERE guild_id = %s", (guild_id,)).fetchone()
        return int(row[0]) if row else None

    def set_library_role(self, guild_id: int, role_id: int | None) -> None:
        """Set (None: clear) the role allowed to add papers in a server."""
        with self.pool.connection() as conn:
            if role_id is None:
                conn.execute("DELETE FROM library_roles WHERE guild_id = %s", (guild_id,))
            else:
                conn.execute(
                    """INSERT INTO library_roles (guild_id, role_id) VALUES (%s, %s)
                       ON CONFLICT (guild_id) DO UPDATE SET role_id = excluded.role_id""",
                    (guild_id, role_id),
                )
