"""Fixtures for the Discord adapter: a bot over the session library, bot state on a fresh file."""

from __future__ import annotations

from collections.abc import Callable

import discord
import pytest
from discord import app_commands

from bot.app import PaperBot
from bot.fake_interaction import mock_interaction
from bot.state import BotState
from retrieval.settings import Settings


@pytest.fixture
def open_state(open_store) -> Callable[[], BotState]:
    """Bot state on a fresh database of the test's backend; each call connects anew (a restart, another process)."""
    return lambda: BotState(open_store().state)


@pytest.fixture
def config() -> Settings:
    return Settings(token="", ask_cooldown=10, digest_size=5)


@pytest.fixture
def bot(library, open_state, config) -> PaperBot:
    """A bot (never connected) over the session's real library, with state on a fresh database."""
    paper_bot = PaperBot(config, library=library)
    paper_bot.state = open_state()
    return paper_bot


@pytest.fixture
def make_interaction(bot) -> Callable[..., discord.Interaction]:
    """Autospecced interactions for ``bot`` (keyword options: user_id, guild_id, manage_guild)."""

    def make(**kwargs: object) -> discord.Interaction:
        return mock_interaction(bot, **kwargs)  # type: ignore[arg-type]

    return make


def sent(interaction: discord.Interaction) -> dict:
    """The keyword arguments of the one follow-up (or first response) sent."""
    if interaction.followup.send.await_count:
        return interaction.followup.send.await_args.kwargs
    return interaction.response.send_message.await_args.kwargs


async def invoke(command: app_commands.Command, cog: object, interaction: discord.Interaction, *args: object) -> None:
    """Run a slash command as discord.py dispatches it: an error it raises reaches the bot's one error handler."""
    try:
        await command.callback(cog, interaction, *args)  # type: ignore[arg-type]
    except app_commands.AppCommandError as error:
        await interaction.client.on_app_command_error(interaction, error)  # type: ignore[attr-defined]
    except Exception as exc:
        error = app_commands.CommandInvokeError(command, exc)
        await interaction.client.on_app_command_error(interaction, error)  # type: ignore[attr-defined]
