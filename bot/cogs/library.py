"""``/library add``, ``/library import|list|remove`` (a server's private reading list) and ``/library role set|clear``.

Adding, importing and removing need Manage Server or the role the admins choose; listing does not.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.interactions import NO_MENTIONS, reply, require_manage_guild
from bot.render.collections import collection_text, import_progress, import_summary, removed_text
from bot.render.follows import added_paper_embed
from retrieval.collections import ImportReport
from retrieval.sources.feed_client import FeedConfig, FeedError
from retrieval.sources.paper_api import PaperLookupError, add_paper_by_ref, parse_paper_ref
from retrieval.sources.reading_list import MAX_BYTES, ReadingListError

if TYPE_CHECKING:
    from bot.app import PaperBot

log = logging.getLogger(__name__)

# Fewer retries than the daily feed: a user is waiting for the answer.
ADD_RETRIES = 2
# Seconds between two progress edits of the deferred reply (Discord rate-limits message edits).
PROGRESS_EVERY = 2.0


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

    async def _check_may_add(self, interaction: discord.Interaction) -> bool:
        """Manage Server or the library role; says so privately (False) otherwise."""
        if interaction.guild_id is None:
            raise app_commands.NoPrivateMessage()
        role_id = await asyncio.to_thread(self.bot.state.library_role, interaction.guild_id)
        if may_add(interaction, role_id):
            return True
        who = f" or the <@&{role_id}> role" if role_id else ""
        await reply(interaction, f"Changing the reading list needs the Manage Server permission{who}.")
        return False

    @library.command(name="import", description="Import a reading list (BibTeX, RIS, CSV, JSONL) only this server sees")
    @app_commands.describe(file="A .bib (Zotero, Mendeley), .ris, .csv (title, abstract columns) or .jsonl file")
    @app_commands.checks.cooldown(1, 30.0, key=lambda i: i.guild_id)
    async def import_(self, interaction: discord.Interaction, file: discord.Attachment) -> None:
        """Check who and what, defer privately, parse and embed off the event loop with progress, then summarize."""
        if not await self._check_may_add(interaction):
            return
        if file.size > MAX_BYTES:
            raise ReadingListError(
                f"{file.filename} is {file.size / 1e6:.1f} MB; the limit is {MAX_BYTES // (1024 * 1024)} MB: split it"
            )
        await interaction.response.defer(ephemeral=True, thinking=True)
        data = await file.read()
        loop = asyncio.get_running_loop()
        last = [0.0]

        def progress(done: int, total: int) -> None:  # on the worker thread
            now = time.monotonic()
            if now - last[0] >= PROGRESS_EVERY or done == total:
                last[0] = now
                text = import_progress(file.filename, done, total)
                asyncio.run_coroutine_threadsafe(self._edit(interaction, text), loop)

        report: ImportReport = await asyncio.to_thread(
            self.bot.library.import_reading_list, data, file.filename, str(interaction.guild_id), progress
        )
        log.info("guild %s imported %s: %d new", interaction.guild_id, file.filename, report.new)
        await self._edit(interaction, import_summary(file.filename, report))

    @staticmethod
    async def _edit(interaction: discord.Interaction, text: str) -> None:
        """Replace the deferred reply's text (a failed edit is logged, never raised)."""
        try:
            await interaction.edit_original_response(content=text, allowed_mentions=NO_MENTIONS)
        except discord.HTTPException as exc:
            log.warning("could not update the import reply: %s", exc)

    @library.command(name="list", description="This server's reading list (imported papers only it sees)")
    @app_commands.describe(page="Page number (10 papers a page)")
    async def list_(self, interaction: discord.Interaction, page: app_commands.Range[int, 1, 1000] = 1) -> None:
        """One page of the server's own papers, privately."""
        if interaction.guild_id is None:
            raise app_commands.NoPrivateMessage()
        found = await asyncio.to_thread(self.bot.library.collection_page, str(interaction.guild_id), page)
        await reply(interaction, collection_text(found))

    @library.command(name="remove", description="Remove a paper of this server's reading list, or all of them")
    @app_commands.describe(paper="id:N from /library list, its arXiv id or exact title; 'all' removes every one")
    async def remove(self, interaction: discord.Interaction, paper: app_commands.Range[str, 1, 300]) -> None:
        """Remove one of the server's own papers (never a shared one), or all with ``all``."""
        if not await self._check_may_add(interaction):
            return
        which = None if paper.strip().lower() == "all" else paper
        gone = await asyncio.to_thread(self.bot.library.remove_from_collection, str(interaction.guild_id), which)
        await reply(interaction, removed_text([p.title for p in gone]))

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
