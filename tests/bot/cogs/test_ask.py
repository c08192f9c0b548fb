"""/ask: defers, answers from the real library, buttons, cooldown, mention safety."""

from __future__ import annotations

from unittest.mock import MagicMock

import discord
import pytest
from discord import app_commands

from bot.cogs.ask import AskCog, FeedbackButton, MoreLikeThisButton, answer_view, ask_cooldown, question_from_message
from bot.render import limits
from tests.bot.conftest import sent


@pytest.fixture
def cog(bot):
    return AskCog(bot)


async def test_ask_defers_then_follows_up_with_a_cited_answer(cog, make_interaction):
    interaction = make_interaction()
    await cog.ask.callback(cog, interaction, "how does speculative decoding speed up inference?", 5, False)
    interaction.response.defer.assert_awaited_once_with(ephemeral=False, thinking=True)
    kwargs = sent(interaction)
    embed = kwargs["embed"]
    assert limits.fits([embed])
    assert kwargs["ephemeral"] is False
    assert kwargs["allowed_mentions"].everyone is False and kwargs["allowed_mentions"].users is False
    assert embed.author.name == "how does speculative decoding speed up inference?"
    assert "https://huggingface.co/papers" in (embed.description or "") + "".join(f.value for f in embed.fields)


async def test_ask_private_defers_ephemerally_and_answers_ephemerally(cog, make_interaction):
    interaction = make_interaction()
    await cog.ask.callback(cog, interaction, "diffusion models for video generation", 3, True)
    interaction.response.defer.assert_awaited_once_with(ephemeral=True, thinking=True)
    assert sent(interaction)["ephemeral"] is True


async def test_ask_outside_the_library_abstains_and_offers_closest_titles(cog, make_interaction):
    interaction = make_interaction()
    await cog.ask.callback(cog, interaction, "best sourdough starter hydration for rye bread baking", 5, False)
    embed = sent(interaction)["embed"]
    assert embed.title == "Not covered by the library"


async def test_ask_with_mentions_in_the_question_cannot_ping(cog, make_interaction):
    interaction = make_interaction()
    await cog.ask.callback(cog, interaction, "@everyone @here <@123456789012345678> what is RLHF?", 5, False)
    kwargs = sent(interaction)
    embed = kwargs["embed"]
    assert "@everyone" not in embed.author.name and "@here" not in embed.author.name
    assert kwargs["allowed_mentions"].to_dict()["parse"] == []


async def test_ask_attaches_feedback_and_more_like_this_buttons_for_the_top_paper(cog, make_interaction):
    interaction = make_interaction()
    await cog.ask.callback(cog, interaction, "what is a mixture of experts?", 5, False)
    view = sent(interaction)["view"]
    ids = [item.custom_id for item in view.children]
    assert ids[0].startswith("paperbot:vote:up:") and ids[1].startswith("paperbot:vote:down:")
    assert ids[2].startswith("paperbot:more:")
    assert view.timeout is None  # buttons survive restarts (dynamic items)


def test_an_abstention_gets_feedback_buttons_on_its_closest_paper_but_no_more_like_this():
    from retrieval.models import Answer, Source

    closest = Source("x1", 7, "Closest paper", "https://example.invalid/x1", 0.1, "")
    view = answer_view(Answer("q", "", True, (closest,)))
    assert [item.custom_id for item in view.children] == ["paperbot:vote:up:7", "paperbot:vote:down:7"]


def test_an_answer_citing_no_paper_gets_no_buttons():
    from retrieval.models import Answer

    assert answer_view(Answer("q", "", True, ())).children == []


def answer_message(question: str) -> discord.Message:
    message = MagicMock(spec=discord.Message)
    embed = discord.Embed(title="Answer")
    embed.set_author(name=question)
    message.embeds = [embed]
    return message


async def test_feedback_button_stores_the_vote_for_question_paper_and_user(bot, make_interaction, library):
    paper = library.get_paper(1)
    interaction = make_interaction(user_id=77)
    interaction.message = answer_message("what is rlhf?")
    match = FeedbackButton.__discord_ui_compiled_template__.fullmatch("paperbot:vote:down:1")
    button = await FeedbackButton.from_custom_id(interaction, MagicMock(), match)
    await button.callback(interaction)
    assert bot.state.feedback_totals("what is rlhf?") == (0, 1)
    with bot.state.store.db.read() as conn:  # SQLite by default (see tests/conftest.py: backend)
        row = conn.execute("SELECT paper_ext_id, user_id, vote FROM feedback").fetchone()
    assert tuple(row) == (paper.ext_id, 77, -1)
    assert sent(interaction)["ephemeral"] is True


