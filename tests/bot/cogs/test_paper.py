"""/paper: lookup by picked suggestion or by words, and a fast, bounded autocomplete."""

from __future__ import annotations

import time

from bot.cogs.paper import PaperCog, title_choices
from bot.render import limits
from tests.bot.conftest import sent


async def test_paper_by_a_picked_suggestion_shows_that_paper(bot, make_interaction, library):
    cog = PaperCog(bot)
    interaction = make_interaction()
    await cog.paper.callback(cog, interaction, "id:3")
    # A quick lookup is answered at once: its visibility is known before acknowledging.
    interaction.response.defer.assert_not_awaited()
    embed = sent(interaction)["embed"]
    assert limits.fits([embed])
    assert embed.title.replace("\\", "") == library.get_paper(3).title[:256] or embed.title.endswith("…")


async def test_paper_by_typed_title_words_finds_the_best_match(bot, make_interaction, library):
    cog = PaperCog(bot)
    title = library.get_paper(5).title
    interaction = make_interaction()
    await cog.paper.callback(cog, interaction, title)
    assert sent(interaction)["embed"].title.replace("\\", "") == title


async def test_paper_with_no_match_says_so(bot, make_interaction):
    cog = PaperCog(bot)
    interaction = make_interaction()
    await cog.paper.callback(cog, interaction, "???")
    assert "No paper" in sent(interaction)["content"] and sent(interaction)["ephemeral"]


async def test_paper_with_unrelated_words_says_no_match_instead_of_a_random_paper(bot, make_interaction):
    cog = PaperCog(bot)
    interaction = make_interaction()
    await cog.paper.callback(cog, interaction, "pizza recipe with pineapple")
    assert "No paper" in sent(interaction)["content"] and sent(interaction)["ephemeral"]


async def test_autocomplete_returns_at_most_25_short_choices_quickly(bot, make_interaction):
    cog = PaperCog(bot)
    started = time.perf_counter()
    choices = await cog.paper_autocomplete(make_interaction(), "a")
    assert time.perf_counter() - started < 1.0
    assert 0 < len(choices) <= 25
    assert all(len(c.name) <= 100 and len(c.value) <= 100 and c.value.startswith("id:") for c in choices)


async def test_autocomplete_failure_offers_nothing(bot, make_interaction, monkeypatch):
    cog = PaperCog(bot)

    def broken(*args):
        raise RuntimeError("locked")

    monkeypatch.setattr(bot.library, "suggest_titles", broken)
    assert await cog.paper_autocomplete(make_interaction(), "x") == []


def test_title_choices_truncate_names_and_neutralize_mentions():
    choices = title_choices([(i, "@everyone " + "long title " * 30) for i in range(40)])
    assert len(choices) == 25
    assert all(len(c.name) <= 100 and "@everyone" not in c.name for c in choices)
