"""Start-up over the wire: login, gateway, command sync."""

from __future__ import annotations


async def test_bot_connects_and_syncs_valid_commands(discord_server, launch, no_rejections):
    bot = await launch(discord_server)
    assert set(discord_server.commands_named()) >= {"ask", "paper", "today", "digest", "help"}
    assert discord_server.identifies and discord_server.identifies[0]["intents"] & 1
    assert "connected as paperbot" in bot.log
