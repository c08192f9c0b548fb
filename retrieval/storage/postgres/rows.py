"""A ``papers`` row as a :class:`Paper`: shared by the store and its vector table."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Any

from retrieval.models import Paper

COLUMNS = (
    "id, ext_id, arxiv_id, title, abstract, url, authors, author_count, published, upvotes, github, "
    "project_page, source, owner"
)


def row_to_paper(row: Sequence[Any], listed_on: date | None = None) -> Paper:
    """A ``papers`` row (in :data:`COLUMNS` order) as a Paper."""
    authors = row[6] if isinstance(row[6], list) else json.loads(row[6] or "[]")
    return Paper(
        id=int(row[0]),
        ext_id=row[1],
        arxiv_id=row[2],
        title=row[3],
        abstract=row[4],
        url=row[5],
        authors=tuple(authors),
        author_count=row[7],
        published=row[8],
        upvotes=row[9],
        github=row[10],
        project_page=row[11],
        source=row[12],
        listed_on=listed_on,
        owner=row[13],
    )
