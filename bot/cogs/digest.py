"""``/digest set|off|show`` (Manage Server) and the loop that posts the daily digests.

The loop ticks every minute and posts whatever is due (:func:`bot.state.is_due`): one loop handles
any number of servers, local times and time zones, and makes up a post missed while the bot was
down, once it is back the same local day.
"""

from __future__ import annotations

import asyncio
import logging
import zoneinfo
from datetime import datetime, timedelta
from functools import cache, partial
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot.clock import utcnow
from bot.daily import DailyPoster, Refresher
from bot.interactions import NO_MENTIONS, reply, require_manage_guild
from bot.render import limits
from bot.state import (
    DAILY,
    WEEKDAYS,
    WEEKLY,
    GuildSettings,
    LogEntry,
    PostStatus,
    is_due,
    local_day,
    parse_post_time,
    parse_schedule,
    parse_timezone,
    parse_topics,
    scheduled_at,
)

if TYPE_CHECKING:
    from bot.app import PaperBot

log = logging.getLogger(__name__)

_STATUS_TEXT = {
    PostStatus.POSTED: "posted",
    PostStatus.POSTING: "posting (or interrupted)",
    PostStatus.FAILED: "failed, will retry",
    PostStatus.EMPTY: "no papers listed yet, will retry",
    PostStatus.SKIPPED: "skipped: could not post",
}


@cache
def _zones() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


def timezone_choices(current: str) -> list[app_commands.Choice[str]]:
    """Up to 25 IANA zone names containing what was typed (case-insensitive)."""
    needle = current.strip().lower().replace(" ", "_")
    names = [name for name in _zones() if needle in name.lower()] if needle else ["UTC", "Europe/London"]
    return [app_commands.Choice(name=name, value=name) for name in names[:25]]


def next_post(settings: GuildSettings, now: datetime, entry: LogEntry | None) -> datetime:
    """When the next post is expected (today's post time if still to come or due, else the next post day's)."""
    day = local_day(settings, now)
    weekly = settings.frequency == WEEKLY and settings.weekday is not None
    if not weekly or day.weekday() == settings.weekday:
        at = scheduled_at(settings, day)
        if now < at or is_due(settings, now, entry):
            return at
        day += timedelta(days=7 if weekly else 1)
        return scheduled_at(settings, day)
    ahead = (settings.weekday - day.weekday()) % 7  # type: ignore[operator]
    return scheduled_at(settings, day + timedelta(days=ahead))


def schedule_text(settings: GuildSettings) -> str:
    """``09:00 Europe/Paris`` (daily) or ``Mondays 09:00 Europe/Paris (weekly)``."""
    when = f"{settings.post_time:%H:%M} {settings.timezone}"
    if settings.frequency == WEEKLY and settings.weekday is not None:
        return f"{WEEKDAYS[settings.weekday]}s {when} (weekly)"
    return when


def settings_embed(settings: GuildSettings | None, entry: LogEntry | None, now: datetime) -> discord.Embed:
    """What ``/digest show`` (and a successful ``/digest set``) displays."""
    embed = discord.Embed(title="Papers digest post", colour=discord.Colour.orange())
    if settings is None:
        embed.description = "Not set up. Use `/digest set` to post the day's (or the week's) papers to a channel."
        return embed
    state = "on" if settings.enabled else "off (`/digest set` to switch it back on)"
    embed.add_field(name="Status", value=state, inline=True)
    embed.add_field(name="Channel", value=f"<#{settings.channel_id}>", inline=True)
    embed.add_field(name="Time", value=schedule_text(settings), inline=True)
    topics = ", ".join(limits.safe(t, 60) for t in settings.topics) or "none (newest and most upvoted first)"
    embed.add_field(name="Topics", value=limits.truncate(topics, limits.FIELD_VALUE), inline=False)
    if settings.enabled:
        when = next_post(settings, now, entry)
        embed.add_field(name="Next post", value=discord.utils.format_dt(when, "R"), inline=True)
    if entry is not None:
        last = f"{entry.day.isoformat()}: {_STATUS_TEXT.get(entry.status, entry.status)}"
        embed.add_field(name="Last post", value=last, inline=True)
    if settings.last_error:
        embed.add_field(
            name="⚠️ Last problem", value=limits.truncate(settings.last_error, limits.FIELD_VALUE), inline=False
        )
    return embed


