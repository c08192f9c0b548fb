"""The digest post: find the servers that are due, refresh the library from the feed, post once.

A daily post covers the server's local day; a weekly one, on its weekday, the seven days ending it.

Idempotency lives in :class:`bot.state.BotState` (claim before sending, record after); this
module only sequences the steps and turns Discord errors into log lines, digest-log statuses
and a ``last_error`` that ``/digest show`` reports to the server's admins.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

import discord

from bot.clock import utcnow
from bot.interactions import NO_MENTIONS
from bot.render.embeds import digest_embeds
from bot.state import WEEKLY, GuildSettings, PostStatus
from retrieval.models import Scope

if TYPE_CHECKING:
    from bot.app import PaperBot

log = logging.getLogger(__name__)

Refresher = Callable[[Iterable[date]], Awaitable[None]]
# The feed is asked at most this often (an "empty" day is retried hourly by every due server).
REFRESH_EVERY = timedelta(minutes=10)
FEED_TIMEOUT = 180.0
REFRESH_LOCK = "feed-refresh"


def period_days(settings: GuildSettings, day: date) -> list[date]:
    """The listing days a post covers: the day itself, or the seven days ending it for a weekly post."""
    if settings.frequency == WEEKLY:
        return [day - timedelta(days=offset) for offset in range(6, -1, -1)]
    return [day]


class DailyPoster:
    """Posts each configured server's digest once per local day."""

    def __init__(self, bot: PaperBot, refresh: Refresher | None = None) -> None:
        self.bot = bot
        self._refresh = refresh or self.refresh_from_feed
        self._last_refresh: datetime | None = None

    async def refresh_from_feed(self, days: Iterable[date]) -> None:
        """Pull the days from the live feed; any failure is logged and the post goes on."""
        from retrieval.sources.feed import fetch_days

        try:
            report = await asyncio.wait_for(
                fetch_days(self.bot.library, sorted(set(days)), base_url=self.bot.config.hf_base), FEED_TIMEOUT
            )
        except Exception as exc:
            self.bot.metrics.source_error("feed")
            log.warning("live feed refresh failed (%s: %s); posting from the library as is", type(exc).__name__, exc)
            return
        if not report.ok:
            self.bot.metrics.source_error("feed", len(report.failed))
            log.warning("live feed refresh incomplete: %s", report.summary().replace("\n", "; "))

    async def tick(self, now: datetime | None = None) -> list[tuple[int, date, str]]:
        """Post every due digest; returns (guild id, day, outcome) for each server that was due."""
        now = now or utcnow()
        due = await asyncio.to_thread(self._due, now)
        # Several processes may share the library: each posts only for the servers on its shards.
        due = [(settings, day) for settings, day in due if self.bot.serves_guild(settings.guild_id)]
        if not due:
            return []
        if self._last_refresh is None or now - self._last_refresh >= REFRESH_EVERY:
            self._last_refresh = now
            await self._refresh_once(sorted({day for settings, last in due for day in period_days(settings, last)}))
        results = []
        for settings, day in due:
            outcome = await self.post(settings, day, now)
            results.append((settings.guild_id, day, outcome))
        return results

    def _due(self, now: datetime) -> list[tuple[GuildSettings, date]]:
        with self.bot.metrics.db_query("digests_due"):
            return self.bot.state.due(now)

    async def _refresh_once(self, days: list[date]) -> None:
        """Refresh from the feed unless another process sharing the library is already doing it.

        Only one process refreshes at a time (an advisory lock on PostgreSQL, a file lock on
        SQLite); the others post from the library as it is, and see the new papers as soon as
        they are committed.
        """
        with self.bot.library.exclusive(REFRESH_LOCK) as mine:
            if not mine:
                log.info("another process is refreshing from the feed; posting from the library as is")
                return
            try:
                await self._refresh(days)
            except Exception:
                log.exception("feed refresh raised; posting from the library as is")

    async def post(self, settings: GuildSettings, day: date, now: datetime) -> str:
        """Claim, build and send one server's digest; returns the digest-log status (or "claimed")."""
        state = self.bot.state
        if not await asyncio.to_thread(state.claim, settings, day, now):
            log.info("digest %s for channel %s already claimed elsewhere", day, settings.channel_id)
            return "claimed"
        status, message_id, error = PostStatus.FAILED, None, None
        try:
            build = self.bot.library.week_digest if settings.frequency == WEEKLY else self.bot.library.digest
            digest = await asyncio.to_thread(
                build, day, topics=settings.topics, limit=self.bot.config.digest_size, scope=Scope.of(settings.guild_id)
            )
            if not digest.entries:
                status = PostStatus.EMPTY
                log.info("no papers listed on %s yet; guild %s will be retried later", day, settings.guild_id)
            else:
                channel = await self._channel(settings.channel_id)
                message = await channel.send(embeds=digest_embeds(digest), allowed_mentions=NO_MENTIONS)
                status, message_id = PostStatus.POSTED, message.id
                log.info("posted the %s digest to channel %s (guild %s)", day, settings.channel_id, settings.guild_id)
        except (discord.Forbidden, discord.NotFound, ChannelUnavailable) as exc:
            status = PostStatus.SKIPPED
            reason = f"{exc.status} {exc.text}" if isinstance(exc, discord.HTTPException) else str(exc)
            error = (
                f"{day}: could not post in <#{settings.channel_id}> ({reason}); "
                "give me View Channel, Send Messages and Embed Links there, or pick another channel."
            )
            log.warning("guild %s: %s", settings.guild_id, error)
        except (discord.HTTPException, OSError, TimeoutError) as exc:
            error = f"{day}: posting failed ({type(exc).__name__}: {exc}); retrying in a few minutes."
            log.warning("guild %s: %s", settings.guild_id, error)
        except Exception as exc:
            error = f"{day}: posting failed ({type(exc).__name__}); retrying in a few minutes."
            log.exception("guild %s: unexpected error posting the digest", settings.guild_id)
        finally:
            self.bot.metrics.digest(status)
            await asyncio.to_thread(state.finish, settings.channel_id, day, status, message_id)
        if error or (status == PostStatus.POSTED and settings.last_error):
            await asyncio.to_thread(state.record_error, settings.guild_id, error)
        return status

    async def _channel(self, channel_id: int) -> discord.abc.Messageable:
        channel = self.bot.get_channel(channel_id)
        if channel is None:
            channel = await self.bot.fetch_channel(channel_id)
        if not isinstance(channel, discord.abc.Messageable):
            raise ChannelUnavailable("that channel cannot receive messages")
        return channel


class ChannelUnavailable(Exception):
    """The configured channel exists but is not one the bot can post in."""
