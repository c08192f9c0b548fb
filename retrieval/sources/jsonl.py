"""Import of a JSONL corpus: one JSON object a line with ``id``, ``title``, ``abstract`` (required)
and ``url``, ``arxiv_id``, ``authors``, ``published``, ``upvotes`` (optional).

The file is UTF-8 (a leading byte order mark is accepted), plain or gzip-compressed (read
directly, recognised by its first bytes). One type rule: each field must have its JSON type
and nothing is converted: ``id`` a string or an integer, ``title``, ``abstract``, ``url``,
``arxiv_id`` and ``published`` strings, ``authors`` a list (of names or ``{"name": …}``) or a
comma-separated string, ``upvotes`` a non-negative integer. Lines that break the rule, are not
JSON or not UTF-8 are skipped and reported by number; a ``url`` that is not http(s) is left
out. Two records with the same ``id`` or ``arxiv_id``: the later one wins (the earlier line is
reported). Over-long titles and abstracts are cut (see ``retrieval.ingest.cap_paper``).
"""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from retrieval.ingest import cap_paper
from retrieval.links import is_arxiv_id
from retrieval.models import Paper
from retrieval.text import clean_text

log = logging.getLogger(__name__)

SOURCE = "jsonl"
_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# Longer ids are not ids (a pasted abstract, a broken export); longer author lists are cut.
MAX_ID_CHARS = 300
MAX_AUTHORS = 5_000
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class JsonlRead:
    """Papers read from a file, the lines skipped (with why) and notes on records kept but changed."""

    papers: list[Paper] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)
    notes: list[tuple[int, str]] = field(default_factory=list)
    lines: int = 0  # non-blank lines seen


def _text(obj: dict[str, Any], key: str, required: bool, *, integer_ok: bool = False) -> str | None:
    value = obj.get(key)
    if value is not None:
        allowed = isinstance(value, str) or (integer_ok and isinstance(value, int) and not isinstance(value, bool))
        if not allowed:
            kind = "a string or an integer" if integer_ok else "a string"
            raise ValueError(f"{key!r} must be {kind}, not {type(value).__name__}")
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
        if any(n is not None and not isinstance(n, str) for n in names):
            raise ValueError("'authors' must hold names (strings)")
        return tuple(a for a in (clean_text(n) for n in names if n) if a)
    raise ValueError("'authors' must be a list or a string")


def is_web_url(value: str | None) -> bool:
    """True for an absolute http(s) URL with a host (no javascript:, data:, file: …)."""
    if not value:
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc) and " " not in value


def paper_from_json(obj: Any, notes: list[str] | None = None) -> Paper:
    """One Paper from a parsed JSON object; ValueError says what is wrong, ``notes`` what was changed."""
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    notes = notes if notes is not None else []
    ext_id = _text(obj, "id", required=True, integer_ok=True)
    if ext_id and len(ext_id) > MAX_ID_CHARS:
        raise ValueError(f"'id' is {len(ext_id):,} characters long (at most {MAX_ID_CHARS})")
    title = _text(obj, "title", required=True)
    abstract = _text(obj, "abstract", required=True)
    arxiv = _text(obj, "arxiv_id", required=False)
    if arxiv and not is_arxiv_id(arxiv):
        raise ValueError(f"'arxiv_id' is not an arXiv id: {arxiv!r}")
    upvotes = obj.get("upvotes")
    if upvotes is not None and (isinstance(upvotes, bool) or not isinstance(upvotes, int) or upvotes < 0):
        raise ValueError("'upvotes' must be a non-negative integer")
    url = _text(obj, "url", required=False)
    if url and not is_web_url(url):
        notes.append(f"'url' left out: not an http(s) URL: {url[:80]!r}")
        url = None
    authors = _authors(obj.get("authors"))
    if len(authors) > MAX_AUTHORS:
        notes.append(f"authors cut from {len(authors):,} to {MAX_AUTHORS:,}")
        authors = authors[:MAX_AUTHORS]
    assert ext_id and title and abstract
    paper = Paper(
        title=title,
        abstract=abstract,
        ext_id=ext_id,
        arxiv_id=arxiv,
        url=url,
        authors=authors,
        published=_date(obj.get("published")),
        upvotes=upvotes,
        source=SOURCE,
    )
    paper, cut = cap_paper(paper)
    notes.extend(cut)
    return paper


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with open(path, "rb") as raw:
        compressed = raw.read(2) == _GZIP_MAGIC
    opener = gzip.open if compressed else open
    with opener(path, "rb") as fh:
        for number, line in enumerate(fh, start=1):
            yield number, (line.removeprefix(_BOM) if number == 1 else line)


def read_jsonl(path: Path, *, report: bool = True) -> JsonlRead:
    """Parse a JSONL corpus (plain or .gz); bad lines are reported by number and skipped.

    ``report``: log each skipped line and note (False when the caller shows them itself).
    Raises OSError (or gzip.BadGzipFile, an OSError) when the file cannot be read.
    """
    result = JsonlRead()
    line_of: list[int] = []  # the line of each paper in result.papers
    holder: dict[tuple[str, str], int] = {}  # ("id" | "arxiv", value) -> index of the paper that has it
    dropped: set[int] = set()
    for number, raw in _lines(path):
        if number == 1 and raw.startswith(_UTF16_BOMS):
            result.lines += 1
            result.errors.append((1, "the file is UTF-16, not UTF-8: save it as UTF-8"))
            break
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            result.lines += 1
            result.errors.append((number, f"not UTF-8 (byte {exc.start + 1} of the line is {raw[exc.start]:#04x})"))
            continue
        if not line.strip():
            continue
        result.lines += 1
        notes: list[str] = []
        try:
            paper = paper_from_json(json.loads(line), notes)
        except json.JSONDecodeError as exc:
            result.errors.append((number, f"invalid JSON: {exc.msg}"))
            continue
        except ValueError as exc:
            result.errors.append((number, str(exc)))
            continue
        result.notes.extend((number, note) for note in notes)
        keys = [("id", paper.ext_id or "")] + ([("arxiv", paper.arxiv_id)] if paper.arxiv_id else [])
        index = len(result.papers)
        for key in keys:
            earlier = holder.get(key)
            if earlier is not None and earlier not in dropped:
                dropped.add(earlier)
                what = "id" if key[0] == "id" else "arxiv_id"
                result.notes.append(
                    (line_of[earlier], f"replaced by line {number}, which has the same {what} {key[1]!r}")
                )
            holder[key] = index
        result.papers.append(paper)
        line_of.append(number)
    if dropped:
        result.papers = [p for i, p in enumerate(result.papers) if i not in dropped]
    result.notes.sort()
    if report:
        for number, why in result.errors:
            log.warning("%s:%d: skipped: %s", path, number, why)
        for number, note in result.notes:
            log.warning("%s:%d: %s", path, number, note)
    return result
