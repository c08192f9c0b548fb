"""/today: the newest day by default, a given day, a bad date, an empty day."""

from __future__ import annotations

from datetime import time

import pytest

from bot.cogs.help import HelpCog
from bot.cogs.today import TodayCog, parse_day
from bot.render import limits
from tests.bot.conftest import sent


async def test_today_posts_the_newest_day_in_the_channel(bot, make_interaction, library):
    cog = TodayCog(bot)
    interaction = make_interaction()
    await cog.today.callback(cog, interaction, None)
    interaction.response.defer.assert_awaited_once_with(thinking=True)
    embeds = sent(interaction)["embeds"]
    assert limits.fits(embeds)
    assert embeds[0].title == f"📰 Papers of {library.stats().newest_day.isoformat()}"
    assert len(embeds[0].fields) == bot.config.digest_size


async def test_today_for_a_given_day_uses_the_servers_topics(bot, make_interaction):
    bot.state.save_settings(1, 10, time(9), "UTC", ("speech synthesis",))
    cog = TodayCog(bot)
    interaction = make_interaction(guild_id=1)
    await cog.today.callback(cog, interaction, "2026-11-12")
    assert "speech synthesis" in sent(interaction)["embeds"][0].description


async def test_today_for_an_empty_day_says_so(bot, make_interaction):
    cog = TodayCog(bot)
    interaction = make_interaction()
    await cog.today.callback(cog, interaction, "1999-01-01")
    assert "No papers were listed on 1999-01-01" in sent(interaction)["embeds"][0].description


@pytest.mark.parametrize("text", ["2026-13-01", "yesterday", "2026-1-1", "20261112"])
async def test_today_rejects_a_malformed_date_privately(bot, make_interaction, text):
    cog = TodayCog(bot)
    interaction = make_interaction()
    await cog.today.callback(cog, interaction, text)
    kwargs = sent(interaction)
    assert "YYYY-MM-DD" in kwargs["content"] and kwargs["ephemeral"] is True
    interaction.response.defer.assert_not_awaited()


def test_parse_day_accepts_iso_dates():
    assert parse_day(" 2026-11-12 ").isoformat() == "2026-11-12"


async def test_help_replies_privately_with_the_commands(bot, make_interaction):
    cog = HelpCog(bot)
    interaction = make_interaction()
    await cog.help.callback(cog, interaction)
    kwargs = sent(interaction)
    assert kwargs["ephemeral"] is True and "/ask" in kwargs["embed"].fields[0].name
