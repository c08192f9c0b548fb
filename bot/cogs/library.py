"""``/library add`` (Manage Server, or a role the admins choose) and ``/library role set|clear``."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.interactions import NO_MENTIONS, reply, require_manage_guild
from bot.render.follows import added_paper_embed
from retrieval.sources.feed_client import FeedConfig, FeedError
from retrieval.sources.paper_api import PaperLookupError, add_paper_by_ref, parse_paper_ref

if TYPE_CHECKING:
    from bot.app import PaperBot

log = logging.getLogger(__name__)

# Fewer retries than the daily feed: a user is waiting for the answer.
ADD_RETRIES = 2


def may_add(interaction: discord.Interaction, role_id: int | None) -> bool:
    """Manage Server, or membership of the server's library role."""
    if interaction.permissions.manage_guild:
        return True
    roles = getattr(interaction.user, "roles", None) or []
    return role_id is not None and any(role.id == role_id for role in roles)


class LibraryCog(commands.Cog):
    """Adding papers by id, and who may."""

    library = app_commands.Group(name="library", description="The paper library", guild_only=True)
    role = app_commands.Group(name="role", description="Who may add papers besides Manage Server", parent=library)

    def __init__(self, bot: PaperBot, feed_config: FeedConfig | None = None) -> None:
        self.bot = bot
        self.feed_config = feed_config

    def _config(self) -> FeedConfig:
        if self.feed_config is not None:
            return self.feed_config
        config = FeedConfig(retries=ADD_RETRIES)
        return replace(config, base_url=self.bot.config.hf_base) if self.bot.config.hf_base else config

    @library.command(name="add", description="Add a paper by arXiv id or arXiv / Hugging Face link")
    @app_commands.describe(paper="e.g. 2401.12345 or https://huggingface.co/papers/2401.12345")
    @app_commands.checks.cooldown(1, 10.0, key=lambda i: i.user.id)
    async def add(self, interaction: discord.Interaction, paper: app_commands.Range[str, 1, 300]) -> None:
        """Check who asks and what, then fetch (privately deferred: it can take seconds) and add."""
        if interaction.guild_id is None:
            raise app_commands.NoPrivateMessage()
        role_id = await asyncio.to_thread(self.bot.state.library_role, interaction.guild_id)
        if not may_add(interaction, role_id):
            who = f" or the <@&{role_id}> role" if role_id else ""
            await reply(interaction, f"Adding papers needs the Manage Server permission{who}.")
            return
        parse_paper_ref(paper)  # a PaperLookupError, here or below, is answered by the central handler
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            added = await add_paper_by_ref(self.bot.library, paper, self._config())
        except PaperLookupError as exc:
            cause = exc.__cause__
            if isinstance(cause, FeedError) and cause.status != 404:  # the API failed, not the user's id
                self.bot.metrics.source_error("paper_api")
            raise  # the one error handler tells the user
        log.info("user %s added %s to the library (%s)", interaction.user.id, added.paper.ext_id, added.outcome)
        await interaction.followup.send(
            embed=added_paper_embed(added.paper, added.outcome), ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    @role.command(name="set", description="Let members of a role add papers (Manage Server)")
    @app_commands.describe(role="Members of this role may use /library add")
    async def role_set(self, interaction: discord.Interaction, role: discord.Role) -> None:
        """Save the library role."""
        require_manage_guild(interaction)
        assert interaction.guild_id is not None
        await asyncio.to_thread(self.bot.state.set_library_role, interaction.guild_id, role.id)
        await reply(interaction, f"Members of {role.mention} may now add papers with `/library add`.")

    @role.command(name="clear", description="Only Manage Server may add papers again (Manage Server)")
    async def role_clear(self, interaction: discord.Interaction) -> None:
        """Forget the library role."""
        require_manage_guild(interaction)
        assert interaction.guild_id is not None
        await asyncio.to_thread(self.bot.state.set_library_role, interaction.guild_id, None)
        await reply(interaction, "Only members with Manage Server may add papers now.")


async def setup(bot: PaperBot) -> None:
    """Extension entry point."""
    await bot.add_cog(LibraryCog(bot))
