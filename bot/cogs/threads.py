"""Follow up in a thread: a button on an ``/ask`` answer opens a thread on it, answered in its papers' context.

In such a thread, ``/ask`` and a message that mentions the bot are answered from the thread's papers
first (their stored full text, else abstract), then from the library. Mentions carry their content
without the privileged message-content intent. The thread's papers are stored (thread id → papers,
both backends), so this survives restarts; the context goes when the thread is deleted or archived,
or after :data:`retrieval.library.THREAD_TTL`.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from bot.interactions import NO_MENTIONS, reply
from bot.render.embeds import answer_embed
from bot.render.limits import plain
from retrieval.models import Answer, Paper, Scope

if TYPE_CHECKING:
    from bot.app import PaperBot

log = logging.getLogger(__name__)

THREAD_PREFIX = "paperbot:thread"
_MENTION = re.compile(r"<@[!&]?\d+>")


def thread_button(answer: Answer) -> discord.ui.DynamicItem[discord.ui.Button] | None:
    """The "Follow up in a thread" button of an answer that cites papers (None without any)."""
    ids = [s.paper_id for s in answer.sources if s.paper_id][:5]
    return FollowUpButton(ids) if ids else None


def thread_intro(papers: list[Paper]) -> str:
    """The thread's first message: what it is about and how to ask (no pings: plain text, sent without mentions)."""
    lines = [
        "Follow-up questions here are answered from these papers first (full text where fetched), then the library:"
    ]
    lines.extend(f"{i}. {plain(p.title, 200)}" for i, p in enumerate(papers, start=1))
    lines.append("Ask with `/ask` or mention me with your question.")
    return "\n".join(lines)[:2000]


def open_context(bot: PaperBot, thread_id: int, guild_id: int | None, paper_ids: list[int]) -> list[Paper]:
    """Store the thread's context and return its papers, in order. Blocking."""
    bot.library.open_thread(thread_id, guild_id, paper_ids)
    papers = bot.library.store.get_many(paper_ids)
    return [papers[i] for i in paper_ids if i in papers]


def is_thread(channel: object) -> bool:
    """Whether an interaction's or message's channel is a thread (only threads can have a context)."""
    return getattr(channel, "type", None) in (
        discord.ChannelType.public_thread,
        discord.ChannelType.private_thread,
        discord.ChannelType.news_thread,
    )


def answer_in_thread(bot: PaperBot, channel_id: int, question: str, top_k: int = 5) -> Answer | None:
    """The answer in the context of thread ``channel_id``; None when it is no thread opened on an answer. Blocking."""
    context = bot.library.thread_context(channel_id)
    if context is None:
        return None
    # The thread's server's view: its papers and reading list, never another server's.
    return bot.library.ask_in_context(question, context.paper_ids, top_k, Scope.of(context.guild_id))


class FollowUpButton(discord.ui.DynamicItem[discord.ui.Button], template=r"paperbot:thread:(?P<ids>\d+(?:\.\d+)*)"):
    """Opens a thread on the answer message, remembering the answer's papers for follow-ups."""

    def __init__(self, paper_ids: list[int]) -> None:
        super().__init__(
            discord.ui.Button(
                label="Follow up in a thread",
                style=discord.ButtonStyle.secondary,
                custom_id=f"{THREAD_PREFIX}:{'.'.join(str(i) for i in paper_ids)}",
            )
        )
        self.paper_ids = paper_ids

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: Any, /
    ) -> FollowUpButton:
        """Rebuild the button from its custom id (after a restart too)."""
        return cls([int(i) for i in match["ids"].split(".")])

    async def callback(self, interaction: discord.Interaction) -> None:
        """Defer privately, open the thread on the answer, store its papers, post its first message."""
        bot: PaperBot = interaction.client  # type: ignore[assignment]
        message = interaction.message
        if message is None or message.flags.ephemeral:
            await reply(interaction, "A private answer cannot have a thread; ask again without `private`.")
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        question = message.embeds[0].author.name if message.embeds and message.embeds[0].author else ""
        name = (question or "Follow-up")[:90]
        try:
            thread = await message.create_thread(name=name, auto_archive_duration=1440)
        except discord.HTTPException as exc:
            log.warning("cannot open a thread on %s: %s", message.id, exc)
            await reply(interaction, "I cannot open a thread here (a thread already exists, or I lack permission).")
            return
        papers = await asyncio.to_thread(open_context, bot, thread.id, interaction.guild_id, self.paper_ids)
        await thread.send(thread_intro(papers), allowed_mentions=NO_MENTIONS)
        await interaction.followup.send(
            f"Thread opened: {thread.mention}", ephemeral=True, allowed_mentions=NO_MENTIONS
        )


class ThreadsCog(commands.Cog):
    """Mentions in threads opened on answers, and the end of a thread's context."""

    def __init__(self, bot: PaperBot) -> None:
        self.bot = bot

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """A message that mentions the bot in a thread opened on an answer: answered there, in context."""
        me = self.bot.user
        if message.author.bot or me is None or not any(u.id == me.id for u in message.mentions):
            return
        question = _MENTION.sub(" ", message.content).strip()
        if not question or not is_thread(message.channel):
            return
        answer = await asyncio.to_thread(answer_in_thread, self.bot, message.channel.id, question)
        if answer is None:
            return
        await message.channel.send(
            embed=answer_embed(answer),
            reference=message.to_reference(fail_if_not_exists=False),
            allowed_mentions=NO_MENTIONS,
        )

    @commands.Cog.listener()
    async def on_raw_thread_delete(self, payload: discord.RawThreadDeleteEvent) -> None:
        """A deleted thread's context goes with it."""
        await asyncio.to_thread(self.bot.library.close_thread, payload.thread_id)

    @commands.Cog.listener()
    async def on_raw_thread_update(self, payload: discord.RawThreadUpdateEvent) -> None:
        """An archived thread's context goes too (a later follow-up starts from the library)."""
        if payload.data.get("thread_metadata", {}).get("archived"):
            await asyncio.to_thread(self.bot.library.close_thread, payload.thread_id)


async def setup(bot: PaperBot) -> None:
    """Extension entry point: the cog and the persistent button."""
    await bot.add_cog(ThreadsCog(bot))
    bot.add_dynamic_items(FollowUpButton)
