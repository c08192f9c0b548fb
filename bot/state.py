"""Bot state in the library's SQLite file: per-server settings, the digest log, feedback, follows.

The digest log makes daily posts idempotent. A post is *claimed* (row inserted, or a retryable
row taken over) inside one ``BEGIN IMMEDIATE`` transaction before anything is sent, so a
restart, a second process or a late tick can never post the same day twice in a channel.
Posting is at most once: a claim left in ``posting`` by a crash is not retried.

Everything here is blocking; the cogs call it through ``asyncio.to_thread``.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from retrieval.storage.sqlite.db import Database

log = logging.getLogger(__name__)

# Digest log statuses. "failed" (transient error) and "empty" (no papers yet) are retried later
# the same local day; the others are final for that day.
POSTING, POSTED, FAILED, EMPTY, SKIPPED = "posting", "posted", "failed", "empty", "skipped"
RETRY_AFTER = {FAILED: timedelta(minutes=5), EMPTY: timedelta(minutes=60)}

_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
MAX_TOPICS = 5
MAX_TOPIC_CHARS = 60
DAILY, WEEKLY = "daily", "weekly"
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class SettingsError(ValueError):
    """A setting a user typed is invalid; the message is shown to them as is."""


@dataclass(frozen=True)
class GuildSettings:
    """One server's daily-post settings."""

    guild_id: int
    channel_id: int
    post_time: time
    timezone: str
    topics: tuple[str, ...] = ()
    enabled: bool = True
    last_error: str | None = None
    updated_at: datetime | None = None
    frequency: str = DAILY
    weekday: int | None = None  # 0 = Monday; set when weekly


@dataclass(frozen=True)
class LogEntry:
    """One row of the digest log: a channel's post for one local day."""

    channel_id: int
    day: date
    status: str
    message_id: int | None
    claimed_at: datetime


# -- parsing and the pure scheduling rule ---------------------------------------------------


def parse_post_time(text: str) -> time:
    """``"HH:MM"`` (24-hour) to a time; raises :class:`SettingsError` with a friendly message."""
    match = _HHMM.match(text.strip())
    if not match:
        raise SettingsError(f"`{text[:20]}` is not a time; use 24-hour HH:MM, e.g. 09:30.")
    return time(int(match.group(1)), int(match.group(2)))


def parse_timezone(text: str) -> ZoneInfo:
    """An IANA zone name (``Europe/Paris``, ``UTC``) to a ZoneInfo; raises :class:`SettingsError`."""
    name = text.strip()
    try:
        if not name or ".." in name or name.startswith("/"):
            raise ZoneInfoNotFoundError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise SettingsError(f"`{name[:40]}` is not a known time zone; use an IANA name like Europe/Paris.") from None


def parse_topics(text: str | None) -> tuple[str, ...]:
    """Comma-separated topics, trimmed, de-duplicated, at most 5 of at most 60 characters."""
    topics: dict[str, None] = {}
    for raw in (text or "").split(","):
        topic = " ".join(raw.split())
        if topic:
            if len(topic) > MAX_TOPIC_CHARS:
                raise SettingsError(f"Topics are at most {MAX_TOPIC_CHARS} characters each.")
            topics.setdefault(topic, None)
    if len(topics) > MAX_TOPICS:
        raise SettingsError(f"At most {MAX_TOPICS} topics, separated by commas.")
    return tuple(topics)


def parse_schedule(frequency: str | None, weekday: str | None) -> tuple[str, int | None]:
    """(frequency, weekday number) from what was typed; weekly needs a weekday, daily takes none."""
    freq = (frequency or DAILY).strip().lower()
    if freq not in (DAILY, WEEKLY):
        raise SettingsError("Frequency is `daily` or `weekly`.")
    if freq == DAILY:
        if weekday:
            raise SettingsError("A weekday only goes with `frequency: weekly`.")
        return DAILY, None
    names = {name.lower(): number for number, name in enumerate(WEEKDAYS)}
    names.update({name[:3].lower(): number for number, name in enumerate(WEEKDAYS)})
    number = names.get((weekday or "").strip().lower())
    if number is None:
        raise SettingsError("A weekly post needs a weekday, e.g. `weekday: Monday`.")
    return WEEKLY, number


def local_day(settings: GuildSettings, now: datetime) -> date:
    """The server's local date at ``now`` (an aware datetime)."""
    return now.astimezone(ZoneInfo(settings.timezone)).date()


