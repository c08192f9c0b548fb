"""``/today``: the papers of a day, posted in the channel."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.interactions import NO_MENTIONS, reply
from bot.render.embeds import digest_embeds
from retrieval.models import Digest, Scope

if TYPE_CHECKING:
    from bot.app import PaperBot


def parse_day(text: str) -> date:
    """A ``YYYY-MM-DD`` date; raises ValueError otherwise."""
    text = text.strip()
    if len(text) != 10:
        raise ValueError(text)
    return date.fromisoformat(text)


class TodayCog(commands.Cog):
    """``/today``."""

    def __init__(self, bot: PaperBot) -> None:
        self.bot = bot

    def build(self, day: date | None, guild_id: int | None) -> Digest:
        """The digest of ``day`` (default: the newest day), ranked by the server's topics if set (blocking)."""
        settings = self.bot.state.get_settings(guild_id) if guild_id else None
        topics = settings.topics if settings else ()
        return self.bot.library.digest(day, topics=topics, limit=self.bot.config.digest_size, scope=Scope.of(guild_id))

    @app_commands.command(name="today", description="The papers of a day (default: the newest day I know)")
    @app_commands.describe(date="A day as YYYY-MM-DD (optional)")
    async def today(self, interaction: discord.Interaction, date: str | None = None) -> None:
        """Validate the date, defer, build the digest off the event loop, post it."""
        day = None
        if date:
            try:
                day = parse_day(date)
            except ValueError:
                await reply(interaction, f"`{discord.utils.escape_markdown(date[:20])}` is not a date; use YYYY-MM-DD.")
                return
        await interaction.response.defer(thinking=True)
        digest = await asyncio.to_thread(self.build, day, interaction.guild_id)
        await interaction.followup.send(embeds=digest_embeds(digest), allowed_mentions=NO_MENTIONS)


async def setup(bot: PaperBot) -> None:
    """Extension entry point."""
    await bot.add_cog(TodayCog(bot))
