"""Rendering: every embed fits Discord's limits whatever the input, and nothing can ping."""

from __future__ import annotations

from datetime import date

import discord
import pytest

from bot.render import limits
from bot.render.embeds import (
    answer_embed,
    digest_embeds,
    help_embed,
    paper_embed,
    similar_embed,
)
from retrieval.links import paper_links
from retrieval.models import Answer, Digest, DigestEntry, Hit, Link, Paper, Quote, Source

HUGE = "word " * 3000
NO_SPACE = "x" * 9000
EVIL = "@everyone @here <@123456789012345678> <@&123456789012345678> **bold** __u__ `code` [x](http://evil) # h"


def source(i: int, title: str = "A paper", quote: str = "It works.", url: str | None = None) -> Source:
    url = url or f"https://huggingface.co/papers/2401.{i:05d}"
    links = (
        Link("Hugging Face", url),
        Link("arXiv", f"https://arxiv.org/abs/2401.{i:05d}"),
        Link("Code", "https://github.com/a/b"),
    )
    return Source(id=f"2401.{i:05d}", paper_id=i + 1, title=title, url=url, score=0.5, quote=quote, links=links)


def answer(n: int = 3, title: str = "A paper", quote: str = "It works.", question: str = "how?", **kw) -> Answer:
    sources = tuple(source(i, title, quote) for i in range(n))
    quotes = tuple(Quote(text=quote, source_index=i, score=0.5) for i in range(n))
    return Answer(
        question=question, text=quote, abstained=False, sources=sources, quotes=quotes, library_size=400, **kw
    )


def all_text(embed: discord.Embed) -> str:
    parts = [embed.title or "", embed.description or "", embed.footer.text or "", embed.author.name or ""]
    parts += [f"{f.name}\n{f.value}" for f in embed.fields]
    return "\n".join(parts)


def assert_fits(embeds: list[discord.Embed]) -> None:
    assert limits.fits(embeds), [(len(e), len(e.description or ""), len(e.fields)) for e in embeds]
    for embed in embeds:
        embed.to_dict()  # serializable


# -- limits helpers ------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [0, 1, 2, 5, 100, 256, 4096])
def test_truncate_never_exceeds_limit(limit):
    for text in (HUGE, NO_SPACE, "é" * 5000, "short"):
        assert len(limits.truncate(text, limit)) <= limit


def test_truncate_cuts_on_a_word_boundary_with_an_ellipsis():
    text = "alpha beta gamma delta epsilon"
    cut = limits.truncate(text, 20)
    assert cut.endswith("…") and cut == "alpha beta gamma…"


def test_truncate_keeps_text_that_fits_unchanged():
    assert limits.truncate("exactly ten", 11) == "exactly ten"


def test_truncate_does_not_leave_a_dangling_escape_backslash():
    assert not limits.truncate("a" * 9 + "\\_" + "b" * 20, 11).endswith("\\…")


def test_safe_escapes_markdown_and_breaks_mentions():
    text = limits.safe(EVIL)
    assert "@everyone" not in text and "@here" not in text
    assert "<@123456789012345678>" not in text and "<@&123456789012345678>" not in text
    assert "\\*\\*bold" in text and "\\[x\\]" in text


def test_safe_flattens_newlines_so_paper_text_cannot_start_a_block():
    assert "\n" not in limits.safe("line one\n# heading\n> quote")


def test_link_fits_its_limit_even_for_huge_titles_and_urls():
    assert len(limits.link(HUGE, "https://example.org/a", 300)) <= 300
    assert len(limits.link("title", "https://example.org/" + "a" * 500, 300)) <= 300


def test_link_url_with_parentheses_cannot_break_the_markdown():
    rendered = limits.link("t", "https://en.wikipedia.org/wiki/A_(b)", 200)
    assert rendered == "[t](https://en.wikipedia.org/wiki/A_%28b%29)"


# -- answer ---------------------------------------------------------------------------------


def test_answer_embed_quotes_each_sentence_and_cites_its_paper():
    embed = answer_embed(answer(2, title="Speculative Decoding", quote="Drafts are verified in parallel."))
    assert "Drafts are verified in parallel." in embed.description
    assert "[1] [Speculative Decoding](https://huggingface.co/papers/2401.00000)" in embed.description
    assert "[2] [Speculative Decoding](https://huggingface.co/papers/2401.00001)" in embed.description
    assert embed.author.name == "how?"


def test_answer_embed_lists_papers_with_hf_arxiv_and_code_links():
    embed = answer_embed(answer(1))
    value = embed.fields[0].value
    assert "[Hugging Face](https://huggingface.co/papers/2401.00000)" in value
    assert "[arXiv](https://arxiv.org/abs/2401.00000)" in value
    assert "[Code](https://github.com/a/b)" in value


@pytest.mark.parametrize("n", [0, 1, 10, 25, 60])
def test_answer_embed_fits_with_many_sources(n):
    assert_fits([answer_embed(answer(n, title=HUGE, quote=HUGE))])


def test_answer_embed_fits_with_unbroken_giant_text_and_unicode():
    assert_fits([answer_embed(answer(25, title="数学" * 3000, quote=NO_SPACE, question="é" * 3000))])
    assert_fits([answer_embed(answer(5, title="🧪" * 2000, quote="🙂 " * 3000))])


def test_answer_embed_says_how_many_sources_were_not_shown():
    embed = answer_embed(answer(14))
    assert len(embed.fields) == 10 and "4 more paper(s) not shown" in embed.footer.text


def test_answer_embed_neutralizes_mentions_in_questions_and_paper_text():
    embed = answer_embed(answer(3, title=EVIL, quote=EVIL, question=EVIL))
    text = all_text(embed)
    assert "@everyone" not in text and "@here" not in text and "<@123456789012345678>" not in text


