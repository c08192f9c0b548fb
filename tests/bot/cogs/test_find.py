"""The "Find papers about this" message menu: private answers, and empty, mention-only or huge messages."""

from __future__ import annotations

from unittest.mock import create_autospec

import discord
from discord import app_commands

from bot.cogs.find import MAX_QUERY_CHARS, FindCog, message_text
from bot.render import limits
from tests.bot.conftest import sent


def make_message(content: str = "", embeds: list[discord.Embed] | None = None) -> discord.Message:
    message = create_autospec(discord.Message, instance=True)
    message.content = content
    message.embeds = embeds or []
    return message


def test_the_menu_is_a_message_context_menu_named_for_users(bot):
    cog = FindCog(bot)
    assert isinstance(cog.menu, app_commands.ContextMenu)
    assert cog.menu.type is discord.AppCommandType.message and cog.menu.name == "Find papers about this"


def test_message_text_drops_mentions_links_and_emoji_and_falls_back_to_embeds():
    text = message_text(make_message("<@123456789012345678> @everyone look: https://x.io/a <:pog:1234> pruning CNNs"))
    assert text == "look: pruning CNNs"
    embedded = make_message("", [discord.Embed(title="Speculative decoding", description="drafts then verifies")])
    assert message_text(embedded) == "Speculative decoding drafts then verifies"
    assert len(message_text(make_message("word " * 2000))) == MAX_QUERY_CHARS


async def test_a_message_about_a_paper_gets_that_paper_privately(bot, make_interaction, library):
    cog = FindCog(bot)
    interaction = make_interaction()
    await cog.find(interaction, make_message("has anyone tried pruning convolutional filters for medical images?"))
    interaction.response.defer.assert_awaited_once_with(ephemeral=True, thinking=True)
    kwargs = sent(interaction)
    assert (
        kwargs["ephemeral"] is True and kwargs["allowed_mentions"].to_dict() == discord.AllowedMentions.none().to_dict()
    )
    embed = kwargs["embed"]
    assert limits.fits([embed]) and 1 <= len(embed.fields) <= 5
    assert "prun" in embed.fields[0].name.lower()


async def test_a_mention_only_message_is_refused_without_searching(bot, make_interaction, monkeypatch):
    cog = FindCog(bot)
    monkeypatch.setattr(bot.library, "search", lambda *a: (_ for _ in ()).throw(AssertionError("searched")))
    interaction = make_interaction()
    await cog.find(interaction, make_message("<@123456789012345678> @everyone @here"))
    interaction.response.defer.assert_not_awaited()
    assert "no words" in sent(interaction)["content"] and sent(interaction)["ephemeral"] is True


async def test_an_empty_message_is_refused(bot, make_interaction):
    cog = FindCog(bot)
    interaction = make_interaction()
    await cog.find(interaction, make_message(""))
    assert "no words" in sent(interaction)["content"]


async def test_an_off_topic_message_says_no_paper_is_about_it(bot, make_interaction):
    cog = FindCog(bot)
    interaction = make_interaction()
    await cog.find(interaction, make_message("what's a good recipe for sourdough bread with a stiff starter?"))
    embed = sent(interaction)["embed"]
    assert embed.fields == [] and "No paper" in embed.description


async def test_a_huge_message_full_of_markdown_is_answered_within_limits(bot, make_interaction):
    cog = FindCog(bot)
    interaction = make_interaction()
    huge = "**diffusion models** for `image synthesis` @everyone " * 80
    await cog.find(interaction, make_message(huge))
    embed = sent(interaction)["embed"]
    assert limits.fits([embed]) and len(embed.author.name) <= limits.AUTHOR and "@everyone" not in embed.author.name
