"""A reading list as exported by reference managers: BibTeX (Zotero, Mendeley), RIS, CSV, JSONL.

:func:`read_reading_list` turns a file's bytes into papers, all or nothing: a file that cannot be
read as a whole (too large, not UTF-8, a BibTeX syntax error, a CSV without title and abstract
columns) raises :class:`ReadingListError` with what to fix, and nothing is imported. Records that are
fine as syntax but unusable (no title, no abstract) are skipped and reported by the line they start
on. Parsing uses maintained libraries: ``bibtexparser`` (with its LaTeX decoding) and ``rispy``;
CSV the standard library.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from retrieval.errors import UserFacingError
from retrieval.links import is_arxiv_id
from retrieval.models import Paper
from retrieval.sources.jsonl import paper_from_json
from retrieval.text import clean_text

log = logging.getLogger(__name__)

# An attachment larger than this is refused before it is read (5,000 BibTeX records with abstracts: ~7 MB).
MAX_BYTES = 8 * 1024 * 1024
# Records one import may bring (more are refused: split the file).
MAX_RECORDS = 5000
FORMATS = ("bibtex", "ris", "csv", "jsonl")

_ARXIV_IN_TEXT = re.compile(r"arxiv(?:\.org/(?:abs|pdf)/|[: ]*)(\d{4}\.\d{4,5}(?:v\d+)?)", re.IGNORECASE)
_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")


class ReadingListError(UserFacingError):
    """The file cannot be imported as a whole; the message says why and where."""


@dataclass
class ReadingList:
    """Papers read from a file, the records skipped (line, why), and the format it was read as."""

    format: str
    papers: list[Paper] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)


def decode(data: bytes) -> str:
    """The file's text: UTF-8 (a BOM allowed) or UTF-16 with a BOM; else a ReadingListError naming the line."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise ReadingListError(f"the file starts as UTF-16 but is not valid UTF-16 ({exc.reason})") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ReadingListError(
            f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}); "
            "export it again as UTF-8 (Zotero and Mendeley do by default)"
        ) from exc


def detect_format(filename: str, text: str) -> str:
    """The format by file extension, else by the first meaningful line."""
    name = filename.lower()
    for suffixes, kind in (
        ((".bib", ".bibtex"), "bibtex"),
        ((".ris",), "ris"),
        ((".csv",), "csv"),
        ((".jsonl", ".ndjson", ".json"), "jsonl"),
    ):
        if name.endswith(suffixes):
            return kind
    head = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if head.startswith("@"):
        return "bibtex"
    if re.match(r"^TY  -", head):
        return "ris"
    if head.startswith("{"):
        return "jsonl"
    if "title" in head.lower() and "," in head:
        return "csv"
    raise ReadingListError(
        "I could not tell the file's format: use BibTeX (.bib), RIS (.ris), CSV with title and abstract "
        "columns (.csv) or JSON lines (.jsonl)"
    )


def read_reading_list(data: bytes, filename: str = "", owner: str | None = None) -> ReadingList:
    """Parse a reading list file (see the module doc); each paper gets ``owner`` (its collection)."""
    if len(data) > MAX_BYTES:
        raise ReadingListError(
            f"the file is {len(data) / 1e6:.1f} MB; the limit is {MAX_BYTES // (1024 * 1024)} MB: split it"
        )
    text = decode(data)
    kind = detect_format(filename, text)
    reader: Callable[[str, ReadingList], None] = {
        "bibtex": _read_bibtex,
        "ris": _read_ris,
        "csv": _read_csv,
        "jsonl": _read_jsonl,
    }[kind]
    result = ReadingList(kind)
    reader(text, result)
    if len(result.papers) > MAX_RECORDS:
        raise ReadingListError(
            f"the file has {len(result.papers)} usable records; the limit is {MAX_RECORDS}: split it"
        )
    if not result.papers and not result.skipped:
        raise ReadingListError(f"no records found in the file (read as {kind})")
    result.papers = [_owned(p, owner, kind) for p in result.papers]
    return result


