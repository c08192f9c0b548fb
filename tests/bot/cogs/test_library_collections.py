"""/library import, list and remove: who may, progress and summary in the reply, one server's list only."""

from __future__ import annotations

from unittest.mock import AsyncMock, MagicMock

import pytest

from bot.app import PaperBot
from bot.cogs.library import LibraryCog
from bot.fake_interaction import mock_interaction
from bot.state import BotState
from retrieval.models import Scope
from tests.bot.conftest import invoke, sent
from tests.conftest import make_papers
from tests.retrieval.test_collections import BIB_A


@pytest.fixture
def fresh_bot(open_library, config) -> PaperBot:
    library = open_library()
    library.add_papers(make_papers(4))
    paper_bot = PaperBot(config, library=library)
    paper_bot.state = BotState(library.storage.state)
    return paper_bot


def attachment(data: bytes, filename: str = "zotero.bib") -> MagicMock:
    file = MagicMock(filename=filename, size=len(data))
    file.read = AsyncMock(return_value=data)
    return file


def edits(interaction) -> list[str]:
    return [call.kwargs["content"] for call in interaction.edit_original_response.await_args_list]


async def test_an_admin_imports_a_bibtex_file_and_sees_a_summary_with_skipped_lines(fresh_bot):
    cog = LibraryCog(fresh_bot)
    interaction = mock_interaction(fresh_bot, guild_id=111, manage_guild=True)
    interaction.edit_original_response = AsyncMock()
    await invoke(cog.import_, cog, interaction, attachment(BIB_A.encode()))
    interaction.response.defer.assert_awaited_once_with(ephemeral=True, thinking=True)
    texts = edits(interaction)
    assert texts[0].startswith("Importing zotero.bib: 2/2 papers embedded")
    assert "2 new" in texts[-1] and "1 skipped" in texts[-1] and "line 17: noabstract: no abstract" in texts[-1]
    assert fresh_bot.library.find_paper("Quantum irrigation of tomato greenhouses", Scope.of(111)) is not None
    assert fresh_bot.library.find_paper("Quantum irrigation of tomato greenhouses", Scope.of(222)) is None

    listed = mock_interaction(fresh_bot, guild_id=111)
    await invoke(cog.list_, cog, listed, 1)
    assert "2 papers" in sent(listed)["content"] and "Quantum irrigation" in sent(listed)["content"]
    other = mock_interaction(fresh_bot, guild_id=222)
    await invoke(cog.list_, cog, other, 1)
    assert "empty" in sent(other)["content"]


async def test_members_without_the_permission_cannot_import_or_remove(fresh_bot):
    cog = LibraryCog(fresh_bot)
    interaction = mock_interaction(fresh_bot, guild_id=111)
    interaction.user.roles = []
    await invoke(cog.import_, cog, interaction, attachment(BIB_A.encode()))
    assert "Manage Server" in sent(interaction)["content"] and fresh_bot.library.collection_page("111").total == 0
    interaction.response.defer.assert_not_awaited()


async def test_a_bad_file_is_answered_by_the_handler_and_nothing_is_imported(fresh_bot):
    cog = LibraryCog(fresh_bot)
    interaction = mock_interaction(fresh_bot, guild_id=111, manage_guild=True)
    interaction.edit_original_response = AsyncMock()
    await invoke(cog.import_, cog, interaction, attachment(b"title;abstract\nCaf\xe9;x\n", "list.csv"))
    assert "not UTF-8 text (byte 0xe9 on line 2)" in sent(interaction)["content"]
    await invoke(cog.import_, cog, interaction, attachment(b"x" * (9 * 1024 * 1024), "big.bib"))
    assert "the limit is 8 MB" in sent(interaction)["content"]
    assert fresh_bot.library.collection_page("111").total == 0


async def test_remove_takes_only_the_servers_own_papers(fresh_bot):
    fresh_bot.library.import_reading_list(BIB_A.encode(), "a.bib", "111")
    cog = LibraryCog(fresh_bot)
    interaction = mock_interaction(fresh_bot, guild_id=222, manage_guild=True)
    await invoke(cog.remove, cog, interaction, "Quantum irrigation of tomato greenhouses")
    assert "no paper of this server's reading list" in sent(interaction)["content"]
    mine = mock_interaction(fresh_bot, guild_id=111, manage_guild=True)
    await invoke(cog.remove, cog, mine, "all")
    assert "Removed all 2 papers" in sent(mine)["content"] and fresh_bot.library.collection_page("111").total == 0
