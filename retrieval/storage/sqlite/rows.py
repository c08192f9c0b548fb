"""A ``papers`` row as a :class:`Paper`: shared by the store and its vector table."""

from __future__ import annotations

import json
import sqlite3
from datetime import date

from retrieval.models import Paper

COLUMNS = (
    "id, ext_id, arxiv_id, title, abstract, url, authors, author_count, published, upvotes, github, "
    "project_page, source, owner"
)


def row_to_paper(row: sqlite3.Row, listed_on: date | None = None) -> Paper:
    return Paper(
        id=row["id"],
        ext_id=row["ext_id"],
        arxiv_id=row["arxiv_id"],
        title=row["title"],
        abstract=row["abstract"],
        url=row["url"],
        authors=tuple(json.loads(row["authors"] or "[]")),
        author_count=row["author_count"],
        published=date.fromisoformat(row["published"]) if row["published"] else None,
        upvotes=row["upvotes"],
        github=row["github"],
        project_page=row["project_page"],
        source=row["source"],
        listed_on=listed_on,
        owner=row["owner"],
    )
