"""``/paper``: one paper, with autocomplete on titles."""

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
from bot.render import limits
from bot.render.embeds import paper_embed
from retrieval.models import Paper, Scope

if TYPE_CHECKING:
    from bot.app import PaperBot

log = logging.getLogger(__name__)

# Autocomplete must answer within 3 s; give up well before and offer nothing rather than fail.
AUTOCOMPLETE_TIMEOUT = 1.5
# A lookup that takes longer than this is acknowledged with a public "thinking…" first (Discord allows 3 s).
QUICK_ANSWER = 1.5
NO_MATCH = "No paper in the library matches that; try other words from its title, or pick a suggestion as you type."
_CHOICE_VALUE = re.compile(r"^id:(\d+)$")


def title_choices(pairs: Sequence[tuple[int, str]]) -> list[app_commands.Choice[str]]:
    """Autocomplete choices: ≤ 25, names ≤ 100 characters, the value ``id:<row id>``."""
    choices = []
    for paper_id, title in pairs[:25]:
        name = limits.plain(title, limits.CHOICE_NAME) or f"Paper {paper_id}"
        choices.append(app_commands.Choice(name=name, value=f"id:{paper_id}"))
    return choices


def picked_id(value: str) -> int | None:
    """The row id of a picked suggestion (``id:<n>``), else None (the user typed words)."""
    picked = _CHOICE_VALUE.match(value.strip())
    return int(picked.group(1)) if picked else None


async def suggest(bot: PaperBot, current: str, scope: Scope) -> list[app_commands.Choice[str]]:
    """Title autocomplete choices ``scope`` sees for what was typed; nothing when the library is slow or fails."""
    try:
        pairs = await asyncio.wait_for(
            asyncio.to_thread(bot.library.suggest_titles, current, 25, scope), AUTOCOMPLETE_TIMEOUT
        )
    except Exception:  # Autocomplete is best effort: an empty list is a valid answer.
        log.warning("title autocomplete failed for %r", current[:50], exc_info=True)
        return []
    return title_choices(pairs)


class PaperCog(commands.Cog):
    """``/paper``."""

    def __init__(self, bot: PaperBot) -> None:
        self.bot = bot

    def lookup(self, query: str, scope: Scope) -> Paper | None:
        """A picked suggestion (``id:<n>``) by id, else the best match ``scope`` sees for what was typed (blocking)."""
        picked = picked_id(query)
        if picked is not None:
            paper = self.bot.library.get_paper(picked, scope)
            if paper is not None:
                return paper
        return self.bot.library.find_paper(query, scope)

    @app_commands.command(name="paper", description="Show one paper: abstract, authors, date and links")
    @app_commands.describe(query="Title, arXiv id or keywords (pick a suggestion as you type)")
    async def paper(self, interaction: discord.Interaction, query: app_commands.Range[str, 1, 300]) -> None:
        """Look the paper up off the event loop; show it to the channel, or say privately that nothing matches.

        The visibility must be known when acknowledging (after a public defer Discord makes the first
        follow-up public whatever it asks), so a quick lookup is answered directly; a slow one defers
        publicly and a "no match" then replaces the thinking message with a private reply.
        """
        lookup = asyncio.ensure_future(asyncio.to_thread(self.lookup, query, scope_of(interaction)))
        done, _ = await asyncio.wait({lookup}, timeout=QUICK_ANSWER)
        if not done:
            await interaction.response.defer(thinking=True)
        paper = await lookup
        if paper is None:
            await reply(interaction, NO_MATCH)
        elif interaction.response.is_done():
            await interaction.followup.send(embed=paper_embed(paper), allowed_mentions=NO_MENTIONS)
        else:
            await interaction.response.send_message(embed=paper_embed(paper), allowed_mentions=NO_MENTIONS)

    @paper.autocomplete("query")
    async def paper_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Titles starting with or containing what was typed."""
        return await suggest(self.bot, current, scope_of(interaction))


async def setup(bot: PaperBot) -> None:
    """Extension entry point."""
    await bot.add_cog(PaperCog(bot))