def test_answer_embed_ignores_quotes_pointing_at_missing_sources():
    bad = Answer("q", "t", False, (source(0),), quotes=(Quote("lost", 7, 0.1), Quote("kept", 0, 0.1)))
    embed = answer_embed(bad)
    assert "kept" in embed.description and "lost" not in embed.description


def test_abstention_says_not_covered_and_offers_the_closest_titles():
    closest = tuple(source(i, title=f"Close {i}") for i in range(7))
    embed = answer_embed(Answer("quantum cooking?", "", True, closest, library_size=393, reason="not_covered"))
    assert embed.title == "Not covered by the library"
    assert "393 papers" in embed.description
    assert "[Close 0](https://huggingface.co/papers/2401.00000)" in embed.description
    assert "Close 5" not in embed.description  # at most five
    assert_fits([embed])


def test_abstention_for_an_empty_question_explains_what_to_ask():
    embed = answer_embed(Answer("???", "", True, (), library_size=3, reason="empty"))
    assert "no searchable words" in embed.description


def test_abstention_fits_with_huge_titles():
    closest = tuple(source(i, title=HUGE + EVIL) for i in range(25))
    embed = answer_embed(Answer(HUGE, "", True, closest, library_size=1))
    assert_fits([embed])
    assert "@everyone" not in all_text(embed)


# -- paper, similar, digest, help -----------------------------------------------------------


def paper(i: int = 1, title: str = "Title", abstract: str = "Abstract.", **kw) -> Paper:
    return Paper(title=title, abstract=abstract, id=i, ext_id=f"2401.{i:05d}", arxiv_id=f"2401.{i:05d}", **kw)


def test_paper_embed_shows_title_link_authors_date_and_links():
    p = paper(
        authors=("Ada", "Alan"), author_count=5, published=date(2024, 1, 2), upvotes=7, github="https://github.com/x/y"
    )
    embed = paper_embed(p)
    assert embed.url == "https://huggingface.co/papers/2401.00001"
    fields = {f.name: f.value for f in embed.fields}
    assert fields["Authors"] == "Ada, Alan et al."
    assert fields["Published"] == "2024-01-02" and fields["Upvotes"] == "7"
    assert "[Code](https://github.com/x/y)" in fields["Links"]


def test_paper_embed_without_arxiv_id_links_a_search():
    embed = paper_embed(Paper(title="No id here", abstract="x", id=3, ext_id="no-id-here"))
    assert embed.url.startswith("https://huggingface.co/papers?q=No+id+here")


def test_paper_embed_fits_whatever_the_paper_contains():
    p = paper(title=HUGE + EVIL, abstract=NO_SPACE + EVIL, authors=tuple(f"Author {i} " * 20 for i in range(500)))
    embed = paper_embed(p)
    assert_fits([embed])
    assert "@everyone" not in all_text(embed)


def test_similar_embed_fits_and_handles_no_hits():
    hits = [Hit(paper=paper(i, title=HUGE), score=0.5, best_sentence=HUGE) for i in range(40)]
    assert_fits([similar_embed(paper(title=HUGE), hits)])
    assert "No similar papers" in similar_embed(paper(), []).description


def digest(n: int, title: str = "T", abstract: str = "A.", total: int | None = None, topics=()) -> Digest:
    entries = tuple(
        DigestEntry(paper=(p := paper(i, title=title, abstract=abstract, upvotes=i)), links=paper_links(p))
        for i in range(n)
    )
    return Digest(day=date(2026, 11, 12), entries=entries, total=total or n, topics=topics)


@pytest.mark.parametrize("n", [1, 10, 25, 100])
def test_digest_embeds_fit_at_and_past_the_limits(n):
    embeds = digest_embeds(digest(n, title=HUGE + EVIL, abstract=NO_SPACE, topics=(HUGE,) * 5))
    assert_fits(embeds)
    assert "@everyone" not in "".join(all_text(e) for e in embeds)


def test_digest_embed_lists_each_paper_with_links_and_says_how_many_more():
    embeds = digest_embeds(digest(3, title="Cool paper", total=60))
    (embed,) = embeds
    assert embed.title == "📰 Papers of 2026-11-12"
    assert embed.fields[0].name == "1. Cool paper"
    assert "[Hugging Face](https://huggingface.co/papers/2401.00000)" in embed.fields[0].value
    assert "3 of 60 papers" in embed.footer.text


def test_digest_embed_for_an_empty_day_says_so():
    (embed,) = digest_embeds(Digest(day=date(2026, 1, 1), entries=(), total=0))
    assert "No papers were listed on 2026-01-01" in embed.description
    (embed,) = digest_embeds(Digest(day=None, entries=(), total=0))
    assert "no dated papers" in embed.description


def test_help_embed_fits_and_lists_every_command():
    embed = help_embed()
    assert_fits([embed])
    names = " ".join(f.name for f in embed.fields)
    for command in ("/ask", "/paper", "/today", "/digest set", "/digest show"):
        assert command in names


def test_answer_embed_links_a_paper_once_when_several_quotes_come_from_it():
    two = Answer("q", "t", False, (source(0, title="Same"),), quotes=(Quote("One.", 0, 0.5), Quote("Two.", 0, 0.4)))
    description = answer_embed(two).description
    assert description.count("[Same](") == 1 and description.count("— [1]") == 2


def test_digest_entries_are_short_teasers_even_when_there_is_room():
    (embed,) = digest_embeds(digest(2, abstract=HUGE))
    assert all(len(field.value) <= 500 for field in embed.fields)
