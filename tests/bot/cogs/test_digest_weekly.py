"""Weekly digests: /digest set frequency weekday, one post a week on its weekday, the week's papers."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from unittest.mock import AsyncMock

import pytest

from bot.cogs.digest import DigestCog, next_post, settings_embed
from bot.render import limits
from bot.state import WEEKLY, GuildSettings, LogEntry, PostStatus, SettingsError, is_due, parse_schedule
from tests.bot.cogs.test_digest import BEFORE, make_channel
from tests.bot.conftest import invoke, sent

DAY = date(2026, 11, 12)  # a Thursday, the newest day of the bundled corpus
THURSDAY_NINE = datetime(2026, 11, 12, 9, 0, tzinfo=UTC)


@pytest.fixture
def cog(bot):
    return DigestCog(bot, refresh=AsyncMock())


def weekly(bot, channel, weekday: int = 3) -> None:
    bot.state.save_settings(1, channel.id, time(9), "UTC", frequency=WEEKLY, weekday=weekday, now=BEFORE)
    bot.get_channel = lambda channel_id: channel


@pytest.mark.parametrize(
    "frequency,weekday,expected",
    [(None, None, ("daily", None)), ("weekly", "Monday", ("weekly", 0)), ("Weekly", "sun", ("weekly", 6))],
)
def test_parse_schedule_reads_frequency_and_weekday(frequency, weekday, expected):
    assert parse_schedule(frequency, weekday) == expected


@pytest.mark.parametrize(
    "frequency,weekday,message", [("weekly", None, "weekday"), ("daily", "Monday", "weekly"), ("hourly", None, "daily")]
)
def test_parse_schedule_refuses_what_does_not_go_together(frequency, weekday, message):
    with pytest.raises(SettingsError, match=message):
        parse_schedule(frequency, weekday)


def test_a_weekly_post_is_due_only_on_its_weekday():
    settings = GuildSettings(1, 10, time(9), "UTC", updated_at=BEFORE, frequency=WEEKLY, weekday=3)
    assert is_due(settings, THURSDAY_NINE, None)
    assert not is_due(settings, THURSDAY_NINE + timedelta(days=1), None)
    assert not is_due(settings, THURSDAY_NINE - timedelta(days=1), None)


def test_next_weekly_post_is_the_next_weekday_at_the_time():
    settings = GuildSettings(1, 10, time(9), "UTC", updated_at=BEFORE, frequency=WEEKLY, weekday=0)
    assert next_post(settings, THURSDAY_NINE, None) == datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
    thursday = GuildSettings(1, 10, time(9), "UTC", updated_at=BEFORE, frequency=WEEKLY, weekday=3)
    posted = LogEntry(10, DAY, PostStatus.POSTED, 1, THURSDAY_NINE)
    assert next_post(thursday, THURSDAY_NINE + timedelta(hours=1), posted) == THURSDAY_NINE + timedelta(days=7)


async def test_set_weekly_saves_and_shows_the_weekday(cog, bot, make_interaction):
    interaction = make_interaction(manage_guild=True)
    await cog.set_.callback(cog, interaction, make_channel(), "09:00", "UTC", None, "weekly", "Thursday")
    saved = bot.state.get_settings(1)
    assert (saved.frequency, saved.weekday) == (WEEKLY, 3)
    fields = {f.name: f.value for f in sent(interaction)["embed"].fields}
    assert fields["Time"] == "Thursdays 09:00 UTC (weekly)"


async def test_set_weekly_without_a_weekday_is_refused_and_saves_nothing(cog, bot, make_interaction):
    interaction = make_interaction(manage_guild=True)
    await invoke(cog.set_, cog, interaction, make_channel(), "09:00", "UTC", None, "weekly", None)
    assert "weekday" in sent(interaction)["content"] and bot.state.get_settings(1) is None


async def test_the_weekly_post_lists_the_weeks_papers_once_a_week(cog, bot):
    channel = make_channel()
    weekly(bot, channel)
    assert await cog.poster.tick(THURSDAY_NINE - timedelta(days=1)) == []
    assert await cog.poster.tick(THURSDAY_NINE) == [(1, DAY, PostStatus.POSTED)]
    embeds = channel.send.await_args.kwargs["embeds"]
    assert limits.fits(embeds) and embeds[0].title == "📰 Papers of the week 2026-11-06 – 2026-11-12"
    (days,) = cog.poster._refresh.await_args.args
    assert list(days) == [DAY - timedelta(days=n) for n in range(6, -1, -1)]
    assert await cog.poster.tick(THURSDAY_NINE + timedelta(hours=3)) == []
    assert await cog.poster.tick(THURSDAY_NINE + timedelta(days=1)) == []
    assert channel.send.await_count == 1


def test_show_displays_a_weekly_schedule():
    settings = GuildSettings(1, 10, time(9), "UTC", updated_at=BEFORE, frequency=WEEKLY, weekday=4)
    fields = {f.name: f.value for f in settings_embed(settings, None, THURSDAY_NINE).fields}
    assert fields["Time"] == "Fridays 09:00 UTC (weekly)"
