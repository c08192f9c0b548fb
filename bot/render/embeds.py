"""Discord embeds for answers, papers and digests: pure functions that always fit Discord's limits.

Whatever the papers contain (huge titles, long quotes, many sources, markdown, ``@everyone``),
the embeds returned here respect every limit in :mod:`bot.render.limits` and cannot ping anyone.
"""

from __future__ import annotations

from collections.abc import Sequence

import discord

from bot.render import limits
from bot.render.limits import link, plain, safe, shrink_to_fit, truncate
from retrieval.links import paper_links, primary_url
from retrieval.models import Answer, Basis, Digest, DigestEntry, Hit, Link, Paper, Reason, Source

ANSWER_COLOUR = discord.Colour.blurple()
ABSTAIN_COLOUR = discord.Colour.light_grey()
DIGEST_COLOUR = discord.Colour.orange()
PAPER_COLOUR = discord.Colour.teal()

# Room kept for fields and footer when sizing descriptions against the 6,000 total.
_DESCRIPTION_BUDGET = 3000
_QUOTE_LIMIT = 700
_MAX_SOURCE_FIELDS = 10
_MAX_CLOSEST = 5
# A digest entry is a teaser: authors, the start of the abstract, links.
_DIGEST_VALUE = 500


def links_line(links: Sequence[Link], limit: int = limits.FIELD_VALUE) -> str:
    """``[Hugging Face](…) · [arXiv](…) · [Code](…)``, dropping trailing links that would not fit."""
    parts: list[str] = []
    used = 0
    for item in links:
        piece = link(item.label, item.url, limit)
        extra = len(piece) + (3 if parts else 0)
        if used + extra > limit:
            break
        parts.append(piece)
        used += extra
    return " · ".join(parts)


def authors_line(authors: Sequence[str], author_count: int | None = None, limit: int = 200) -> str:
    """``A, B, C et al.`` (escaped), fitted to ``limit``."""
    if not authors:
        return ""
    total = max(author_count or 0, len(authors))
    shown: list[str] = []
    for name in authors:
        candidate = ", ".join([*shown, safe(name, 80)])
        if len(candidate) + len(" et al.") > limit:
            break
        shown.append(safe(name, 80))
    if not shown:
        return truncate(safe(authors[0]), limit)
    text = ", ".join(shown)
    return text + (" et al." if total > len(shown) else "")


def _source_field(index: int, source: Source) -> tuple[str, str]:
    name = f"{index}. " + safe(source.title, limits.FIELD_NAME - len(str(index)) - 2)
    value = links_line(source.links or (Link("Paper", source.url),), limits.FIELD_VALUE)
    return name, value or "—"


def answer_embed(answer: Answer) -> discord.Embed:
    """The quoted answering sentences, each citing its paper, then the papers with their links.

    An abstention says the library does not cover the question and offers the closest titles.
    The question is the embed's author name (shown verbatim, read back by the feedback buttons).
    """
    if answer.abstained:
        return _abstention_embed(answer)
    embed = discord.Embed(title=f"Answer from {len(answer.sources)} paper(s)", colour=ANSWER_COLOUR)
    embed.set_author(name=plain(answer.question, limits.AUTHOR) or "Question")
    lines: list[str] = []
    cited: set[int] = set()
    used = 0
    for quote in answer.quotes:
        if not 0 <= quote.source_index < len(answer.sources):
            continue
        source = answer.sources[quote.source_index]
        cite = f"\n— [{quote.source_index + 1}]"
        if quote.source_index not in cited:  # Link a paper's title once; later quotes cite its number.
            cite += " " + link(source.title, source.url, 300)
            cited.add(quote.source_index)
        if quote.section:
            cite += " · " + safe(quote.section, 120)
        room = min(_QUOTE_LIMIT, _DESCRIPTION_BUDGET - used - len(cite) - 6)
        if room < 40:
            break
        entry = f"> “{safe(quote.text, room)}”{cite}"
        lines.append(entry)
        used += len(entry) + 2
    if not lines:  # A responder answer with no usable quote: fall back to its text.
        lines.append(safe(answer.text, _DESCRIPTION_BUDGET) or "—")
    if answer.note:
        lines.append("*" + safe(answer.note, 400) + "*")
    embed.description = "\n\n".join(lines)
    for index, source in enumerate(answer.sources[:_MAX_SOURCE_FIELDS], start=1):
        name, value = _source_field(index, source)
        embed.add_field(name=name, value=value, inline=False)
    more = len(answer.sources) - _MAX_SOURCE_FIELDS
    footer = "Quoted from the full text" if answer.basis == Basis.FULL_TEXT else "Quoted from abstracts"
    if more > 0:
        footer += f" · {more} more paper(s) not shown"
    footer += f" · {answer.library_size} papers in the library · {answer.took_ms:.0f} ms"
    embed.set_footer(text=truncate(footer, limits.FOOTER))
    return shrink_to_fit(embed)


