"""Embeds for follows, found papers and added papers: pure functions within Discord's limits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import discord

from bot.render import limits
from bot.render.embeds import PAPER_COLOUR, authors_line, links_line, paper_embed
from retrieval.links import paper_links
from retrieval.models import Follow, FollowMatch, Hit, Paper

FOLLOW_COLOUR = discord.Colour.green()
_MAX_LISTED = 10
_REASON = 200


def follow_label(follow: Follow) -> str:
    """``topic: speculative decoding`` / ``author: Yann LeCun`` (untrusted text made inert)."""
    return f"{follow.kind}: {limits.safe(follow.value, 100)}"


def follow_choice_name(follow: Follow) -> str:
    """An autocomplete name for ``/follow remove`` (≤ 100 characters, shown verbatim)."""
    return limits.plain(f"{follow.kind}: {follow.value}", limits.CHOICE_NAME)


def follow_list_embed(
    follows: Sequence[Follow], closed_since: datetime | None = None, limit: int = 10
) -> discord.Embed:
    """What ``/follow list`` shows: each follow, the limit, and a warning when DMs could not be sent."""
    embed = discord.Embed(title="What you follow", colour=FOLLOW_COLOUR)
    if not follows:
        embed.description = (
            "Nothing yet. `/follow topic` or `/follow author` and I will DM you, at most once a day, "
            "the new papers that match."
        )
    else:
        lines = [f"**{f.id}** · {follow_label(f)}" for f in follows]
        embed.description = limits.truncate("\n".join(lines), 3000)
        embed.set_footer(text=f"{len(follows)} of {limit} follows · /follow remove to stop one")
    if closed_since is not None:
        embed.add_field(
            name="⚠️ I could not DM you",
            value="Your DMs were closed to me; allow direct messages from server members, then use `/follow list` "
            "again and I will retry.",
            inline=False,
        )
    return embed


def _why(match: FollowMatch) -> str:
    return limits.truncate("matches " + ", ".join(follow_label(f) for f in match.follows), _REASON)


def follow_dm(matches: Sequence[FollowMatch], day: date, user_id: int) -> tuple[str, discord.Embed]:
    """The daily DM: a line that pings the follower, and an embed listing the matching papers."""
    content = f"<@{user_id}> {len(matches)} new paper(s) match what you follow."
    embed = discord.Embed(title=f"New papers for you · {day.isoformat()}", colour=FOLLOW_COLOUR)
    shown = list(matches[:_MAX_LISTED])
    budget = (limits.TOTAL - 400) // max(1, len(shown))
    for index, match in enumerate(shown, start=1):
        paper = match.paper
        name = f"{index}. " + limits.safe(paper.title, min(limits.FIELD_NAME, max(60, budget // 3)) - 4)
        room = min(limits.FIELD_VALUE, max(150, budget - len(name)))
        authors = authors_line(paper.authors, paper.author_count, 100)
        why = _why(match)
        links = links_line(paper_links(paper), max(60, room - len(authors) - len(why) - 2))
        value = "\n".join(p for p in (authors, why, links) if p)
        embed.add_field(name=name, value=limits.truncate(value, limits.FIELD_VALUE) or "—", inline=False)
    embed.set_footer(text="/follow list to see or change what you follow · /paper for details")
    return content, limits.shrink_to_fit(embed)


def found_papers_embed(text: str, hits: Sequence[Hit]) -> discord.Embed:
    """The context-menu answer: the papers matching a message, or a clear "none"."""
    embed = discord.Embed(title="Papers about this message", colour=PAPER_COLOUR)
    embed.set_author(name=limits.plain(text, limits.AUTHOR) or "Message")
    if not hits:
        embed.description = "No paper in the library is about this message."
        return embed
    for index, hit in enumerate(hits[:_MAX_LISTED], start=1):
        name = f"{index}. " + limits.safe(hit.paper.title, limits.FIELD_NAME - 4)
        snippet = limits.safe(hit.best_sentence, 300)
        links = links_line(paper_links(hit.paper), limits.FIELD_VALUE - len(snippet) - 1)
        embed.add_field(name=name, value="\n".join(p for p in (snippet, links) if p) or "—", inline=False)
    embed.set_footer(text="Only you can see this · /paper for details, /ask to question them")
    return limits.shrink_to_fit(embed)


_OUTCOME = {
    "added": "Added to the library: it can be asked about now.",
    "updated": "Already in the library; its record was updated.",
    "unchanged": "Already in the library, unchanged.",
}


def added_paper_embed(paper: Paper, outcome: str) -> discord.Embed:
    """``/library add``'s answer: the paper's card with what adding it did."""
    embed = paper_embed(paper)
    embed.set_author(name=_OUTCOME.get(outcome, outcome))
    return limits.shrink_to_fit(embed)
