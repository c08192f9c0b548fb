"""``/follow`` and the "Find papers about this" message menu over the wire: registered, private answers."""

from __future__ import annotations

from bench.discord_local.discord_rules import EPHEMERAL

MESSAGE_COMMAND = 3


def opt(name, value, kind=3):
    return {"name": name, "type": kind, "value": value}


def sub(name, *options):
    return [{"name": name, "type": 1, "options": list(options)}]


async def test_follow_a_topic_then_list_it_privately(discord_server, launch, no_rejections):
    await launch(discord_server)
    guild = discord_server.guild()
    user = discord_server.user("bea")
    added = await discord_server.slash(guild, "follow", sub("topic", opt("topic", "speculative decoding")), user=user)
    [message] = await discord_server.wait_reply(added)
    assert "Following topic" in message["content"] and message["flags"] & EPHEMERAL
    listed = await discord_server.slash(guild, "follow", sub("list"), user=user)
    [message] = await discord_server.wait_reply(listed)
    assert "speculative decoding" in message["embeds"][0]["description"] and message["flags"] & EPHEMERAL
    assert discord_server.channel_messages(next(iter(guild.channels))) == []


async def test_find_papers_about_a_message_answers_only_the_user(discord_server, launch, no_rejections):
    await launch(discord_server)
    guild = discord_server.guild()
    channel_id = next(iter(guild.channels))
    command = discord_server.commands_named(guild.id).get("Find papers about this") or discord_server.commands_named(
        None
    ).get("Find papers about this")
    assert command is not None and command["type"] == MESSAGE_COMMAND
    author = discord_server.user("carl")
    target = {
        "id": str(discord_server.ids.next()),
        "channel_id": str(channel_id),
        "author": author,
        "content": "<@123456789012345678> anyone know work on pruning convolutional filters for medical images?",
        "timestamp": "2026-11-20T10:00:00.000000+00:00",
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "pinned": False,
        "type": 0,
        "flags": 0,
        "components": [],
    }
    data = {
        "id": command["id"],
        "name": "Find papers about this",
        "type": MESSAGE_COMMAND,
        "target_id": target["id"],
        "resolved": {"messages": {target["id"]: target}},
    }
    if command.get("guild_id"):
        data["guild_id"] = command["guild_id"]
    interaction = await discord_server._interact(guild, 2, data)
    [message] = await discord_server.wait_reply(interaction)
    assert message["flags"] & EPHEMERAL
    assert message["embeds"] and "prun" in message["embeds"][0]["fields"][0]["name"].lower()
    assert discord_server.channel_messages(channel_id) == []