def scheduled_at(settings: GuildSettings, day: date) -> datetime:
    """The aware datetime of ``day``'s post in the server's time zone."""
    return datetime.combine(day, settings.post_time, tzinfo=ZoneInfo(settings.timezone))


def is_due(settings: GuildSettings, now: datetime, entry: LogEntry | None) -> bool:
    """Whether the server's digest for its current local day should be posted at ``now``.

    Due once the local post time has passed (so a post missed while the bot was down is made up
    later the same local day), unless that day was already posted, claimed or skipped; a failed or
    empty attempt is retried after a pause. A schedule set after today's post time starts tomorrow.
    """
    if not settings.enabled:
        return False
    day = local_day(settings, now)
    if settings.frequency == WEEKLY and day.weekday() != settings.weekday:
        return False  # The log row of the post day keys the week: one post per period.
    at = scheduled_at(settings, day)
    if now < at:
        return False
    if settings.updated_at is not None and settings.updated_at > at and entry is None:
        return False
    if entry is None:
        return True
    pause = RETRY_AFTER.get(entry.status)
    return pause is not None and now - entry.claimed_at >= pause


# -- storage ---------------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def utcnow() -> datetime:
    """The current aware UTC time (one place to patch in tests)."""
    return datetime.now(UTC)


class BotState:
    """Settings, digest log and feedback over the library's :class:`Database`."""

    def __init__(self, db: Database) -> None:
        from bot.follow_state import FollowStore  # It builds on this module's helpers.

        self.db = db
        self.follows = FollowStore(db)

    # settings

    @staticmethod
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
            updated_at=_parse_iso(row["updated_at"]),
            frequency=row["frequency"] or DAILY,
            weekday=row["weekday"],
        )

    def get_settings(self, guild_id: int) -> GuildSettings | None:
        """A server's settings, enabled or not."""
        with self.db.read() as conn:
            row = conn.execute("SELECT * FROM guild_settings WHERE guild_id = ?", (guild_id,)).fetchone()
        return self._settings(row) if row else None

    def enabled_settings(self) -> list[GuildSettings]:
        """Every server with daily posts switched on."""
        with self.db.read() as conn:
            rows = conn.execute("SELECT * FROM guild_settings WHERE enabled = 1 ORDER BY guild_id").fetchall()
        return [self._settings(row) for row in rows]

    def save_settings(
        self,
        guild_id: int,
        channel_id: int,
        post_time: time,
        timezone: str,
        topics: tuple[str, ...] = (),
        *,
        frequency: str = DAILY,
        weekday: int | None = None,
        now: datetime | None = None,
    ) -> GuildSettings:
        """Create or replace a server's settings (enabled, error cleared) and return them.

        Today's "skipped" row for the channel is removed so a fixed permission problem can be
        retried without waiting for tomorrow.
        """
        stamp = _iso(now or utcnow())
        with self.db.transaction() as conn:
            conn.execute(
                """INSERT INTO guild_settings (guild_id, channel_id, post_time, timezone, topics, enabled,
                                               last_error, updated_at, frequency, weekday)
                   VALUES (?, ?, ?, ?, ?, 1, NULL, ?, ?, ?)
                   ON CONFLICT (guild_id) DO UPDATE SET channel_id = excluded.channel_id,
                       post_time = excluded.post_time, timezone = excluded.timezone, topics = excluded.topics,
                       enabled = 1, last_error = NULL, updated_at = excluded.updated_at,
                       frequency = excluded.frequency, weekday = excluded.weekday""",
                (
                    guild_id,
                    channel_id,
                    post_time.strftime("%H:%M"),
                    timezone,
                    json.dumps(list(topics)),
                    stamp,
                    frequency,
                    weekday if frequency == WEEKLY else None,
                ),
            )
            conn.execute("DELETE FROM digest_log WHERE channel_id = ? AND status = ?", (channel_id, SKIPPED))
        saved = self.get_settings(guild_id)
        assert saved is not None
        return saved

    def disable(self, guild_id: int) -> bool:
        """Switch a server's daily posts off; False when it had none."""
        with self.db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE guild_settings SET enabled = 0, updated_at = ? WHERE guild_id = ? AND enabled = 1",
                (_iso(utcnow()), guild_id),
            )
        return cursor.rowcount > 0

    def record_error(self, guild_id: int, message: str | None) -> None:
        """Remember (or clear, with None) the last posting problem, for ``/digest show``."""
        with self.db.transaction() as conn:
            conn.execute("UPDATE guild_settings SET last_error = ? WHERE guild_id = ?", (message, guild_id))

    # digest log

    @staticmethod
    def _entry(row: sqlite3.Row) -> LogEntry:
        return LogEntry(
            channel_id=row["channel_id"],
            day=date.fromisoformat(row["day"]),
            status=row["status"],
            message_id=row["message_id"],
            claimed_at=_parse_iso(row["claimed_at"]),
        )

    def log_entry(self, channel_id: int, day: date) -> LogEntry | None:
        """The digest log row of a channel and day."""
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT * FROM digest_log WHERE channel_id = ? AND day = ?", (channel_id, day.isoformat())
            ).fetchone()
        return self._entry(row) if row else None

    def last_entry(self, channel_id: int) -> LogEntry | None:
        """The newest digest log row of a channel."""
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT * FROM digest_log WHERE channel_id = ? ORDER BY day DESC LIMIT 1", (channel_id,)
            ).fetchone()
        return self._entry(row) if row else None

    def due(self, now: datetime) -> list[tuple[GuildSettings, date]]:
        """Servers whose digest should be posted at ``now``, with the local day to post."""
        result = []
        for settings in self.enabled_settings():
            day = local_day(settings, now)
            if is_due(settings, now, self.log_entry(settings.channel_id, day)):
                result.append((settings, day))
        return result

    def claim(self, settings: GuildSettings, day: date, now: datetime) -> bool:
        """Atomically take the right to post ``day`` in the server's channel; False if someone has it."""
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO digest_log (channel_id, day, status, claimed_at) VALUES (?, ?, ?, ?)",
                (settings.channel_id, day.isoformat(), POSTING, _iso(now)),
            )
            if conn.execute("SELECT changes()").fetchone()[0]:
                return True
            row = conn.execute(
                "SELECT * FROM digest_log WHERE channel_id = ? AND day = ?", (settings.channel_id, day.isoformat())
            ).fetchone()
            entry = self._entry(row)
            pause = RETRY_AFTER.get(entry.status)
            if pause is None or now - entry.claimed_at < pause:
                return False
            conn.execute(
                "UPDATE digest_log SET status = ?, claimed_at = ? WHERE channel_id = ? AND day = ?",
                (POSTING, _iso(now), settings.channel_id, day.isoformat()),
            )
            return True

    def finish(self, channel_id: int, day: date, status: str, message_id: int | None = None) -> None:
        """Record how a claimed post ended (``posted``, ``failed``, ``empty`` or ``skipped``)."""
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE digest_log SET status = ?, message_id = ? WHERE channel_id = ? AND day = ?",
                (status, message_id, channel_id, day.isoformat()),
            )

    # who may add papers

    def library_role(self, guild_id: int) -> int | None:
        """The role whose members may ``/library add`` besides Manage Server, if the admins set one."""
        with self.db.read() as conn:
            row = conn.execute("SELECT role_id FROM library_roles WHERE guild_id = ?", (guild_id,)).fetchone()
        return int(row[0]) if row else None

    def set_library_role(self, guild_id: int, role_id: int | None) -> None:
        """Set (or, with None, clear) the role allowed to add papers in a server."""
        with self.db.transaction() as conn:
            if role_id is None:
                conn.execute("DELETE FROM library_roles WHERE guild_id = ?", (guild_id,))
            else:
                conn.execute(
                    """INSERT INTO library_roles (guild_id, role_id) VALUES (?, ?)
                       ON CONFLICT (guild_id) DO UPDATE SET role_id = excluded.role_id""",
                    (guild_id, role_id),
                )

    # feedback

    def record_feedback(self, question: str, paper_ext_id: str | None, user_id: int, vote: int) -> None:
        """Store a 👍 (+1) or 👎 (-1); a user's new vote on the same question and paper replaces the old.

        A missing paper id is stored as "" because SQLite's UNIQUE treats NULLs as distinct.
        """
        if vote not in (-1, 1):
            raise ValueError("vote must be +1 or -1")
        with self.db.transaction() as conn:
            conn.execute(
                """INSERT INTO feedback (question, paper_ext_id, user_id, vote) VALUES (?, ?, ?, ?)
                   ON CONFLICT (question, paper_ext_id, user_id) DO UPDATE SET vote = excluded.vote,
                       created_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')""",
                (question, paper_ext_id or "", user_id, vote),
            )

    def feedback_totals(self, question: str) -> tuple[int, int]:
        """(👍 count, 👎 count) for a question."""
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT COALESCE(SUM(vote = 1), 0), COALESCE(SUM(vote = -1), 0) FROM feedback WHERE question = ?",
                (question,),
            ).fetchone()
        return int(row[0]), int(row[1])
