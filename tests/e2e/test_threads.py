"""Follow up in a thread over the wire: the button opens a thread on the answer, /ask and mentions there are
answered in the context of its papers (after a restart too), and the context goes with the thread."""

from __future__ import annotations

import sqlite3

from bench.discord_local.discord_rules import EPHEMERAL

QUESTION = "Is there a paper on pruning convolutional filters for medical images?"


def opt(name, value, kind=3):
    return {"name": name, "type": kind, "value": value}


def buttons(message):
    return [c for row in message["components"] for c in row["components"]]


def contexts(data_dir):
    with sqlite3.connect(data_dir / "library.sqlite3") as conn:
        return conn.execute("SELECT thread_id, paper_ids FROM thread_context").fetchall()


async def test_follow_up_in_a_thread(discord_server, launch, data_dir, no_rejections):
    bot = await launch(discord_server)
    guild = discord_server.guild()
    channel = next(iter(guild.channels))
    asked = await discord_server.slash(guild, "ask", [opt("question", QUESTION)])
    [answer] = await discord_server.wait_reply(asked)
    follow = next(b for b in buttons(answer) if b["custom_id"].startswith("paperbot:thread:"))
    assert follow["label"] == "Follow up in a thread"

    clicked = await discord_server.click(guild, answer, follow["custom_id"])
    [opened] = await discord_server.wait_reply(clicked)
    assert clicked.ack == 5 and opened["flags"] & EPHEMERAL and "Thread opened" in opened["content"]
    thread_id = int(answer["id"])
    assert thread_id in discord_server.threads and discord_server.threads[thread_id]["parent_id"] == str(channel)
    assert any(
        m == "POST" and p == f"/channels/{channel}/messages/{answer['id']}/threads"
        for _, m, p in discord_server.requests
    )
    [intro] = discord_server.channel_messages(thread_id)
    top_title = answer["embeds"][0]["fields"][0]["name"].split(". ", 1)[1]
    assert "answered from these papers first" in intro["content"] and top_title in intro["content"]
    [(stored_thread, paper_ids)] = contexts(data_dir)
    assert stored_thread == thread_id and paper_ids.startswith("[")

    await bot.stop()
    await launch(discord_server)  # the context survives a restart

    in_thread = await discord_server.slash(
        guild, "ask", [opt("question", "how much smaller are the pruned models?")], channel_id=thread_id
    )
    [reply] = await discord_server.wait_reply(in_thread)
    assert int(reply["channel_id"]) == thread_id
    assert reply["embeds"][0]["fields"][0]["name"].split(". ", 1)[1] in intro["content"]  # a paper of the thread

    before = len(discord_server.channel_messages(thread_id))
    await discord_server.mention(guild, thread_id, "which dataset do they evaluate on?")
    [mentioned] = await discord_server.wait_for(
        lambda: discord_server.channel_messages(thread_id)[before:] or None, what="an answer to the mention"
    )
    assert mentioned["embeds"] and mentioned["embeds"][0]["fields"][0]["name"].split(". ", 1)[1] in intro["content"]

    # A mention outside a thread opened on an answer is not answered (nothing to follow up).
    await discord_server.mention(guild, channel, "which dataset do they evaluate on?")

    await discord_server.delete_thread(guild, thread_id)
    await discord_server.wait_for(lambda: not contexts(data_dir) or None, what="the thread's context dropped")
    assert len(discord_server.channel_messages(channel)) == 1  # only the answer: the stray mention got nothing
