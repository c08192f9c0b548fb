"""Fixtures for the Discord adapter: a bot over the session library, bot state on a fresh file."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import discord
import pytest

from bench.gateway_bench import mock_interaction
from bot.app import PaperBot
from bot.config import BotConfig
from bot.state import BotState
from retrieval.storage.sqlite.db import Database


@pytest.fixture
def state_db(tmp_path) -> Iterator[Database]:
    """A fresh database for bot state, so tests never share settings or digest logs."""
    database = Database(tmp_path / "bot-state.sqlite3")
    yield database
    database.close()


@pytest.fixture
def config() -> BotConfig:
    return BotConfig(token="", ask_cooldown=10, digest_size=5)


@pytest.fixture
def bot(library, state_db, config) -> PaperBot:
    """A bot (never connected) over the session's real library, with state on ``state_db``."""
    paper_bot = PaperBot(config, library=library)
    paper_bot.state = BotState(state_db)
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