def _abstention_embed(answer: Answer) -> discord.Embed:
    titles = {Reason.NO_SUCH_PAPER: "No such paper", Reason.NOT_IN_PAPER: "Not in this paper"}
    embed = discord.Embed(title=titles.get(answer.reason, "Not covered by the library"), colour=ABSTAIN_COLOUR)
    embed.set_author(name=plain(answer.question, limits.AUTHOR) or "Question")
    if answer.reason == Reason.NO_SUCH_PAPER:
        head = (
            "No paper in the library matches that; pick a suggestion as you type, or use its exact title or arXiv id."
        )
    elif answer.reason == Reason.NOT_IN_PAPER and answer.sources:
        where = "full text or abstract" if answer.basis == Basis.FULL_TEXT else "abstract"
        head = f"{link(answer.sources[0].title, answer.sources[0].url, 500)} does not say: nothing in its {where} answers that."
        if answer.note:
            head += "\n*" + safe(answer.note, 400) + "*"
    elif answer.reason == Reason.EMPTY:
        head = "That question has no searchable words. Try a few keywords, e.g. `/ask what is speculative decoding`."
    else:
        head = f"None of the {answer.library_size} papers in the library answers this."
    lines = [head]
    if answer.sources and answer.reason not in titles:
        lines.append("\n**Closest titles:**")
        for index, source in enumerate(answer.sources[:_MAX_CLOSEST], start=1):
            lines.append(f"{index}. " + link(source.title, source.url, 500))
    embed.description = truncate("\n".join(lines), limits.DESCRIPTION)
    embed.set_footer(text=f"{answer.library_size} papers in the library · {answer.took_ms:.0f} ms")
    return shrink_to_fit(embed)


def paper_embed(paper: Paper) -> discord.Embed:
    """One paper: title (linked), abstract, authors, dates, upvotes and every link."""
    embed = discord.Embed(
        title=safe(paper.title, limits.TITLE) or "Untitled",
        url=safe_url_or_none(primary_url(paper)),
        colour=PAPER_COLOUR,
    )
    embed.description = safe(paper.abstract, _DESCRIPTION_BUDGET) or "*No abstract.*"
    authors = authors_line(paper.authors, paper.author_count, limits.FIELD_VALUE)
    if authors:
        embed.add_field(name="Authors", value=authors, inline=False)
    if paper.published:
        embed.add_field(name="Published", value=paper.published.isoformat(), inline=True)
    if paper.listed_on:
        embed.add_field(name="Listed on", value=paper.listed_on.isoformat(), inline=True)
    if paper.upvotes is not None:
        embed.add_field(name="Upvotes", value=str(paper.upvotes), inline=True)
    embed.add_field(name="Links", value=links_line(paper_links(paper)) or "—", inline=False)
    if paper.ext_id:
        embed.set_footer(text=plain(f"id {paper.ext_id}", limits.FOOTER))
    return shrink_to_fit(embed)


def safe_url_or_none(url: str | None) -> str | None:
    """A URL usable as an embed URL (Discord rejects anything but http(s))."""
    if url and url.startswith(("http://", "https://")):
        return limits.safe_url(url)
    return None


def similar_embed(paper: Paper, hits: Sequence[Hit]) -> discord.Embed:
    """The papers closest to ``paper`` (the "More like this" button)."""
    embed = discord.Embed(title=truncate("More like: " + safe(paper.title), limits.TITLE), colour=PAPER_COLOUR)
    if not hits:
        embed.description = "No similar papers in the library."
        return embed
    for index, hit in enumerate(hits[:_MAX_SOURCE_FIELDS], start=1):
        name = f"{index}. " + safe(hit.paper.title, limits.FIELD_NAME - 4)
        snippet = safe(hit.best_sentence, 300)
        links = links_line(paper_links(hit.paper), limits.FIELD_VALUE - len(snippet) - 1)
        embed.add_field(name=name, value="\n".join(p for p in (snippet, links) if p) or "—", inline=False)
    return shrink_to_fit(embed)


