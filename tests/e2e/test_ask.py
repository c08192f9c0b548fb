"""``/ask`` over the wire: defer, answer, buttons (after a restart too), questions without words."""

from __future__ import annotations

import sqlite3

from bench.discord_local.discord_rules import EPHEMERAL

QUESTION = "Is there a paper on pruning convolutional filters for medical images?"


def opt(name, value, kind=3):
    return {"name": name, "type": kind, "value": value}


def buttons(message):
    return [c for row in message["components"] for c in row["components"]]


async def test_ask_answers_publicly_with_quotes_and_buttons(discord_server, launch, no_rejections):
    await launch(discord_server)
    guild = discord_server.guild()
    interaction = await discord_server.slash(guild, "ask", [opt("question", QUESTION)])
    [message] = await discord_server.wait_reply(interaction)
    assert interaction.ack == 5 and not interaction.ephemeral  # deferred, in public
    assert message["embeds"][0]["author"]["name"] == QUESTION
    assert "“" in message["embeds"][0]["description"]  # a verbatim quote
    ids = [b["custom_id"] for b in buttons(message)]
    assert any(i.startswith("paperbot:vote:up:") for i in ids) and any(i.startswith("paperbot:more:") for i in ids)
    assert message in discord_server.channel_messages(next(iter(guild.channels)))


async def test_ask_private_answer_is_seen_only_by_the_asker(discord_server, launch, no_rejections):
    await launch(discord_server)
    guild = discord_server.guild()
    interaction = await discord_server.slash(guild, "ask", [opt("question", QUESTION), opt("private", True, 5)])
    [message] = await discord_server.wait_reply(interaction)
    assert message["flags"] & EPHEMERAL
    assert discord_server.channel_messages(next(iter(guild.channels))) == []


async def test_buttons_of_an_answer_work_after_a_restart(discord_server, launch, data_dir, no_rejections):
    bot = await launch(discord_server)
    guild = discord_server.guild()
    asked = await discord_server.slash(guild, "ask", [opt("question", QUESTION)])
    [answer] = await discord_server.wait_reply(asked)
    await bot.stop()
    await launch(discord_server)  # a new process: nothing of the first one's memory

    up = next(b["custom_id"] for b in buttons(answer) if b["custom_id"].startswith("paperbot:vote:up:"))
    voted = await discord_server.click(guild, answer, up)
    [thanks] = await discord_server.wait_reply(voted)
    assert thanks["content"] == "Thanks for the feedback!" and thanks["flags"] & EPHEMERAL

    more = next(b["custom_id"] for b in buttons(answer) if b["custom_id"].startswith("paperbot:more:"))
    clicked = await discord_server.click(guild, answer, more)
    [similar] = await discord_server.wait_reply(clicked)
    assert similar["flags"] & EPHEMERAL and similar["embeds"]
    with sqlite3.connect(data_dir / "library.sqlite3") as conn:
        votes = conn.execute("SELECT question, vote FROM feedback").fetchall()
    assert votes == [(QUESTION, 1)]


async def test_a_question_of_only_mentions_gets_a_private_hint_and_no_buttons(discord_server, launch, no_rejections):
    await launch(discord_server)
    guild = discord_server.guild()
    interaction = await discord_server.slash(guild, "ask", [opt("question", "@everyone <@123456789012345678>")])
    [message] = await discord_server.wait_reply(interaction)
    assert message["flags"] & EPHEMERAL
    assert "nothing to search for" in message["content"]
    assert message["components"] == [] and message["embeds"] == []
    assert discord_server.channel_messages(next(iter(guild.channels))) == []
