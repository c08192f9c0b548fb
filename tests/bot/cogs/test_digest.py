"""/digest set|off|show and the daily post: permissions, idempotency, restarts, failures."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from unittest.mock import AsyncMock, MagicMock, create_autospec

import discord
import pytest
from discord import app_commands

from bot.app import PaperBot
from bot.cogs.digest import DigestCog, next_post, settings_embed, timezone_choices
from bot.render import limits
from bot.state import GuildSettings, LogEntry, PostStatus
from tests.bot.conftest import invoke, sent
from tests.conftest import BACKENDS

# Tests that touch bot state run on SQLite and on PostgreSQL (a fresh database of each): @BACKENDS.


DAY = date(2026, 11, 12)  # the newest day of the bundled corpus
AT_NINE = datetime(2026, 11, 12, 9, 0, tzinfo=UTC)
BEFORE = AT_NINE - timedelta(days=2)


def make_channel(channel_id: int = 10, *, can_post: bool = True) -> discord.TextChannel:
    channel = create_autospec(discord.TextChannel, instance=True)
    channel.id = channel_id
    channel.mention = f"<#{channel_id}>"
    channel.permissions_for.return_value = discord.Permissions(
        view_channel=True, send_messages=can_post, embed_links=can_post
    )
    channel.send.return_value = MagicMock(id=555)
    return channel


def http_error(cls: type[discord.HTTPException], status: int, text: str) -> discord.HTTPException:
    return cls(MagicMock(status=status, reason=text), {"code": 0, "message": text})


@pytest.fixture
def cog(bot):
    return DigestCog(bot, refresh=AsyncMock())


def configure(bot: PaperBot, channel: discord.TextChannel, post: time = time(9), tz: str = "UTC", **kw) -> None:
    bot.state.save_settings(1, channel.id, post, tz, now=BEFORE, **kw)
    bot.get_channel = MagicMock(return_value=channel)


# -- settings commands ----------------------------------------------------------------------


@BACKENDS
async def test_set_saves_the_settings_and_shows_them(cog, bot, make_interaction):
    interaction = make_interaction(manage_guild=True)
    channel = make_channel()
    await cog.set_.callback(cog, interaction, channel, "08:30", "Europe/Paris", "LLM agents, diffusion")
    saved = bot.state.get_settings(1)
    assert (saved.channel_id, saved.post_time, saved.timezone) == (10, time(8, 30), "Europe/Paris")
    assert saved.topics == ("LLM agents", "diffusion")
    kwargs = sent(interaction)
    assert kwargs["ephemeral"] is True
    fields = {f.name: f.value for f in kwargs["embed"].fields}
    assert fields["Time"] == "08:30 Europe/Paris" and fields["Channel"] == "<#10>"


@BACKENDS
async def test_set_warns_when_the_bot_cannot_post_in_the_channel(cog, make_interaction):
    interaction = make_interaction(manage_guild=True)
    await cog.set_.callback(cog, interaction, make_channel(can_post=False), "08:30", "UTC", None)
    warning = next(f for f in sent(interaction)["embed"].fields if "can't post" in f.name)
    assert "Send Messages" in warning.value and "Embed Links" in warning.value


@pytest.mark.parametrize("time_text,tz,message", [("25:00", "UTC", "HH:MM"), ("09:00", "Mars/Base", "time zone")])
@BACKENDS
async def test_set_rejects_a_bad_time_or_timezone_without_saving(cog, bot, make_interaction, time_text, tz, message):
    interaction = make_interaction(manage_guild=True)
    await invoke(cog.set_, cog, interaction, make_channel(), time_text, tz, None)
    assert message in sent(interaction)["content"] and sent(interaction)["ephemeral"] is True
    assert bot.state.get_settings(1) is None


@pytest.mark.parametrize("command", ["set_", "off", "show"])
@BACKENDS
async def test_settings_commands_need_manage_server(cog, make_interaction, command):
    interaction = make_interaction(manage_guild=False)
    args = (make_channel(), "09:00", "UTC", None) if command == "set_" else ()
    with pytest.raises(app_commands.MissingPermissions):
        await getattr(cog, command).callback(cog, interaction, *args)
    interaction.response.send_message.assert_not_awaited()


@BACKENDS
async def test_settings_commands_refuse_outside_a_server(cog, make_interaction):
    with pytest.raises(app_commands.NoPrivateMessage):
        await cog.show.callback(cog, make_interaction(guild_id=None, manage_guild=True))


@BACKENDS
def test_the_digest_group_is_guild_only_and_hidden_from_non_admins_by_default(cog):
    assert cog.digest.default_permissions == discord.Permissions(manage_guild=True)
    assert cog.digest.guild_only


@BACKENDS
async def test_off_switches_the_daily_post_off(cog, bot, make_interaction):
    configure(bot, make_channel())
    interaction = make_interaction(manage_guild=True)
    await cog.off.callback(cog, interaction)
    assert "switched off" in sent(interaction)["content"]
    assert not bot.state.get_settings(1).enabled
    again = make_interaction(manage_guild=True)
    await cog.off.callback(cog, again)
    assert "was not on" in sent(again)["content"]


@BACKENDS
async def test_show_without_settings_explains_how_to_set_up(cog, make_interaction):
    interaction = make_interaction(manage_guild=True)
    await cog.show.callback(cog, interaction)
    assert "/digest set" in sent(interaction)["embed"].description


def test_timezone_autocomplete_offers_at_most_25_matching_zones():
    choices = timezone_choices("america")
    assert 0 < len(choices) <= 25 and all("America" in c.value for c in choices)
    assert [c.value for c in timezone_choices("new york")] == ["America/New_York"]


def test_next_post_is_today_until_posted_then_tomorrow():
    settings = GuildSettings(1, 10, time(9), "UTC", updated_at=BEFORE)
    assert next_post(settings, AT_NINE - timedelta(hours=1), None) == AT_NINE
    posted = LogEntry(10, DAY, PostStatus.POSTED, 1, AT_NINE)
    assert next_post(settings, AT_NINE + timedelta(hours=1), posted) == AT_NINE + timedelta(days=1)


def test_settings_embed_fits_with_huge_topics_and_errors():
    settings = GuildSettings(1, 10, time(9), "UTC", ("@everyone " * 10,) * 5, True, "x" * 5000, BEFORE)
    embed = settings_embed(settings, None, AT_NINE)
    assert limits.fits([embed]) and "@everyone" not in str(embed.to_dict())


# -- the daily post ---------------------------------------------------------------------------


@BACKENDS
async def test_the_daily_tick_posts_a_due_digest_once(cog, bot):
    channel = make_channel()
    configure(bot, channel)
    assert await cog.poster.tick(AT_NINE - timedelta(minutes=1)) == []
    assert await cog.poster.tick(AT_NINE) == [(1, DAY, PostStatus.POSTED)]
    channel.send.assert_awaited_once()
    kwargs = channel.send.await_args.kwargs
    assert limits.fits(kwargs["embeds"]) and kwargs["allowed_mentions"].to_dict()["parse"] == []
    assert kwargs["embeds"][0].title == "📰 Papers of 2026-11-12"
    assert await cog.poster.tick(AT_NINE + timedelta(minutes=1)) == []
    assert bot.state.log_entry(10, DAY).message_id == 555


@BACKENDS
async def test_the_feed_is_refreshed_for_the_due_days_before_posting(cog, bot):
    configure(bot, make_channel())
    await cog.poster.tick(AT_NINE)
    (days,) = cog.poster._refresh.await_args.args
    assert list(days) == [DAY]


@BACKENDS
async def test_a_failing_feed_refresh_is_logged_and_the_post_goes_on(bot, caplog):
    cog = DigestCog(bot, refresh=AsyncMock(side_effect=RuntimeError("feed down")))
    channel = make_channel()
    configure(bot, channel)
    assert await cog.poster.tick(AT_NINE) == [(1, DAY, PostStatus.POSTED)]
    assert "feed refresh raised" in caplog.text


@BACKENDS
async def test_a_restart_does_not_post_the_same_day_twice(bot, library, open_state, config):
    channel = make_channel()
    configure(bot, channel)
    assert await DigestCog(bot, refresh=AsyncMock()).poster.tick(AT_NINE) == [(1, DAY, PostStatus.POSTED)]
    # A new bot object on a new connection to the same database, as after a restart.
    restarted = PaperBot(config, library=library)
    restarted.state = open_state()
    restarted.get_channel = MagicMock(return_value=channel)
    assert await DigestCog(restarted, refresh=AsyncMock()).poster.tick(AT_NINE + timedelta(minutes=3)) == []
    channel.send.assert_awaited_once()


@BACKENDS
async def test_two_bots_on_two_connections_ticking_at_once_post_once(bot, library, open_state, config):
    # Two bot objects, each with its own database connection, in ONE event loop (not two OS processes):
    # what makes them post once is the database's claim (one row per channel and day), which they share.
    channel = make_channel()
    configure(bot, channel)
    other = PaperBot(config, library=library)
    other.state = open_state()
    other.get_channel = MagicMock(return_value=channel)
    first, second = DigestCog(bot, refresh=AsyncMock()), DigestCog(other, refresh=AsyncMock())
    results = await asyncio.gather(first.poster.tick(AT_NINE), second.poster.tick(AT_NINE))
    outcomes = sorted(outcome for result in results for _, _, outcome in result)
    assert outcomes in (["claimed", PostStatus.POSTED], [PostStatus.POSTED])
    channel.send.assert_awaited_once()


@BACKENDS
async def test_a_post_missed_while_down_is_made_up_later_the_same_day(cog, bot):
    channel = make_channel()
    configure(bot, channel)
    assert await cog.poster.tick(AT_NINE + timedelta(hours=10)) == [(1, DAY, PostStatus.POSTED)]
    assert await cog.poster.tick(AT_NINE + timedelta(days=1, hours=-8)) == []  # next day, before 09:00


@BACKENDS
async def test_missing_permissions_are_logged_skipped_recorded_and_shown(cog, bot, make_interaction, caplog):
    channel = make_channel()
    channel.send.side_effect = http_error(discord.Forbidden, 403, "Missing Permissions")
    configure(bot, channel)
    assert await cog.poster.tick(AT_NINE) == [(1, DAY, PostStatus.SKIPPED)]
    assert "could not post in <#10>" in caplog.text
    assert await cog.poster.tick(AT_NINE + timedelta(hours=2)) == []  # not retried every minute
    interaction = make_interaction(manage_guild=True)
    await cog.show.callback(cog, interaction)
    fields = {f.name: f.value for f in sent(interaction)["embed"].fields}
    assert "Missing Permissions" in fields["⚠️ Last problem"] and "Send Messages" in fields["⚠️ Last problem"]
    assert "skipped" in fields["Last post"]


@BACKENDS
async def test_a_deleted_channel_is_skipped_and_reported(cog, bot):
    configure(bot, make_channel())
    bot.get_channel = MagicMock(return_value=None)
    bot.fetch_channel = AsyncMock(side_effect=http_error(discord.NotFound, 404, "Unknown Channel"))
    assert await cog.poster.tick(AT_NINE) == [(1, DAY, PostStatus.SKIPPED)]
    assert "Unknown Channel" in bot.state.get_settings(1).last_error


@BACKENDS
async def test_a_transient_error_is_retried_and_a_success_clears_the_error(cog, bot):
    channel = make_channel()
    channel.send.side_effect = [http_error(discord.DiscordServerError, 503, "Unavailable"), MagicMock(id=9)]
    configure(bot, channel)
    assert await cog.poster.tick(AT_NINE) == [(1, DAY, PostStatus.FAILED)]
    assert bot.state.get_settings(1).last_error
    assert await cog.poster.tick(AT_NINE + timedelta(minutes=1)) == []
    assert await cog.poster.tick(AT_NINE + timedelta(minutes=6)) == [(1, DAY, PostStatus.POSTED)]
    assert bot.state.get_settings(1).last_error is None


@BACKENDS
async def test_an_empty_day_posts_nothing_and_is_retried_later(cog, bot):
    channel = make_channel()
    configure(bot, channel)
    empty_day = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)
    assert await cog.poster.tick(empty_day) == [(1, date(2030, 1, 1), PostStatus.EMPTY)]
    channel.send.assert_not_awaited()
    assert await cog.poster.tick(empty_day + timedelta(minutes=30)) == []
    assert await cog.poster.tick(empty_day + timedelta(minutes=61)) == [(1, date(2030, 1, 1), PostStatus.EMPTY)]


@BACKENDS
async def test_the_digest_is_ranked_by_the_servers_topics(cog, bot):
    channel = make_channel()
    configure(bot, channel, topics=("robot manipulation",))
    await cog.poster.tick(AT_NINE)
    embed = channel.send.await_args.kwargs["embeds"][0]
    assert "robot manipulation" in embed.description


@BACKENDS
async def test_the_loop_starts_on_load_and_stops_on_unload(cog):
    await cog.cog_load()
    assert cog.daily.is_running()
    await cog.cog_unload()
    await asyncio.sleep(0)
    assert cog.daily.is_being_cancelled() or not cog.daily.is_running()
