"""Discord's size limits and the text helpers that keep every message inside them.

Everything here is pure. Paper text and user questions are untrusted: they are flattened to
one line, markdown-escaped and mention-neutralized before they reach an embed.
"""

from __future__ import annotations

import re

import discord

# https://discord.com/developers/docs/resources/message#embed-object-embed-limits
TITLE = 256
DESCRIPTION = 4096
FIELDS = 25
FIELD_NAME = 256
FIELD_VALUE = 1024
FOOTER = 2048
AUTHOR = 256
TOTAL = 6000
EMBEDS_PER_MESSAGE = 10
CONTENT = 2000
CHOICE_NAME = 100
CHOICE_VALUE = 100

ELLIPSIS = "…"
# A zero-width space after "@" stops @everyone / @here / <@id> from being read as mentions.
_ZWSP = "\u200b"
_MENTION = re.compile(r"@(everyone|here|[!&]?\d{15,21})")
_ROLE_OR_USER = re.compile(r"<(@[!&]?|#)(\d{15,21})>")


def one_line(text: str | None) -> str:
    """Collapse all whitespace (newlines too) so paper text cannot start a markdown block."""
    return " ".join((text or "").split())


def truncate(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut on a word boundary with "…" when it had to be cut."""
    if limit <= 0:
        return ""
    if len(text) <= limit:
        return text
    if limit <= len(ELLIPSIS):
        return ELLIPSIS[:limit]
    cut = text[: limit - len(ELLIPSIS)]
    space = cut.rfind(" ")
    # Only back off to a space when that keeps most of the text (long unbroken words: hard cut).
    if space >= len(cut) * 0.6:
        cut = cut[:space]
    # A trailing backslash would escape the ellipsis (or a closing bracket we add later).
    cut = cut.rstrip().rstrip("\\").rstrip()
    return cut + ELLIPSIS


def neutralize_mentions(text: str) -> str:
    """Break ``@everyone``, ``@here``, ``<@id>``, ``<@&id>`` and ``<#id>`` so they never ping or resolve."""
    text = _ROLE_OR_USER.sub(lambda m: f"<{m.group(1)}{_ZWSP}{m.group(2)}>", text)
    return _MENTION.sub(lambda m: f"@{_ZWSP}{m.group(1)}", text)


def safe(text: str | None, limit: int | None = None) -> str:
    """Untrusted text made inert: one line, markdown escaped, mentions broken, then truncated."""
    cleaned = neutralize_mentions(discord.utils.escape_markdown(one_line(text)))
    cleaned = cleaned.replace("]", "\\]")
    return truncate(cleaned, limit) if limit is not None else cleaned


def plain(text: str | None, limit: int) -> str:
    """Untrusted text for places Discord shows verbatim (author name, footer, choice names)."""
    return truncate(neutralize_mentions(one_line(text)), limit)


def safe_url(url: str) -> str:
    """A URL that cannot break out of ``[text](url)``: spaces and parentheses percent-encoded."""
    return url.strip().replace(" ", "%20").replace("(", "%28").replace(")", "%29").replace(">", "%3E")


def link(text: str, url: str | None, limit: int) -> str:
    """``[text](url)`` (text escaped and truncated so the whole link fits ``limit``), or the text alone."""
    if not url:
        return safe(text, limit)
    target = safe_url(url)
    room = limit - len(target) - 4
    if room < 8:  # The URL alone would not fit: show the title without a link.
        return safe(text, limit)
    return f"[{safe(text, room)}]({target})"


def embeds_size(embeds: list[discord.Embed]) -> int:
    """The characters Discord counts against the 6,000 per message limit."""
    return sum(len(embed) for embed in embeds)


def fits(embeds: list[discord.Embed]) -> bool:
    """True when a message made of ``embeds`` respects every embed limit."""
    if len(embeds) > EMBEDS_PER_MESSAGE or embeds_size(embeds) > TOTAL:
        return False
    for embed in embeds:
        if len(embed.title or "") > TITLE or len(embed.description or "") > DESCRIPTION:
            return False
        if len(embed.fields) > FIELDS or len(embed.footer.text or "") > FOOTER or len(embed.author.name or "") > AUTHOR:
            return False
        if any(len(f.name or "") > FIELD_NAME or len(f.value or "") > FIELD_VALUE for f in embed.fields):
            return False
    return True


def shrink_to_fit(embed: discord.Embed, total: int = TOTAL) -> discord.Embed:
    """Drop trailing fields, then shorten the description, until the embed fits ``total``."""
    while len(embed) > total and embed.fields:
        embed.remove_field(len(embed.fields) - 1)
    if len(embed) > total and embed.description:
        excess = len(embed) - total
        embed.description = truncate(embed.description, max(0, len(embed.description) - excess))
    return embed
