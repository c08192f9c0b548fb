"""``/ask``: an extractive answer from the abstracts, with feedback and "More like this" buttons.

The buttons are :class:`discord.ui.DynamicItem` s: their custom ids carry what they need (vote
and paper row id), so they keep working after a restart. The question a vote is about is read
back from the answer embed's author line.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.cogs.paper import picked_id, suggest
from bot.cogs.threads import answer_in_thread, is_thread, thread_button
from bot.interactions import NO_MENTIONS, reply, scope_of
from bot.render.embeds import answer_embed, similar_embed
from retrieval.models import SHARED, Answer, Hit, Paper, Scope
from retrieval.query.abstain import is_empty_question

if TYPE_CHECKING:
    from bot.app import PaperBot

log = logging.getLogger(__name__)

VOTE_PREFIX = "paperbot:vote"
MORE_PREFIX = "paperbot:more"
SIMILAR_COUNT = 5


def ask_cooldown(interaction: discord.Interaction) -> app_commands.Cooldown | None:
    """One /ask per ``PAPERBOT_ASK_COOLDOWN`` seconds per user (None: no cooldown)."""
    config = getattr(interaction.client, "config", None)
    seconds = getattr(config, "ask_cooldown", 10.0)
    return app_commands.Cooldown(1, seconds) if seconds > 0 else None


def record_vote(bot: PaperBot, question: str, paper_id: int, user_id: int, vote: int, scope: Scope = SHARED) -> None:
    """Store a 👍/👎 for the paper with row id ``paper_id`` (0: no paper) that ``scope`` sees. Blocking."""
    paper = bot.library.get_paper(paper_id, scope) if paper_id else None
    bot.state.record_feedback(question, paper.ext_id if paper else None, user_id, vote)


def similar_to(bot: PaperBot, paper_id: int, top_k: int, scope: Scope = SHARED) -> tuple[Paper | None, list[Hit]]:
    """A paper ``scope`` sees and the papers it sees most like it. Blocking."""
    paper = bot.library.get_paper(paper_id, scope)
    return paper, (bot.library.similar(paper_id, top_k, scope) if paper else [])


def question_from_message(message: discord.Message | None) -> str:
    """The question an answer message was for (its embed's author line), or ""."""
    if message is None or not message.embeds:
        return ""
    return message.embeds[0].author.name or ""


class FeedbackButton(
    discord.ui.DynamicItem[discord.ui.Button], template=r"paperbot:vote:(?P<vote>up|down):(?P<paper>\d+)"
):
    """👍 / 👎 on an answer; stored per question, paper and user (a new vote replaces the old)."""

    def __init__(self, vote: str, paper_id: int) -> None:
        up = vote == "up"
        super().__init__(
            discord.ui.Button(
                emoji="👍" if up else "👎",
                style=discord.ButtonStyle.secondary,
                custom_id=f"{VOTE_PREFIX}:{vote}:{paper_id}",
            )
        )
        self.vote = 1 if up else -1
        self.paper_id = paper_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: Any, /
    ) -> FeedbackButton:
        """Rebuild the button from its custom id (after a restart too)."""
        return cls(match["vote"], int(match["paper"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Record the vote off the event loop and thank the user privately."""
        bot: PaperBot = interaction.client  # type: ignore[assignment]
        question = question_from_message(interaction.message)
        try:
            await asyncio.to_thread(
                record_vote, bot, question, self.paper_id, interaction.user.id, self.vote, scope_of(interaction)
            )
        except Exception:
            log.exception("recording feedback failed")
            await reply(interaction, "Sorry, I could not record that vote.")
            return
        await reply(interaction, "Thanks for the feedback!" if self.vote > 0 else "Thanks, noted: not helpful.")


class MoreLikeThisButton(discord.ui.DynamicItem[discord.ui.Button], template=r"paperbot:more:(?P<paper>\d+)"):
    """Papers similar to the answer's top paper, shown only to the user who asked for them."""

    def __init__(self, paper_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="More like this", style=discord.ButtonStyle.primary, custom_id=f"{MORE_PREFIX}:{paper_id}"
            )
        )
        self.paper_id = paper_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: Any, /
    ) -> MoreLikeThisButton:
        """Rebuild the button from its custom id (after a restart too)."""
        return cls(int(match["paper"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Defer, find similar papers off the event loop, follow up privately."""
        bot: PaperBot = interaction.client  # type: ignore[assignment]
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            paper, hits = await asyncio.to_thread(similar_to, bot, self.paper_id, SIMILAR_COUNT, scope_of(interaction))
        except Exception:
            log.exception("similar papers for %s failed", self.paper_id)
            await reply(interaction, "Sorry, something went wrong finding similar papers.")
            return
        if paper is None:
            await reply(interaction, "That paper is no longer in the library.")
            return
        await interaction.followup.send(embed=similar_embed(paper, hits), ephemeral=True, allowed_mentions=NO_MENTIONS)


NO_WORDS = (
    "Your question has nothing to search for once mentions are left out; ask in words, "
    "e.g. `/ask question: how does speculative decoding speed up inference?`"
)


def answer_view(answer: Answer, thread: bool = False) -> discord.ui.View:
    """👍 / 👎 about the top paper, and "More like this" when the answer cites one (no buttons without one);
    with ``thread``, "Follow up in a thread" too."""
    view = discord.ui.View(timeout=None)
    if not answer.sources:
        return view
    top = answer.sources[0].paper_id
    view.add_item(FeedbackButton("up", top))
    view.add_item(FeedbackButton("down", top))
    if answer.sources and not answer.abstained:
        view.add_item(MoreLikeThisButton(top))
    button = thread_button(answer) if thread else None
    if button is not None:
        view.add_item(button)
    return view


class AskCog(commands.Cog):
    """``/ask``."""

    def __init__(self, bot: PaperBot) -> None:
        self.bot = bot

    @app_commands.command(name="ask", description="Answer a question from paper abstracts, quoting and linking them")
    @app_commands.describe(
        question="What you want to know, e.g. 'how does speculative decoding speed up inference?'",
        top_k="How many papers to consider and cite (1-10, default 5)",
        private="Only you see the answer",
        paper="Ask about this one paper only (title or arXiv id; pick a suggestion as you type)",
    )
    @app_commands.checks.dynamic_cooldown(ask_cooldown)
    async def ask(
        self,
        interaction: discord.Interaction,
        question: app_commands.Range[str, 1, 300],
        top_k: app_commands.Range[int, 1, 10] = 5,
        private: bool = False,
        paper: app_commands.Range[str, 1, 300] | None = None,
    ) -> None:
        """Defer at once, answer off the event loop, follow up with the answer embed and buttons.

        A question with no words (only mentions, emoji or punctuation) gets a private hint instead.
        """
        if is_empty_question(question):
            await reply(interaction, NO_WORDS)
            return
        started = time.perf_counter()
        await interaction.response.defer(ephemeral=private, thinking=True)
        scope = scope_of(interaction)
        in_thread = None
        if not paper and is_thread(interaction.channel):
            in_thread = await asyncio.to_thread(
                answer_in_thread, self.bot, interaction.channel_id or 0, question, top_k
            )
        if in_thread is not None:
            await interaction.followup.send(
                embed=answer_embed(in_thread),
                view=answer_view(in_thread),
                ephemeral=private,
                allowed_mentions=NO_MENTIONS,
            )
            self.bot.metrics.asked(in_thread, time.perf_counter() - started)
            return
        if paper:
            picked = picked_id(paper)
            answer = await asyncio.to_thread(
                self.bot.library.ask_paper, question, paper if picked is None else picked, scope
            )
        else:
            answer = await asyncio.to_thread(self.bot.library.ask, question, top_k, scope)
        await interaction.followup.send(
            embed=answer_embed(answer),
            view=answer_view(answer, thread=not private),
            ephemeral=private,
            allowed_mentions=NO_MENTIONS,
        )
        self.bot.metrics.asked(answer, time.perf_counter() - started)

    @ask.autocomplete("paper")
    async def paper_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Titles starting with or containing what was typed (as ``/paper`` offers them)."""
        return await suggest(self.bot, current, scope_of(interaction))


async def setup(bot: PaperBot) -> None:
    """Extension entry point (``bot.load_extension``): the cog and its persistent buttons."""
    await bot.add_cog(AskCog(bot))
    bot.add_dynamic_items(FeedbackButton, MoreLikeThisButton)
