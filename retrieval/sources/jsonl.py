"""Import of a JSONL corpus: one JSON object a line with ``id``, ``title``, ``abstract`` (required)
and ``url``, ``arxiv_id``, ``authors``, ``published``, ``upvotes`` (optional)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from retrieval.links import is_arxiv_id
from retrieval.models import Paper
from retrieval.text import clean_text

log = logging.getLogger(__name__)

SOURCE = "jsonl"


@dataclass
class JsonlRead:
    """Papers read from a file, and the lines that were skipped with why."""

    papers: list[Paper] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)


def _text(obj: dict[str, Any], key: str, required: bool) -> str | None:
    value = obj.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, str | int | float)):
        raise ValueError(f"{key!r} must be a string")
    text = clean_text(str(value)) if value is not None else ""
    if not text:  # absent, empty, or nothing but whitespace and control characters
        if required:
            raise ValueError(f"missing {key!r}")
        return None
    return text


def _date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ValueError("'published' must be a date string")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    except ValueError:
        try:
            return date.fromisoformat(value[:10])
        except ValueError as exc:
            raise ValueError(f"'published' is not an ISO date: {value!r}") from exc


def _authors(value: Any) -> tuple[str, ...]:
    if value in (None, ""):
        return ()
    if isinstance(value, str):
        return tuple(a for a in (clean_text(x) for x in value.split(",")) if a)
    if isinstance(value, list):
        names = [a.get("name") if isinstance(a, dict) else a for a in value]
        return tuple(a for a in (clean_text(str(n)) for n in names if n) if a)
    raise ValueError("'authors' must be a list or a string")


def paper_from_json(obj: Any) -> Paper:
    """One Paper from a parsed JSON object; ValueError says what is wrong."""
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    ext_id = _text(obj, "id", required=True)
    title = _text(obj, "title", required=True)
    abstract = _text(obj, "abstract", required=True)
    arxiv = _text(obj, "arxiv_id", required=False)
    if arxiv and not is_arxiv_id(arxiv):
        raise ValueError(f"'arxiv_id' is not an arXiv id: {arxiv!r}")
    upvotes = obj.get("upvotes")
    if upvotes is not None and (isinstance(upvotes, bool) or not isinstance(upvotes, int) or upvotes < 0):
        raise ValueError("'upvotes' must be a non-negative integer")
    assert ext_id and title and abstract
    return Paper(
        title=title,
        abstract=abstract,
        ext_id=ext_id,
        arxiv_id=arxiv,
        url=_text(obj, "url", required=False),
        authors=_authors(obj.get("authors")),
        published=_date(obj.get("published")),
        upvotes=upvotes,
        source=SOURCE,
    )


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    with open(path, encoding="utf-8", errors="replace") as fh:
        yield from enumerate(fh, start=1)


def read_jsonl(path: Path) -> JsonlRead:
    """Parse a JSONL corpus; bad lines are reported by number and skipped."""
    result = JsonlRead()
    for number, line in _lines(path):
        if not line.strip():
            continue
        try:
            result.papers.append(paper_from_json(json.loads(line)))
        except json.JSONDecodeError as exc:
            result.errors.append((number, f"invalid JSON: {exc.msg}"))
        except ValueError as exc:
            result.errors.append((number, str(exc)))
    for number, why in result.errors:
        log.warning("%s:%d skipped: %s", path, number, why)
    return result
