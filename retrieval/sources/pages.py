"""Parser for saved Hugging Face papers listing pages (the bundled default corpus).

A saved page is text: navigation lines, an optional page date ("Mar 14"), then per
paper a title line and an abstract line, sometimes followed by a metadata block
(``• 6 authors`` or an organization, a ``·`` line, then ``Sep 30, 2022`` with an
optional upvote count). Some pages have blank lines between everything, some none,
and navigation text can be glued to the first title ("SubscribeHeadGaS: …").
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path

from retrieval.models import Paper
from retrieval.text import clean_text

log = logging.getLogger(__name__)

DEFAULT_PAGES_DIR = Path(__file__).parent / "data" / "pages"
SOURCE = "hf-page"

_NAV_LINES = (
    "Get trending papers in your email inbox once a day!",
    "Get trending papers in your email inbox!",
    "byAK and the research community",
    "Daily Papers",
    "Subscribe",
)
_NAV_EXACT = {*_NAV_LINES, "new", "·"}
_MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), start=1)}
_DATE = re.compile(
    r"^(?P<mon>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (?P<day>\d{1,2})(?:, (?P<year>\d{4}))?"
    r"(?: (?P<upvotes>\d+))?$"
)
_AUTHORS = re.compile(r"^•\s*(?P<n>\d+)\s+authors?$")
_SEPARATOR = "·"
# Titles are short and abstracts long; these bounds resynchronize on a malformed page.
MAX_TITLE_CHARS = 400
MIN_ABSTRACT_CHARS = 100


def parse_listing_date(text: str, reference: date) -> tuple[date, int | None] | None:
    """Parse "Mar 14", "Sep 30, 2022" or "Jul 7 1" (date, then upvotes).

    A date without a year is the latest such date not after ``reference``.
    """
    match = _DATE.match(text.strip())
    if not match:
        return None
    month, day = _MONTHS[match["mon"]], int(match["day"])
    upvotes = int(match["upvotes"]) if match["upvotes"] else None
    try:
        if match["year"]:
            return date(int(match["year"]), month, day), upvotes
        candidate = date(reference.year, month, day)
        if candidate > reference:
            candidate = date(reference.year - 1, month, day)
    except ValueError:  # e.g. Feb 29 in a year without it
        return None
    return candidate, upvotes


def _strip_nav(line: str) -> str:
    """Remove navigation text, including when it is glued to the start of a title."""
    line = line.strip()
    if line in _NAV_EXACT:
        return ""
    for nav in _NAV_LINES:
        if line.startswith(nav) and len(line) > len(nav) and not line[len(nav)].isspace():
            return line[len(nav) :].strip()
    return line


def parse_page_text(text: str, *, reference: date | None = None, name: str = "<page>") -> list[Paper]:
    """Papers of one saved page, in page order (duplicates within the page kept)."""
    reference = reference or date.today()
    raw = [line.strip() for line in text.splitlines()]
    lines = [line for line in (_strip_nav(x) if x != _SEPARATOR else x for x in raw) if line]
    page_day: date | None = None
    papers: list[Paper] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        # A date before the first paper is the page's date.
        parsed = parse_listing_date(line, reference)
        if parsed and not papers:
            page_day = parsed[0]
            i += 1
            continue
        if line == _SEPARATOR or _AUTHORS.match(line):
            log.warning("%s: stray metadata line %d skipped: %.60s", name, i, line)
            i += 1
            continue
        abstract = lines[i + 1] if i + 1 < len(lines) else ""
        if len(line) > MAX_TITLE_CHARS or len(abstract) < MIN_ABSTRACT_CHARS or abstract == _SEPARATOR:
            log.warning("%s: no title/abstract pair at line %d, skipped: %.60s", name, i, line)
            i += 1
            continue
        paper = Paper(title=clean_text(line), abstract=clean_text(abstract), listed_on=page_day, source=SOURCE)
        i += 2
        # Optional metadata block: "<authors or organization>", "·", "<date> [upvotes]".
        if i + 1 < len(lines) and lines[i + 1] == _SEPARATOR:
            who = lines[i]
            when = parse_listing_date(lines[i + 2], reference) if i + 2 < len(lines) else None
            authors = _AUTHORS.match(who)
            paper = replace(
                paper,
                author_count=int(authors["n"]) if authors else None,
                published=when[0] if when else None,
                upvotes=when[1] if when else None,
            )
            i += 3 if when else 2
        papers.append(paper)
    return papers


def parse_page(path: Path, *, reference: date | None = None) -> list[Paper]:
    """Papers of one saved page file."""
    return parse_page_text(path.read_text(encoding="utf-8", errors="replace"), reference=reference, name=path.name)


def page_files(directory: Path) -> list[Path]:
    """The saved page files of a folder, in name order."""
    return sorted(p for p in directory.glob("*.txt") if p.is_file())


def parse_pages(paths: Sequence[Path], *, reference: date | None = None) -> list[Paper]:
    """Every page's papers, each page's records kept (the store merges them, keeping every listed day)."""
    out: list[Paper] = []
    for path in paths:
        out.extend(parse_page(path, reference=reference))
    return out


def parse_pages_dir(directory: Path, *, reference: date | None = None) -> list[Paper]:
    """All records of the saved pages in a folder (see :func:`parse_pages`)."""
    return parse_pages(page_files(directory), reference=reference)
