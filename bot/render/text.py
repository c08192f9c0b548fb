"""Plain-text rendering for the local harness: pure functions from dataclasses to text."""

from __future__ import annotations

from datetime import date

from retrieval.models import Answer, Digest, Follow, FollowMatch, Paper
from retrieval.query.responder import CLOSEST_SHOWN


def _day(day: date) -> str:
    return day.strftime("%a %d %b %Y")


def paper_meta(paper: Paper) -> str:
    """ "⬆ 3 · 6 authors · 30 Sep 2022": what the library knows beside the title."""
    parts: list[str] = []
    if paper.upvotes:
        parts.append(f"⬆ {paper.upvotes}")
    if paper.authors:
        shown = ", ".join(paper.authors[:3]) + (" et al." if len(paper.authors) > 3 else "")
        parts.append(shown)
    elif paper.author_count:
        parts.append(f"{paper.author_count} author{'s' if paper.author_count != 1 else ''}")
    if paper.published:
        parts.append(paper.published.strftime("%d %b %Y"))
    return " · ".join(parts)


def plural(count: int, noun: str) -> str:
    """ "1 source", "3 sources"."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def render_answer(answer: Answer) -> str:
    """The readable answer of ``paperbot ask``: each link once (the answer text already names some)."""
    lines = [answer.text]
    if not answer.abstained and answer.sources:
        lines.append("")
        lines.append("Sources:")
        for rank, source in enumerate(answer.sources, start=1):
            lines.append(f"{rank}. {source.title}")
            more = [link.url for link in source.links if link.url not in answer.text]
            if more:
                lines.append("   " + "  ".join(more))
    lines.append("")
    if answer.abstained:
        shown = min(len(answer.sources), CLOSEST_SHOWN)
        counted = plural(shown, "closest title") if shown else "no close title"
    else:
        counted = plural(len(answer.sources), "source")
    lines.append(f"({counted} from {answer.library_size} papers, {answer.took_ms:.0f} ms)")
    return "\n".join(lines)


def render_stats(stats: dict[str, object]) -> str:
    """``paperbot stats``: one ``name: value`` line each, in words (no Python reprs)."""
    lines = []
    for key, value in stats.items():
        if isinstance(value, dict):
            shown = ", ".join(f"{name} {count}" for name, count in value.items()) or "none"
        elif value is None:
            shown = "none"
        elif isinstance(value, int) and key.endswith("bytes"):
            shown = f"{value:,} ({value / 1_048_576:.1f} MiB)"
        else:
            shown = str(value)
        lines.append(f"{key.replace('_', ' ')}: {shown}")
    return "\n".join(lines)


def render_digest(digest: Digest) -> str:
    """The digest as the daily Discord post reads, in text."""
    if digest.day is None:
        return "The library has no dated papers yet: run `paperbot fetch` to pull today's papers."
    if not digest.entries:
        return f"No papers for {_day(digest.since) + ' – ' if digest.since else ''}{_day(digest.day)}."
    header = (
        f"📰 Papers of the week {_day(digest.since)} – {_day(digest.day)}"
        if digest.since
        else f"📰 Papers of {_day(digest.day)}"
    )
    if digest.topics:
        header += f" — topics: {', '.join(digest.topics)}"
    shown = len(digest.entries)
    lines = [header, f"{shown} of {digest.total} papers" if shown < digest.total else f"{shown} papers", ""]
    for rank, entry in enumerate(digest.entries, start=1):
        paper = entry.paper
        lines.append(f"{rank}. {paper.title}")
        meta = paper_meta(paper)
        if meta:
            lines.append(f"   {meta}")
        lines.append("   " + "  ".join(f"{link.label}: {link.url}" for link in entry.links))
    return "\n".join(lines)


def render_paper(paper: Paper) -> str:
    """One paper in full: title, metadata, abstract, links."""
    from retrieval.links import paper_links

    lines = [paper.title]
    meta = paper_meta(paper)
    if meta:
        lines.append(meta)
    lines += ["", paper.abstract, ""]
    lines += [f"{link.label}: {link.url}" for link in paper_links(paper)]
    return "\n".join(lines)


def render_follows(follows: list[Follow]) -> str:
    """``paperbot follow list``: one follow a line with its id."""
    if not follows:
        return "No follows."
    return "\n".join(f"{f.id}. {f.kind}: {f.value}" for f in follows)


def render_follow_matches(matches: list[FollowMatch], day: date) -> str:
    """``paperbot follow check``: the papers the next DM would list."""
    if not matches:
        return f"No new paper matches on {day.isoformat()}."
    lines = [f"{len(matches)} new paper(s) for {day.isoformat()}:", ""]
    for rank, match in enumerate(matches, start=1):
        lines.append(f"{rank}. {match.paper.title}")
        reasons = ", ".join(f"{f.kind}: {f.value}" for f in match.follows)
        lines.append(f"   matches {reasons} (score {match.score:.2f})")
    return "\n".join(lines)
