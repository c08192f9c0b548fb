"""Start-up over the wire: login, gateway, command sync and what happens when Discord refuses it."""

from __future__ import annotations

from bench.discord_local.discord_rules import EPHEMERAL


async def test_bot_connects_and_syncs_valid_commands(discord_server, launch, no_rejections):
    bot = await launch(discord_server)
    assert set(discord_server.commands_named()) >= {"ask", "paper", "today", "digest", "help"}
    [identify] = discord_server.identifies
    assert identify["intents"] & 1 and identify["token"] == discord_server.token  # GUILDS, nothing privileged
    await bot.wait_log(r"connected as paperbot to 1 server")


async def test_rejected_command_definitions_stop_the_bot_with_what_discord_said(discord_server, launch):
    discord_server.command_errors = {"0.options.1.description": "Must be between 1 and 100 in length."}
    bot = await launch(discord_server, ready=False)
    assert await bot.wait_exit() == 6
    assert "Discord rejected the slash command definitions (400 50035" in bot.log
    assert "Must be between 1 and 100 in length" in bot.log
    assert "DISCORD_GUILD_ID" not in bot.log and "Traceback" not in bot.log


async def test_no_access_to_the_dev_guild_points_at_discord_guild_id_and_keeps_running(discord_server, launch):
    missing_guild = "123456789012345678"
    bot = await launch(discord_server, DISCORD_GUILD_ID=missing_guild)
    line = (await bot.wait_log(r"could not sync slash commands.*")).group(0)
    assert "403 50001" in line and "check DISCORD_GUILD_ID" in line
    assert bot.proc.returncode is None


async def test_log_level_setting_is_applied(discord_server, launch):
    quiet = await launch(discord_server, ready=False, PAPERBOT_LOG_LEVEL="WARNING")
    await discord_server.wait_for(lambda: discord_server.sessions and discord_server.commands_named(), what="login")
    answered = await discord_server.slash(discord_server.guild(), "help")
    await discord_server.wait_reply(answered)
    await quiet.stop()
    assert not [line for line in quiet.lines if " INFO " in line], quiet.log

    chatty = await launch(discord_server, PAPERBOT_LOG_LEVEL="DEBUG")
    await chatty.wait_log(r" DEBUG ")
    await chatty.wait_log(r" INFO .*connected as paperbot")


async def test_a_command_the_bot_no_longer_has_gets_one_line_and_a_private_reply(discord_server, launch, no_rejections):
    bot = await launch(discord_server)
    interaction = await discord_server.slash(discord_server.guild(), "summarize", stale=True)
    [message] = await discord_server.wait_reply(interaction)
    assert message["flags"] & EPHEMERAL and "no longer exists" in message["content"]
    await bot.wait_log(r"WARNING .*unknown command /summarize")
    assert "Traceback" not in bot.log and " ERROR " not in bot.log


async def test_an_interaction_that_expired_before_the_answer_gets_one_line(discord_server, launch):
    bot = await launch(discord_server)
    late = await discord_server.slash(
        discord_server.guild(), "ask", [{"name": "question", "type": 3, "value": "what is model merging?"}], age=3.5
    )
    await bot.wait_log(r"WARNING .*/ask: the interaction expired before I answered")
    assert late.errors == [(404, 10062)]
    assert "Traceback" not in bot.log and " ERROR " not in bot.log
