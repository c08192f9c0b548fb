"""Bot state in the library's database: per-server settings and library role, the digest log, feedback, follows.

The digest log makes daily posts idempotent. A post is *claimed* (row inserted, or a retryable
row taken over) in one transaction keyed by (channel, day) before anything is sent, so a
restart, a second process or a late tick can never post the same day twice in a channel.
Posting is at most once: a claim left in ``posting`` by a crash is not retried.

Everything here is blocking; the cogs call it through ``asyncio.to_thread``.
"""

from __future__ import annotations

import logging
import re
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.clock import utcnow
from bot.follow_state import FollowStore
from retrieval.errors import UserFacingError
from retrieval.models import GuildSettings, LogEntry
from retrieval.query.follows import MAX_TOPIC_CHARS
from retrieval.storage.protocol import StateStore

__all__ = ["BotState", "GuildSettings", "LogEntry", "PostStatus", "SettingsError", "is_due", "local_day"]

log = logging.getLogger(__name__)


class PostStatus(StrEnum):
    """A digest log row. "failed" (transient error) and "empty" (no papers yet) are retried later the
    same local day; the others are final for that day."""

    POSTING = "posting"
    POSTED = "posted"
    FAILED = "failed"
    EMPTY = "empty"
    SKIPPED = "skipped"


RETRY_AFTER = {PostStatus.FAILED: timedelta(minutes=5), PostStatus.EMPTY: timedelta(minutes=60)}

_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
MAX_TOPICS = 5
DAILY, WEEKLY = "daily", "weekly"
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class SettingsError(UserFacingError):
    """A setting a user typed is invalid; the message is shown to them as is."""


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
    return entry is None or may_retry(entry, now)


def may_retry(entry: LogEntry, now: datetime) -> bool:
    """Whether a claimed post may be tried again: a failed or empty one, after its pause."""
    pause = RETRY_AFTER.get(PostStatus(entry.status))
    return pause is not None and now - entry.claimed_at >= pause


# -- storage ---------------------------------------------------------------------------------


class BotState:
    """Settings, library roles, digest log, feedback and (``follows``) follows, over either backend's
    :class:`StateStore`.

    The scheduling rule lives here; the storage (and the atomic claim) in the backend.
    """

    def __init__(self, store: StateStore) -> None:
        self.store = store
        self.follows = FollowStore(self.store.follows)

    # settings

    def get_settings(self, guild_id: int) -> GuildSettings | None:
        """A server's settings, enabled or not."""
        return self.store.get_settings(guild_id)

    def enabled_settings(self) -> list[GuildSettings]:
        """Every server with daily posts switched on."""
        return self.store.enabled_settings()

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
        self.store.save_settings(
            guild_id,
            channel_id,
            post_time.strftime("%H:%M"),
            timezone,
            topics,
            now or utcnow(),
            frequency,
            weekday if frequency == WEEKLY else None,
        )
        saved = self.get_settings(guild_id)
        assert saved is not None
        return saved

    def disable(self, guild_id: int) -> bool:
        """Switch a server's daily posts off; False when it had none."""
        return self.store.disable(guild_id, utcnow())

    def record_error(self, guild_id: int, message: str | None) -> None:
        """Remember (or clear, with None) the last posting problem, for ``/digest show``."""
        self.store.record_error(guild_id, message)

    # digest log

    def log_entry(self, channel_id: int, day: date) -> LogEntry | None:
        """The digest log row of a channel and day."""
        return self.store.log_entry(channel_id, day)

    def last_entry(self, channel_id: int) -> LogEntry | None:
        """The newest digest log row of a channel."""
        return self.store.last_entry(channel_id)

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
        return self.store.claim(settings.channel_id, day, now, lambda entry: may_retry(entry, now))

    def finish(self, channel_id: int, day: date, status: str, message_id: int | None = None) -> None:
        """Record how a claimed post ended (``posted``, ``failed``, ``empty`` or ``skipped``)."""
        self.store.finish(channel_id, day, status, message_id)

    # who may add papers

    def library_role(self, guild_id: int) -> int | None:
        """The role whose members may ``/library add`` besides Manage Server, if the admins set one."""
        return self.store.library_role(guild_id)

    def set_library_role(self, guild_id: int, role_id: int | None) -> None:
        """Set (or, with None, clear) the role allowed to add papers in a server."""
        self.store.set_library_role(guild_id, role_id)

    # feedback

    def record_feedback(self, question: str, paper_ext_id: str | None, user_id: int, vote: int) -> None:
        """Store a 👍 (+1) or 👎 (-1); a user's new vote on the same question and paper replaces the old.

        A missing paper id is stored as "" (a NULL would not be unique).
        """
        if vote not in (-1, 1):
            raise ValueError("vote must be +1 or -1")
        self.store.record_feedback(question, paper_ext_id or "", user_id, vote)

    def feedback_totals(self, question: str) -> tuple[int, int]:
        """(👍 count, 👎 count) for a question."""
        return self.store.feedback_totals(question)
