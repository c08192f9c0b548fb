"""The bot object, the central error handler, and run_bot's exit codes."""

from __future__ import annotations

import logging
from unittest.mock import AsyncMock, MagicMock

import aiohttp
import discord
import pytest
from discord import app_commands

from bot import app as app_module
from bot.app import (
    EXIT_CONFIG,
    EXIT_LIBRARY,
    EXIT_LOGIN,
    EXIT_OK,
    EXIT_UNREACHABLE,
    PaperBot,
    ShardedPaperBot,
    error_message,
    make_bot,
    run_bot,
)
from retrieval.settings import Settings
from tests.bot.conftest import sent
from tests.bot.test_config import GOOD_TOKEN


def test_the_bot_never_pings_and_asks_for_no_privileged_intents():
    bot = PaperBot(Settings())
    assert bot.allowed_mentions.to_dict() == {"parse": []}
    assert not bot.intents.members and not bot.intents.presences and not bot.intents.message_content


def test_sharding_is_a_setting():
    assert type(make_bot(Settings(sharded=True))) is ShardedPaperBot
    assert type(make_bot(Settings())) is PaperBot


async def test_setup_hook_opens_the_library_off_loop_loads_cogs_and_syncs_to_the_dev_guild(library, monkeypatch):
    bot = PaperBot(Settings(guild_id=42), lambda: library)
    sync = AsyncMock(return_value=[])
    monkeypatch.setattr(bot.tree, "sync", sync)
    await bot.setup_hook()
    try:
        assert bot.library is library and bot.state.store is library.storage.state
        assert {c for c in bot.cogs} == {
            "AskCog",
            "PaperCog",
            "TodayCog",
            "DigestCog",
            "HelpCog",
            "FindCog",
            "LibraryCog",
            "FollowCog",
            "ThreadsCog",
        }
        names = {c.name for c in bot.tree.get_commands(guild=discord.Object(42))}
        assert names == {"ask", "paper", "today", "digest", "help", "library", "follow", "Find papers about this"}
        assert sync.await_args.kwargs["guild"].id == 42
        for command in bot.tree.walk_commands():
            assert len(command.name) <= 32 and len(command.description) <= 100
    finally:
        await bot.remove_cog("DigestCog")  # stops the daily loop
        await bot.remove_cog("FollowCog")  # stops the DM loop


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_follow_and_library_roles_are_offered_on_postgresql_too(open_library, monkeypatch):
    library = open_library()
    assert library.storage.backend == "postgres"
    bot = PaperBot(Settings(guild_id=42), lambda: library)
    monkeypatch.setattr(bot.tree, "sync", AsyncMock(return_value=[]))
    await bot.setup_hook()
    try:
        assert {"FollowCog", "LibraryCog"} <= set(bot.cogs)
        bot.state.set_library_role(42, 7)
        follow = bot.state.follows.add(1, "topic", "graph neural networks")
        assert bot.state.library_role(42) == 7 and bot.state.follows.of_user(1) == [follow]
    finally:
        await bot.remove_cog("DigestCog")
        await bot.remove_cog("FollowCog")


async def test_a_failed_sync_is_logged_not_fatal(monkeypatch, caplog):
    bot = PaperBot(Settings())
    monkeypatch.setattr(bot.tree, "sync", AsyncMock(side_effect=discord.Forbidden(MagicMock(status=403), "no")))
    await bot.sync_commands()
    assert "could not sync slash commands" in caplog.text


@pytest.mark.parametrize(
    "error,expected,unexpected",
    [
        (app_commands.CommandOnCooldown(app_commands.Cooldown(1, 10), 7.4), "again in 7 s", False),
        (app_commands.MissingPermissions(["manage_guild"]), "Manage Server", False),
        (app_commands.NoPrivateMessage(), "only works in a server", False),
        (app_commands.CheckFailure(), "can't use", False),
        (app_commands.CommandInvokeError(MagicMock(), RuntimeError("boom")), "something went wrong", True),
    ],
)
def test_error_messages_are_brief_and_flag_the_unexpected(error, expected, unexpected):
    message, flagged = error_message(error)
    assert expected in message and flagged is unexpected


async def test_the_central_handler_replies_privately_and_logs_the_traceback(bot, make_interaction, caplog):
    interaction = make_interaction()
    try:
        raise RuntimeError("kaboom")
    except RuntimeError as exc:
        error = app_commands.CommandInvokeError(MagicMock(), exc)
    with caplog.at_level(logging.ERROR):
        await bot.on_app_command_error(interaction, error)
    kwargs = sent(interaction)
    assert kwargs["ephemeral"] is True and "logged" in kwargs["content"]
    assert "kaboom" in caplog.text


async def test_the_central_handler_follows_up_when_already_deferred(bot, make_interaction):
    interaction = make_interaction()
    await interaction.response.defer()
    await bot.on_app_command_error(interaction, app_commands.CommandOnCooldown(app_commands.Cooldown(1, 5), 3))
    interaction.followup.send.assert_awaited_once()


async def test_the_central_handler_survives_an_expired_interaction(bot, make_interaction, caplog):
    interaction = make_interaction()
    interaction.response.send_message.side_effect = discord.NotFound(MagicMock(status=404), "Unknown interaction")
    with caplog.at_level(logging.WARNING):
        await bot.on_app_command_error(interaction, app_commands.CheckFailure())  # must not raise
    interaction.response.send_message.assert_awaited_once()  # the reply was tried once, not retried
    assert "could not reply to interaction" in caplog.text and "Unknown interaction" in caplog.text
    assert not any(r.exc_info for r in caplog.records)  # a warning line, no traceback


def test_run_bot_without_a_token_exits_2_with_one_line(caplog):
    assert run_bot(Settings(token="")) == EXIT_CONFIG
    assert "DISCORD_TOKEN is not set" in caplog.text and "Traceback" not in caplog.text


def test_run_bot_with_a_malformed_token_exits_2(caplog):
    assert run_bot(Settings(token="hello")) == EXIT_CONFIG
    assert "malformed" in caplog.text


@pytest.mark.parametrize(
    "raised,code,text",
    [
        (discord.LoginFailure("Improper token has been passed."), EXIT_LOGIN, "rejected DISCORD_TOKEN"),
        (aiohttp.ClientConnectorError(MagicMock(), OSError(111, "refused")), EXIT_UNREACHABLE, "cannot reach Discord"),
        (discord.GatewayNotFound(), EXIT_UNREACHABLE, "cannot reach Discord"),
        (OSError("Network is unreachable"), EXIT_UNREACHABLE, "cannot reach Discord"),
        (app_module.LibraryOpenError("cannot open the paper library: bad file"), EXIT_LIBRARY, "paper library"),
        (KeyboardInterrupt(), EXIT_OK, ""),
    ],
)
def test_run_bot_turns_startup_failures_into_exit_codes(monkeypatch, caplog, raised, code, text):
    monkeypatch.setattr(PaperBot, "start", AsyncMock(side_effect=raised))
    assert run_bot(Settings(token=GOOD_TOKEN), lambda: None) == code
    assert text in caplog.text
    assert "Traceback" not in caplog.text


def test_shard_settings_reach_discord_py_and_decide_which_servers_this_process_serves():
    bot = make_bot(Settings(sharded=True, shard_count=2, shard_ids=(1,)))
    assert type(bot) is ShardedPaperBot and (bot.shard_count, bot.shard_ids) == (2, [1])
    assert bot.serves_guild(1 << 22) and not bot.serves_guild(2 << 22)
    assert make_bot(Settings()).serves_guild(2 << 22)  # not sharded: every server
