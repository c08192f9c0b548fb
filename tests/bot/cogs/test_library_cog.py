"""/library add and /library role: who may add, what they are told, the library unchanged on failure."""

from __future__ import annotations

from unittest.mock import MagicMock

import pytest
from aiohttp import web
from discord import app_commands

from bot.app import PaperBot
from bot.cogs.library import LibraryCog
from bot.render import limits
from bot.state import BotState
from tests.bot.conftest import invoke, sent
from tests.conftest import BACKENDS
from tests.retrieval.sources.feed_support import api_item, fast_config

PATH = "/api/papers/{paper_id}"


@pytest.fixture
def fresh_bot(open_library, config) -> PaperBot:
    """A bot over its own empty library (adding papers must not change the shared one)."""
    library = open_library()
    paper_bot = PaperBot(config, library=library)
    paper_bot.state = BotState(library.storage.state)
    return paper_bot


async def api(serve, calls: list[str]) -> str:
    async def handler(request: web.Request) -> web.Response:
        paper_id = request.match_info["paper_id"]
        calls.append(paper_id)
        if paper_id != "2401.12345":
            return web.json_response({"error": "Not Found"}, status=404)
        item = api_item("2401.12345", "Wombat burrow mapping with @everyone ground radar")["paper"]
        return web.json_response(item)

    return await serve(handler, PATH)


def interaction_for(bot, *, manage_guild: bool = False, roles: tuple[int, ...] = ()):
    from bot.fake_interaction import mock_interaction

    interaction = mock_interaction(bot, manage_guild=manage_guild)
    interaction.user.roles = [MagicMock(id=role) for role in roles]
    return interaction


async def test_an_admin_adds_a_paper_by_url_and_it_is_answerable_at_once(fresh_bot, serve):
    calls: list[str] = []
    cog = LibraryCog(fresh_bot, fast_config(await api(serve, calls)))
    interaction = interaction_for(fresh_bot, manage_guild=True)
    await cog.add.callback(cog, interaction, "https://huggingface.co/papers/2401.12345")
    interaction.response.defer.assert_awaited_once_with(ephemeral=True, thinking=True)
    kwargs = sent(interaction)
    assert kwargs["ephemeral"] is True and limits.fits([kwargs["embed"]])
    assert kwargs["embed"].author.name.startswith("Added") and "@everyone" not in kwargs["embed"].title
    assert calls == ["2401.12345"]
    answer = fresh_bot.library.ask("how are wombat burrows mapped?")
    assert not answer.abstained and "Wombat" in answer.sources[0].title


async def test_an_unknown_id_is_explained_privately_and_adds_nothing(fresh_bot, serve):
    calls: list[str] = []
    cog = LibraryCog(fresh_bot, fast_config(await api(serve, calls)))
    interaction = interaction_for(fresh_bot, manage_guild=True)
    await invoke(cog.add, cog, interaction, "2402.00001")
    assert "no paper 2402.00001" in sent(interaction)["content"] and sent(interaction)["ephemeral"] is True
    assert fresh_bot.library.store.count() == 0


async def test_a_bad_id_is_answered_at_once_without_fetching(fresh_bot, serve):
    calls: list[str] = []
    cog = LibraryCog(fresh_bot, fast_config(await api(serve, calls)))
    interaction = interaction_for(fresh_bot, manage_guild=True)
    await invoke(cog.add, cog, interaction, "the attention paper")
    interaction.response.defer.assert_not_awaited()
    assert "not an arXiv id" in sent(interaction)["content"] and calls == []


@BACKENDS
async def test_members_without_manage_server_or_the_role_are_refused(fresh_bot, serve):
    calls: list[str] = []
    cog = LibraryCog(fresh_bot, fast_config(await api(serve, calls)))
    fresh_bot.state.set_library_role(1, 77)
    interaction = interaction_for(fresh_bot, roles=(55,))
    await cog.add.callback(cog, interaction, "2401.12345")
    content = sent(interaction)["content"]
    assert "Manage Server" in content and "<@&77>" in content
    assert sent(interaction)["allowed_mentions"].to_dict()["parse"] == []
    assert calls == [] and fresh_bot.library.store.count() == 0


@BACKENDS
async def test_members_of_the_library_role_may_add(fresh_bot, serve):
    calls: list[str] = []
    cog = LibraryCog(fresh_bot, fast_config(await api(serve, calls)))
    fresh_bot.state.set_library_role(1, 77)
    interaction = interaction_for(fresh_bot, roles=(55, 77))
    await cog.add.callback(cog, interaction, "2401.12345v2")
    assert sent(interaction)["embed"].author.name.startswith("Added") and calls == ["2401.12345"]


@BACKENDS
async def test_the_role_is_set_and_cleared_by_admins_only(fresh_bot):
    cog = LibraryCog(fresh_bot)
    role = MagicMock(id=77, mention="<@&77>")
    with pytest.raises(app_commands.MissingPermissions):
        await cog.role_set.callback(cog, interaction_for(fresh_bot), role)
    assert fresh_bot.state.library_role(1) is None
    await cog.role_set.callback(cog, interaction_for(fresh_bot, manage_guild=True), role)
    assert fresh_bot.state.library_role(1) == 77
    await cog.role_clear.callback(cog, interaction_for(fresh_bot, manage_guild=True))
    assert fresh_bot.state.library_role(1) is None


def test_the_library_group_is_guild_only_and_add_has_a_cooldown(fresh_bot):
    cog = LibraryCog(fresh_bot)
    assert cog.library.guild_only is True
    assert any("cooldown" in getattr(check, "__qualname__", "") for check in cog.add.checks)
