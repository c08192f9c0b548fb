"""The message context menu "Find papers about this": the papers matching a message, privately."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.interactions import NO_MENTIONS, reply, scope_of
from bot.render.follows import found_papers_embed
from retrieval.models import Hit

if TYPE_CHECKING:
    from bot.app import PaperBot

log = logging.getLogger(__name__)

# A message can be 4,000 characters; its start says what it is about, and search cost grows with length.
MAX_QUERY_CHARS = 1000
TOP_K = 5
# Below this cosine (paper or best sentence) a search hit is not about the message: the hybrid search
# always returns its best hits, relevant or not. ``paperbot eval --topics`` on the dev sets: at 0.5 the
# right paper is still shown for 93% of questions and claims, and 16% of off-topic questions show any.
RELEVANCE_FLOOR = 0.5

_MENTION = re.compile(r"<(?:@[!&]?|#)\d+>|<a?:\w+:\d+>|@(?:everyone|here)\b")
_URL = re.compile(r"https?://\S+")


def message_text(message: discord.Message) -> str:
    """What the message says: its content (else its embeds' titles and descriptions), minus mentions and emoji."""
    parts = [message.content or ""]
    if not parts[0].strip():
        parts = [f"{e.title or ''} {e.description or ''}" for e in message.embeds]
    text = " ".join(parts)
    text = _MENTION.sub(" ", _URL.sub(" ", text))
    return " ".join(text.split())[:MAX_QUERY_CHARS]


def relevant(hits: Sequence[Hit], floor: float = RELEVANCE_FLOOR) -> list[Hit]:
    """The hits whose paper is about the text (dense or best-sentence cosine at the floor or above)."""
    return [h for h in hits if max(h.dense_score, h.sentence_score) >= floor]


class FindCog(commands.Cog):
    """Registers the context menu (context menus cannot live inside a cog class body)."""

    def __init__(self, bot: PaperBot) -> None:
        self.bot = bot
        self.menu = app_commands.ContextMenu(name="Find papers about this", callback=self.find)

    async def cog_load(self) -> None:
        """Add the menu to the command tree."""
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        """Remove the menu."""
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    async def find(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """Search the library for the message's text and answer only to the user who asked."""
        text = message_text(message)
        if not any(ch.isalnum() for ch in text):
            await reply(interaction, "That message has no words to search for (only mentions, links or emoji).")
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        hits = await asyncio.to_thread(self.bot.library.search, text, TOP_K, scope_of(interaction))
        await interaction.followup.send(
            embed=found_papers_embed(text, relevant(hits)), ephemeral=True, allowed_mentions=NO_MENTIONS
        )


async def setup(bot: PaperBot) -> None:
    """Extension entry point."""
    await bot.add_cog(FindCog(bot))