async def test_a_second_vote_by_the_same_user_replaces_the_first(bot, make_interaction):
    for vote in ("up", "down", "up"):
        interaction = make_interaction(user_id=5)
        interaction.message = answer_message("q1")
        await FeedbackButton(vote, 2).callback(interaction)
    assert bot.state.feedback_totals("q1") == (1, 0)


async def test_feedback_failure_is_logged_and_the_user_told(bot, make_interaction, monkeypatch, caplog):
    def broken(*args):
        raise RuntimeError("disk full")

    monkeypatch.setattr(bot.state, "record_feedback", broken)
    interaction = make_interaction()
    interaction.message = answer_message("q")
    await FeedbackButton("up", 1).callback(interaction)
    assert "could not record" in sent(interaction)["content"]
    assert "recording feedback failed" in caplog.text


async def test_more_like_this_answers_privately_with_similar_papers(make_interaction, library):
    interaction = make_interaction()
    await MoreLikeThisButton(1).callback(interaction)
    interaction.response.defer.assert_awaited_once_with(ephemeral=True, thinking=True)
    kwargs = sent(interaction)
    assert kwargs["ephemeral"] is True and kwargs["embed"].fields
    assert library.get_paper(1).title[:20] in kwargs["embed"].title.replace("\\", "")


async def test_more_like_this_for_a_paper_no_longer_there(make_interaction):
    interaction = make_interaction()
    await MoreLikeThisButton(99_999_999).callback(interaction)
    assert "no longer in the library" in sent(interaction)["content"]


def test_question_is_read_back_from_the_answer_embed():
    assert question_from_message(answer_message("why?")) == "why?"
    assert question_from_message(None) == ""


async def test_ask_cooldown_refuses_a_second_ask_with_retry_after(cog, make_interaction):
    first, second = make_interaction(user_id=9), make_interaction(user_id=9)
    other = make_interaction(user_id=10)
    assert await cog.ask._check_can_run(first)
    with pytest.raises(app_commands.CommandOnCooldown) as info:
        await cog.ask._check_can_run(second)
    assert 0 < info.value.retry_after <= 10
    assert await cog.ask._check_can_run(other)


def test_a_zero_cooldown_disables_it(make_interaction, bot):
    from dataclasses import replace

    bot.config = replace(bot.config, ask_cooldown=0)
    assert ask_cooldown(make_interaction()) is None


async def test_ask_with_a_picked_paper_quotes_that_paper(cog, make_interaction, library):
    paper = library.resolve_paper("POINTS: Improving Your Vision-language Model with Affordable Strategies")
    interaction = make_interaction()
    await cog.ask.callback(cog, interaction, "how many parameters does it have?", 5, False, f"id:{paper.id}")
    embed = sent(interaction)["embed"]
    assert limits.fits([embed])
    assert "9B parameter model" in embed.description and len(embed.fields) == 1
    assert embed.fields[0].name == f"1. {paper.title}"


async def test_ask_about_an_unknown_paper_says_no_paper_matches(cog, make_interaction):
    interaction = make_interaction()
    await cog.ask.callback(cog, interaction, "what dataset?", 5, False, "zzzz qqqq nonexistent")
    embed = sent(interaction)["embed"]
    assert embed.title == "No such paper" and "No paper in the library matches" in embed.description


async def test_ask_about_a_paper_that_does_not_say_links_it(cog, make_interaction, library):
    paper = library.resolve_paper("POINTS: Improving Your Vision-language Model with Affordable Strategies")
    interaction = make_interaction()
    await cog.ask.callback(cog, interaction, "best lasagna recipe with spinach?", 5, False, f"id:{paper.id}")
    embed = sent(interaction)["embed"]
    assert embed.title == "Not in this paper" and "does not say" in embed.description
    assert "Closest titles" not in embed.description


async def test_the_paper_option_autocompletes_titles(cog, make_interaction):
    choices = await cog.paper_autocomplete(make_interaction(), "points")
    assert choices and all(c.value.startswith("id:") and len(c.name) <= 100 for c in choices)
    assert any(c.name.startswith("POINTS") for c in choices)
