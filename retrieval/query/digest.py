"""Picking and ordering a day's papers for the digest (pure; the adapters decide where it goes)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from retrieval.links import paper_links
from retrieval.models import Digest, DigestEntry, Paper

# Below this cosine a paper is not about any of a channel's topics.
TOPIC_FLOOR = 0.2


def rank_papers(papers: Sequence[Paper], topic_scores: dict[int, float] | None = None) -> list[Paper]:
    """Order a day's papers: on-topic first (when topics are set), then upvotes, then newest, then title."""

    def key(paper: Paper) -> tuple[float, float, int, int, str]:
        topical = (topic_scores or {}).get(paper.id or -1, 0.0)
        return (
            -(1.0 if topic_scores and topical >= TOPIC_FLOOR else 0.0),
            -round(topical, 2) if topic_scores else 0.0,
            -(paper.upvotes or 0),
            -(paper.published.toordinal() if paper.published else 0),
            paper.title.casefold(),
        )

    return sorted(papers, key=key)


def build_digest(
    day: date | None,
    papers: Sequence[Paper],
    *,
    topics: tuple[str, ...] = (),
    topic_scores: dict[int, float] | None = None,
    limit: int = 10,
) -> Digest:
    """The digest of ``day``: the ``limit`` best-ranked papers, with their links."""
    ranked = rank_papers(papers, topic_scores if topics else None)
    entries = tuple(
        DigestEntry(
            paper=p,
            links=paper_links(p),
            topic_score=(topic_scores or {}).get(p.id or -1) if topics else None,
        )
        for p in ranked[: max(0, limit)]
    )
    return Digest(day=day, entries=entries, total=len(papers), topics=topics)
