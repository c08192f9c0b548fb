"""``/help``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.interactions import NO_MENTIONS
from bot.render.embeds import help_embed

if TYPE_CHECKING:
    from bot.app import PaperBot


class HelpCog(commands.Cog):
    """``/help``."""

    def __init__(self, bot: PaperBot) -> None:
        self.bot = bot

    @app_commands.command(name="help", description="What paperbot does and how to use it")
    async def help(self, interaction: discord.Interaction) -> None:
        """Reply privately with the help embed."""
        await interaction.response.send_message(embed=help_embed(), ephemeral=True, allowed_mentions=NO_MENTIONS)


async def setup(bot: PaperBot) -> None:
    """Extension entry point."""
    await bot.add_cog(HelpCog(bot))