def _owned(paper: Paper, owner: str | None, source: str) -> Paper:
    return replace(paper, owner=owner, source=source)


def _paper(fields: dict[str, Any], key: str | None) -> Paper:
    """A Paper from normalized fields; ValueError says what is missing."""
    title = clean_text(str(fields.get("title") or ""))
    abstract = clean_text(str(fields.get("abstract") or ""))
    if not title:
        raise ValueError("no title")
    if not abstract:
        raise ValueError("no abstract (nothing to answer questions from)")
    arxiv = _arxiv_of(fields)
    doi = clean_text(str(fields.get("doi") or "")) or None
    url = clean_text(str(fields.get("url") or "")) or (f"https://doi.org/{doi}" if doi else None)
    ext_id = arxiv or (f"doi:{doi.lower()}" if doi else None) or (clean_text(key) if key else None)
    return Paper(
        title=title,
        abstract=abstract,
        ext_id=ext_id,
        arxiv_id=arxiv,
        url=url,
        authors=tuple(a for a in (clean_text(x) for x in fields.get("authors") or ()) if a),
        published=_published(fields.get("year")),
    )


def _arxiv_of(fields: dict[str, Any]) -> str | None:
    """An arXiv id from an arXiv field, or from a URL / journal / note that names one."""
    for key in ("arxiv", "eprint"):
        value = clean_text(str(fields.get(key) or "")).removeprefix("arXiv:").removeprefix("arxiv:")
        value = re.sub(r"v\d+$", "", value)
        if value and is_arxiv_id(value) and (key == "arxiv" or fields.get("eprint_is_arxiv", True)):
            return value
    for key in ("url", "journal", "note"):
        found = _ARXIV_IN_TEXT.search(str(fields.get(key) or ""))
        if found:
            return re.sub(r"v\d+$", "", found.group(1))
    return None


def _published(value: Any) -> date | None:
    found = _YEAR.search(str(value or ""))
    return date(int(found.group(1)), 1, 1) if found else None


# -- BibTeX -------------------------------------------------------------------------------


def _read_bibtex(text: str, result: ReadingList) -> None:
    import bibtexparser
    from bibtexparser import middlewares

    library = bibtexparser.parse_string(text, append_middleware=[middlewares.LatexDecodingMiddleware()])
    if library.failed_blocks:
        block = library.failed_blocks[0]
        lines = [x.strip() for x in str(getattr(block, "error", "") or "").splitlines() if x.strip()]
        why = lines[-1] if lines else "syntax error"
        raise ReadingListError(
            f"BibTeX syntax error in the entry starting on line {block.start_line + 1}: {why[:200]}; nothing was imported"
        )
    for entry in library.entries:
        values = {k.lower(): f.value for k, f in entry.fields_dict.items()}
        prefix = str(values.get("archiveprefix") or values.get("eprinttype") or "").lower()
        fields = {
            "title": values.get("title"),
            "abstract": values.get("abstract"),
            "authors": [a.strip() for a in str(values.get("author") or "").split(" and ") if a.strip()],
            "year": values.get("year") or values.get("date"),
            "doi": values.get("doi"),
            "url": values.get("url"),
            "arxiv": values.get("arxivid"),
            "eprint": values.get("eprint"),
            "eprint_is_arxiv": prefix in ("", "arxiv"),
            "journal": values.get("journal"),
            "note": values.get("note"),
        }
        try:
            result.papers.append(_paper(fields, entry.key))
        except ValueError as exc:
            result.skipped.append((entry.start_line + 1, f"{entry.key}: {exc}"))


# -- RIS ----------------------------------------------------------------------------------


