"""Follows: which new papers match a user's followed topics (by meaning) and authors (by name). Pure.

A topic matches a paper when the higher cosine of the topic's vector with the paper's vector or its
title's reaches :data:`TOPIC_THRESHOLD`. Measured with ``paperbot eval --topics`` (20 topic phrases
over the bundled 393 papers, a paper counted on-topic when its title names the topic): the paper
vector alone peaks at F1 0.32 (0.50: precision 0.40, recall 0.27); with the title, 0.55 gives F1 0.49
(precision 0.66, recall 0.39), the best of the thresholds tried. Precision matters most: a wrong DM
costs more than a missed paper. An author matches by normalized name (case, accents, punctuation
ignored; an initial matches a first name).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence

from retrieval.errors import UserFacingError
from retrieval.models import Follow, FollowMatch, Paper

TOPIC_THRESHOLD = 0.55
MAX_FOLLOWS = 10
MAX_TOPIC_CHARS = 60
MAX_AUTHOR_CHARS = 80
TOPIC, AUTHOR = "topic", "author"

_NON_WORD = re.compile(r"[^\w]+")


class FollowError(UserFacingError):
    """A follow a user typed is invalid or over a limit; the message is shown to them as is."""


def normalize_author(name: str) -> str:
    """``"Łukasz  Kaiser"`` → ``"lukasz kaiser"``: accents, case and punctuation removed."""
    decomposed = unicodedata.normalize("NFKD", name.replace("ł", "l").replace("Ł", "L"))
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(_NON_WORD.sub(" ", plain.casefold()).replace("_", " ").split())


def normalize_topic(topic: str) -> str:
    """A topic's identity for de-duplication: case and spacing ignored."""
    return " ".join(topic.casefold().split())


def parse_follow(kind: str, text: str) -> tuple[str, str]:
    """The cleaned value and its normalized key; raises :class:`FollowError` with a friendly message."""
    value = " ".join((text or "").split())
    if kind == TOPIC:
        if len(value) < 2:
            raise FollowError("Give a topic of a few words, e.g. `speculative decoding`.")
        if len(value) > MAX_TOPIC_CHARS:
            raise FollowError(f"Topics are at most {MAX_TOPIC_CHARS} characters.")
        return value, normalize_topic(value)
    if kind == AUTHOR:
        norm = normalize_author(value)
        if len(norm.replace(" ", "")) < 2:
            raise FollowError("Give an author's name as papers list it, e.g. `Yann LeCun`.")
        if len(value) > MAX_AUTHOR_CHARS:
            raise FollowError(f"Author names are at most {MAX_AUTHOR_CHARS} characters.")
        return value, norm
    raise FollowError(f"Unknown kind of follow: {kind[:20]}.")


def same_author(followed: str, listed: str) -> bool:
    """Whether two normalized names are the same person: equal, or one gives initials of the other's names."""
    if followed == listed:
        return True
    a, b = followed.split(), listed.split()
    if len(a) < 2 or len(b) < 2 or a[-1] != b[-1] or len(a) != len(b):
        return False
    # "g hinton" matches "geoffrey hinton"; two different full first names do not.
    return all(
        x == y or (len(x) == 1 and y.startswith(x)) or (len(y) == 1 and x.startswith(y))
        for x, y in zip(a[:-1], b[:-1], strict=True)
    )


def match_follows(
    papers: Sequence[Paper],
    follows: Sequence[Follow],
    topic_cosines: Mapping[str, Mapping[int, float]],
    threshold: float = TOPIC_THRESHOLD,
) -> dict[int, list[FollowMatch]]:
    """Each user's matching papers, best first, with the follows each one matched.

    ``topic_cosines`` maps a topic's normalized text to {paper id: cosine}. Papers without an id are
    ignored. Order: strongest topic cosine (an author match counts as 1.0), then upvotes, then title.
    """
    authors_of = {p.id: [normalize_author(a) for a in p.authors] for p in papers if p.id is not None}
    found: dict[int, dict[int, tuple[Paper, list[Follow], float]]] = {}
    for follow in follows:
        for paper in papers:
            if paper.id is None:
                continue
            if follow.kind == TOPIC:
                score = topic_cosines.get(follow.norm, {}).get(paper.id, 0.0)
                if score < threshold:
                    continue
            elif any(same_author(follow.norm, name) for name in authors_of[paper.id]):
                score = 1.0
            else:
                continue
            per_user = found.setdefault(follow.user_id, {})
            _, reasons, best = per_user.get(paper.id, (paper, [], 0.0))
            per_user[paper.id] = (paper, [*reasons, follow], max(best, score))
    result: dict[int, list[FollowMatch]] = {}
    for user_id, per_paper in found.items():
        matches = [FollowMatch(paper=p, follows=tuple(r), score=s) for p, r, s in per_paper.values()]
        matches.sort(key=lambda m: (-m.score, -(m.paper.upvotes or 0), m.paper.title.casefold()))
        result[user_id] = matches
    return result
