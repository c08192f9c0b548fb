"""``/follow topic|author|list|remove`` and the loop that DMs followers their new papers."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot.daily import DailyPoster
from bot.follow_notifier import FollowNotifier
from bot.interactions import reply
from bot.render.follows import follow_choice_name, follow_list_embed
from retrieval.query.follows import AUTHOR, MAX_AUTHOR_CHARS, MAX_FOLLOWS, MAX_TOPIC_CHARS, TOPIC

if TYPE_CHECKING:
    from bot.app import PaperBot
    from bot.daily import Refresher

log = logging.getLogger(__name__)

_CHOICE = re.compile(r"^(?:id:)?(\d{1,18})$")


class FollowCog(commands.Cog):
    """Per-user follows (in DMs or servers alike) and their daily DM."""

    follow = app_commands.Group(name="follow", description="Get a DM when new papers match a topic or an author")

    def __init__(self, bot: PaperBot, refresh: Refresher | None = None) -> None:
        self.bot = bot
        self.notifier = FollowNotifier(bot, refresh or DailyPoster(bot).refresh_from_feed)

    async def cog_load(self) -> None:
        """Start the DM loop."""
        self.dms.start()

    async def cog_unload(self) -> None:
        """Stop the DM loop."""
        self.dms.cancel()

    @tasks.loop(minutes=15)
    async def dms(self) -> None:
        """DM what is due; an error is logged and never stops the loop."""
        try:
            await self.notifier.tick()
        except Exception:
            log.exception("follow DM tick failed")

    @dms.before_loop
    async def _wait_ready(self) -> None:
        await self.bot.wait_until_ready()

    async def _add(self, interaction: discord.Interaction, kind: str, text: str) -> None:
        store = self.bot.state.follows
        follow = await asyncio.to_thread(store.add, interaction.user.id, kind, text)  # FollowError: the handler
        reopened = await asyncio.to_thread(store.reopen, interaction.user.id)
        count = len(await asyncio.to_thread(store.of_user, interaction.user.id))
        message = (
            f"Following {kind} “{discord.utils.escape_markdown(follow.value)}” ({count} of {MAX_FOLLOWS}). "
            "When new papers match I will DM you, at most once a day."
        )
        if reopened:
            message += " I will try your DMs again."
        await reply(interaction, message)

    @follow.command(name="topic", description="DM me new papers about a topic (matched by meaning)")
    @app_commands.describe(topic="A few words, e.g. speculative decoding")
    async def topic(self, interaction: discord.Interaction, topic: app_commands.Range[str, 1, MAX_TOPIC_CHARS]) -> None:
        """Follow a topic."""
        await self._add(interaction, TOPIC, topic)

    @follow.command(name="author", description="DM me new papers by an author (matched by name)")
    @app_commands.describe(name="The name as papers list it, e.g. Yann LeCun")
    async def author(
        self, interaction: discord.Interaction, name: app_commands.Range[str, 1, MAX_AUTHOR_CHARS]
    ) -> None:
        """Follow an author."""
        await self._add(interaction, AUTHOR, name)

    @follow.command(name="list", description="What you follow")
    async def list_(self, interaction: discord.Interaction) -> None:
        """Show the user's follows (and retry closed DMs: they may have opened them)."""
        store = self.bot.state.follows
        follows = await asyncio.to_thread(store.of_user, interaction.user.id)
        closed = await asyncio.to_thread(store.closed_since, interaction.user.id)
        if closed is not None:
            await asyncio.to_thread(store.reopen, interaction.user.id)
        await reply(interaction, embed=follow_list_embed(follows, closed, MAX_FOLLOWS))

    @follow.command(name="remove", description="Stop following a topic or an author")
    @app_commands.describe(follow="Pick one of your follows")
    async def remove(self, interaction: discord.Interaction, follow: app_commands.Range[str, 1, 100]) -> None:
        """Remove one follow by its id (as offered by autocomplete or shown by ``/follow list``)."""
        picked = _CHOICE.match(follow.strip())
        removed = None
        if picked:
            removed = await asyncio.to_thread(self.bot.state.follows.remove, interaction.user.id, int(picked.group(1)))
        if removed is None:
            await reply(
                interaction, "You have no such follow; pick one from the list as you type, or see `/follow list`."
            )
            return
        await reply(interaction, f"Stopped following {removed.kind} “{discord.utils.escape_markdown(removed.value)}”.")

    @remove.autocomplete("follow")
    async def _remove_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        follows = await asyncio.to_thread(self.bot.state.follows.of_user, interaction.user.id)
        needle = current.strip().casefold()
        return [
            app_commands.Choice(name=follow_choice_name(f), value=f"id:{f.id}")
            for f in follows
            if needle in f.value.casefold() or needle in f.kind
        ][:25]


async def setup(bot: PaperBot) -> None:
    """Extension entry point."""
    await bot.add_cog(FollowCog(bot))