def _read_ris(text: str, result: ReadingList) -> None:
    import rispy

    lines = text.splitlines()
    start: int | None = None
    for number, line in enumerate(lines, start=1):
        if re.match(r"^TY  -", line):
            start = number
        elif re.match(r"^ER  -", line) and start is not None:
            record = "\n".join(lines[start - 1 : number]) + "\n"
            try:
                entries = rispy.loads(record)
            except Exception as exc:  # rispy raises plain exceptions on malformed tags
                raise ReadingListError(
                    f"RIS syntax error in the record starting on line {start}: {exc}; nothing was imported"
                ) from exc
            for entry in entries:
                _ris_entry(entry, start, result)
            start = None
    if start is not None:
        raise ReadingListError(f"the RIS record starting on line {start} has no end (ER  -); nothing was imported")


def _ris_entry(entry: dict[str, Any], line: int, result: ReadingList) -> None:
    urls = entry.get("urls") or []
    fields = {
        "title": entry.get("title") or entry.get("primary_title"),
        "abstract": entry.get("abstract") or entry.get("notes_abstract"),
        "authors": (entry.get("authors") or []) + (entry.get("first_authors") or []),
        "year": entry.get("year") or entry.get("publication_year") or entry.get("date"),
        "doi": entry.get("doi"),
        "url": urls[0] if urls else None,
        "journal": entry.get("journal_name") or entry.get("secondary_title"),
        "note": " ".join(entry.get("notes") or []) if isinstance(entry.get("notes"), list) else entry.get("notes"),
    }
    try:
        result.papers.append(_paper(fields, entry.get("id")))
    except ValueError as exc:
        result.skipped.append((line, str(exc)))


# -- CSV ----------------------------------------------------------------------------------

# Column names (lower case) for each field; Zotero's CSV export calls the abstract "Abstract Note".
_CSV_COLUMNS = {
    "title": ("title",),
    "abstract": ("abstract", "abstract note", "abstractnote", "summary"),
    "authors": ("authors", "author"),
    "year": ("year", "publication year", "published", "date"),
    "doi": ("doi",),
    "url": ("url", "link"),
    "arxiv": ("arxiv_id", "arxiv", "arxiv id", "arxivid"),
    "id": ("id", "key"),
}


def _read_csv(text: str, result: ReadingList) -> None:
    try:
        dialect: Any = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise ReadingListError("the CSV file is empty") from None
    except csv.Error as exc:
        raise ReadingListError(f"CSV error on line 1: {exc}; nothing was imported") from exc
    column = {
        name: next((header.index(a) for a in aliases if a in header), None) for name, aliases in _CSV_COLUMNS.items()
    }
    if column["title"] is None or column["abstract"] is None:
        raise ReadingListError(
            f"the CSV file needs a 'title' and an 'abstract' column; its header is: {', '.join(header)[:200]}"
        )
    start = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise ReadingListError(f"CSV error on line {reader.line_num}: {exc}; nothing was imported") from exc
        if any(cell.strip() for cell in row):

            def cell(name: str, row: list[str] = row) -> str | None:
                index = column[name]
                return row[index] if index is not None and index < len(row) else None

            authors = cell("authors") or ""
            fields = {
                "title": cell("title"),
                "abstract": cell("abstract"),
                "authors": [a for a in re.split(r";|\band\b", authors) if a.strip()],
                "year": cell("year"),
                "doi": cell("doi"),
                "url": cell("url"),
                "arxiv": cell("arxiv"),
            }
            try:
                result.papers.append(_paper(fields, cell("id")))
            except ValueError as exc:
                result.skipped.append((start, str(exc)))
        start = reader.line_num + 1


# -- JSONL --------------------------------------------------------------------------------


def _read_jsonl(text: str, result: ReadingList) -> None:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            result.papers.append(paper_from_json(json.loads(line)))
        except json.JSONDecodeError as exc:
            result.skipped.append((number, f"invalid JSON: {exc.msg}"))
        except ValueError as exc:
            result.skipped.append((number, str(exc)))
