"""``/paper`` with autocomplete and ``/today`` over the wire; private "no match" and errors."""

from __future__ import annotations

import sqlite3

from bench.discord_local.discord_rules import EPHEMERAL


def opt(name, value, kind=3):
    return {"name": name, "type": kind, "value": value}


async def test_paper_autocomplete_then_pick_shows_the_paper_in_public(discord_server, launch, no_rejections):
    await launch(discord_server)
    guild = discord_server.guild()
    typed = await discord_server.autocomplete(guild, "paper", "query", "Pointer")
    await discord_server.wait_for(lambda: typed.choices is not None, what="autocomplete choices")
    assert typed.ack == 8 and 1 <= len(typed.choices) <= 25
    pick = next(c for c in typed.choices if c["name"].startswith("Pointer Networks"))
    assert pick["value"].startswith("id:")

    shown = await discord_server.slash(guild, "paper", [opt("query", pick["value"])])
    [message] = await discord_server.wait_reply(shown)
    assert message["embeds"][0]["title"].startswith("Pointer Networks")
    assert not message["flags"] & EPHEMERAL
    assert message in discord_server.channel_messages(next(iter(guild.channels)))


async def test_paper_with_nonsense_says_no_match_privately(discord_server, launch, no_rejections):
    await launch(discord_server)
    guild = discord_server.guild()
    interaction = await discord_server.slash(guild, "paper", [opt("query", "pizza recipe with pineapple")])
    [message] = await discord_server.wait_reply(interaction)
    assert "No paper in the library matches" in message["content"]
    assert message["flags"] & EPHEMERAL
    assert discord_server.channel_messages(next(iter(guild.channels))) == []  # nothing shown to the channel


async def test_today_posts_the_newest_day_publicly(discord_server, launch, no_rejections):
    await launch(discord_server)
    guild = discord_server.guild()
    interaction = await discord_server.slash(guild, "today")
    [message] = await discord_server.wait_reply(interaction)
    assert message["embeds"] and not message["flags"] & EPHEMERAL
    assert message in discord_server.channel_messages(next(iter(guild.channels)))


async def test_an_unexpected_error_after_a_public_defer_is_told_privately(
    discord_server, launch, data_dir, no_rejections
):
    # A damaged library (the table of listing days is gone): /today defers publicly, then fails.
    await launch(discord_server)
    with sqlite3.connect(data_dir / "library.sqlite3") as conn:
        conn.execute("ALTER TABLE paper_days RENAME TO paper_days_gone")
    guild = discord_server.guild()
    interaction = await discord_server.slash(guild, "today")
    [message] = await discord_server.wait_reply(interaction)
    assert "something went wrong" in message["content"]
    assert message["flags"] & EPHEMERAL
    assert discord_server.channel_messages(next(iter(guild.channels))) == []


async def test_today_with_a_bad_date_is_told_privately(discord_server, launch, no_rejections):
    await launch(discord_server)
    guild = discord_server.guild()
    interaction = await discord_server.slash(guild, "today", [opt("date", "yesterday")])
    [message] = await discord_server.wait_reply(interaction)
    assert "is not a date" in message["content"] and message["flags"] & EPHEMERAL