def missing_permissions(channel: discord.abc.GuildChannel, me: discord.Member | None) -> list[str]:
    """The permissions the bot lacks to post a digest in ``channel`` (empty when it has them)."""
    if me is None:
        return []
    perms = channel.permissions_for(me)
    needed = {
        "View Channel": perms.view_channel,
        "Send Messages": perms.send_messages,
        "Embed Links": perms.embed_links,
    }
    return [name for name, ok in needed.items() if not ok]


class DigestCog(commands.Cog):
    """Per-server daily posts: settings commands and the posting loop."""

    digest = app_commands.Group(
        name="digest",
        description="This server's daily papers post",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: PaperBot, refresh: Refresher | None = None) -> None:
        self.bot = bot
        self.poster = DailyPoster(bot, refresh)

    async def cog_load(self) -> None:
        """Start the daily loop, ticking every ``PAPERBOT_DIGEST_TICK`` seconds."""
        self.daily.change_interval(seconds=getattr(self.bot.config, "digest_tick", 60.0))
        self.daily.start()

    async def cog_unload(self) -> None:
        """Stop the daily loop."""
        self.daily.cancel()

    @tasks.loop(minutes=1)
    async def daily(self) -> None:
        """Post what is due; an error is logged and never stops the loop."""
        try:
            await self.poster.tick()
        except Exception:
            log.exception("daily digest tick failed")

    @daily.before_loop
    async def _wait_ready(self) -> None:
        await self.bot.wait_until_ready()

    @digest.command(name="set", description="Post the day's (or week's) papers to a channel at a local time")
    @app_commands.describe(
        channel="Where to post",
        time="Local time, 24-hour HH:MM (e.g. 09:00)",
        timezone="IANA time zone, e.g. Europe/Paris or America/New_York",
        topics="Optional comma-separated topics to rank the papers by",
        frequency="daily (default), or weekly: the week's top papers once a week",
        weekday="For weekly posts: the day to post on",
    )
    @app_commands.choices(
        frequency=[app_commands.Choice(name=name, value=name) for name in (DAILY, WEEKLY)],
        weekday=[app_commands.Choice(name=name, value=name) for name in WEEKDAYS],
    )
    async def set_(
        self,
        interaction: discord.Interaction,
        channel: discord.TextChannel,
        time: str,
        timezone: str,
        topics: str | None = None,
        frequency: str | None = None,
        weekday: str | None = None,
    ) -> None:
        """Validate and save the settings, then show them (with a warning if the bot cannot post there)."""
        require_manage_guild(interaction)
        assert interaction.guild_id is not None
        # A SettingsError reaches the central handler, which shows its message to the user.
        post_time = parse_post_time(time)
        zone = parse_timezone(timezone)
        topic_list = parse_topics(topics)
        freq, day_number = parse_schedule(frequency, weekday)
        await interaction.response.defer(ephemeral=True, thinking=True)
        saved = await asyncio.to_thread(
            partial(
                self.bot.state.save_settings,
                interaction.guild_id,
                channel.id,
                post_time,
                zone.key,
                topic_list,
                frequency=freq,
                weekday=day_number,
            )
        )
        embed = settings_embed(saved, None, utcnow())
        lacking = missing_permissions(channel, interaction.guild.me if interaction.guild else None)
        if lacking:
            embed.add_field(
                name="⚠️ I can't post there yet",
                value=f"Give me {', '.join(lacking)} in {channel.mention}.",
                inline=False,
            )
        await interaction.followup.send(embed=embed, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @set_.autocomplete("timezone")
    async def _timezone_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return timezone_choices(current)

    @digest.command(name="off", description="Stop the digest post in this server")
    async def off(self, interaction: discord.Interaction) -> None:
        """Switch the digest (daily or weekly) off."""
        require_manage_guild(interaction)
        assert interaction.guild_id is not None
        changed = await asyncio.to_thread(self.bot.state.disable, interaction.guild_id)
        await reply(interaction, "Digest switched off." if changed else "The digest was not on.")

    @digest.command(name="show", description="Show this server's daily post settings and last problem")
    async def show(self, interaction: discord.Interaction) -> None:
        """Show the settings, next and last post, and the last posting problem."""
        require_manage_guild(interaction)
        assert interaction.guild_id is not None
        settings, entry = await asyncio.to_thread(self._load, interaction.guild_id)
        await reply(interaction, embed=settings_embed(settings, entry, utcnow()))

    def _load(self, guild_id: int) -> tuple[GuildSettings | None, LogEntry | None]:
        settings = self.bot.state.get_settings(guild_id)
        entry = self.bot.state.last_entry(settings.channel_id) if settings else None
        return settings, entry


async def setup(bot: PaperBot) -> None:
    """Extension entry point."""
    await bot.add_cog(DigestCog(bot))