def _digest_field(index: int, entry: DigestEntry, budget: int) -> tuple[str, str]:
    paper = entry.paper
    name = f"{index}. " + safe(paper.title, min(limits.FIELD_NAME, max(40, budget // 3)) - 4)
    value_room = min(_DIGEST_VALUE, max(120, budget - len(name)))
    meta = []
    authors = authors_line(paper.authors, paper.author_count, 100)
    if authors:
        meta.append(authors)
    if paper.upvotes is not None:
        meta.append(f"▲ {paper.upvotes}")
    meta_line = " · ".join(meta)
    links = links_line(entry.links or paper_links(paper), max(60, value_room // 2))
    snippet_room = value_room - len(meta_line) - len(links) - 2
    snippet = safe(paper.abstract, snippet_room) if snippet_room >= 40 else ""
    value = "\n".join(p for p in (meta_line, snippet, links) if p)
    return name, truncate(value, limits.FIELD_VALUE) or "—"


def digest_embeds(digest: Digest, *, heading: str | None = None) -> list[discord.Embed]:
    """One message's worth of embeds for a day's papers (≤ 10 embeds, ≤ 6,000 characters in all)."""
    if digest.day is None:
        title = heading or "Daily papers"
        return [discord.Embed(title=title, description="The library has no dated papers yet.", colour=DIGEST_COLOUR)]
    period = (
        f"the week {digest.since.isoformat()} – {digest.day.isoformat()}" if digest.since else digest.day.isoformat()
    )
    title = truncate(heading or f"📰 Papers of {period}", limits.TITLE)
    embed = discord.Embed(title=title, colour=DIGEST_COLOUR)
    if digest.topics:
        embed.description = truncate("Ranked for: " + ", ".join(safe(t, 60) for t in digest.topics), 500)
    if not digest.entries:
        embed.description = (
            f"No papers were listed in {period}." if digest.since else f"No papers were listed on {period}."
        )
        return [embed]
    entries = digest.entries[: limits.FIELDS]
    budget = (limits.TOTAL - 600) // len(entries)
    for index, entry in enumerate(entries, start=1):
        name, value = _digest_field(index, entry, budget)
        embed.add_field(name=name, value=value, inline=False)
    shown = len(entries)
    when = "that week" if digest.since else "that day"
    footer = f"{shown} of {digest.total} papers listed {when}" if digest.total > shown else f"{shown} papers"
    embed.set_footer(text=footer + " · /paper for details, /ask to question them")
    return [shrink_to_fit(embed)]


def help_embed() -> discord.Embed:
    """What the bot does and its commands."""
    embed = discord.Embed(
        title="paperbot",
        description=(
            "I answer questions about research papers **from their abstracts**, quoting the sentences that "
            "answer and linking each paper. When my library does not cover a question I say so."
        ),
        colour=ANSWER_COLOUR,
    )
    commands = [
        ("/ask question [top_k] [private]", "Answer from the abstracts, with 👍/👎 and *More like this* buttons."),
        ("/paper query", "One paper: abstract, authors, links. Start typing for title suggestions."),
        ("/today [date]", "The papers of a day (YYYY-MM-DD), default the newest day I know."),
        (
            "/digest set channel time timezone [topics] [frequency] [weekday]",
            "Post the day's (or the week's) papers to a channel (Manage Server).",
        ),
        ("/digest show · /digest off", "See or stop this server's digest post (Manage Server)."),
        ("/follow topic · /follow author · /follow list · /follow remove", "A DM, at most daily, of new papers."),
        ("/library add id_or_url", "Add a paper by arXiv id or link (Manage Server or the library role)."),
        ("Apps → Find papers about this", "On any message: the papers about it, privately."),
    ]
    for name, value in commands:
        embed.add_field(name=name, value=value, inline=False)
    embed.set_footer(text="Runs locally: no data leaves the bot's machine.")
    return embed
