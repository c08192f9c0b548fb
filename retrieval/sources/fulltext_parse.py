"""A paper's full text from arXiv's HTML rendering (LaTeXML) or its PDF: sections with their headings.

Kept: the abstract, every section and appendix with its heading as printed ("4 Experiments",
"4.1 Setup", "A Hyper-parameters"), paragraphs, list items, figure and table captions, footnotes
(after their paragraph: code links often live there). Dropped: the bibliography, display
equations and tables' cells, page chrome (navigation, headers, footers, author blocks),
acknowledgements; inline MathML becomes its short TeX ``alttext`` ("3e-4", "\\alpha=0.1") or goes.

HTML is parsed with selectolax (Lexbor), PDF with pypdf; both are measured in
``bench/fulltext_bench.py``. Every parser failure is a :class:`ParseError` with a short reason.
"""

from __future__ import annotations

import io
import logging
import re
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from retrieval.models import FullText, Section
from retrieval.text import split_sentences

if TYPE_CHECKING:
    from selectolax.lexbor import LexborNode as Node

log = logging.getLogger(__name__)

# A paper's full text is capped (the rest is dropped, ``FullText.truncated`` set): enough for any
# conference paper with its appendix, small enough to embed on first need in seconds.
MAX_SENTENCES = 1500
MAX_CHARS = 300_000
MAX_PDF_PAGES = 80
# Fewer sentences than this is not a full text (an error page, a scanned PDF's stray characters).
MIN_SENTENCES = 5
# Inline math longer than this (as TeX) is an equation, not a value: dropped.
MAX_INLINE_MATH = 40

_DROP = (
    "script, style, noscript, nav, header, footer, .ltx_page_header, .ltx_page_footer, .ltx_page_navbar, "
    ".ltx_bibliography, .ltx_biblist, .ltx_authors, .ltx_dates, .ltx_acknowledgements, .ltx_equation, "
    ".ltx_equationgroup, .ltx_eqn_table, table.ltx_tabular, .ltx_tabular, .ltx_listing, .ltx_TOC, .ltx_pagination, "
    ".ltx_note_mark, .package-alerts, .ltx_ERROR, .ltx_title_document, .ltx_classification, .ltx_keywords, svg, img"
)
_BLOCKS = "h1, h2, h3, h4, h5, h6, p, figcaption"
_NOTE = re.compile(r"\x00(\d+)\x00")
_REFERENCES = re.compile(r"^(?:[\dA-Z]+\.?\s+)?(?:references|bibliography|acknowledge?ments?)\s*$", re.IGNORECASE)
_SPACE = re.compile(r"\s+")


class ParseError(Exception):
    """The document holds no usable full text; ``reason`` says why in a few words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class _Builder:
    """Collects paragraphs under headings, splits them into sentences, enforces the caps."""

    sections: list[tuple[str, list[str]]]
    chars: int = 0
    sentences: int = 0
    truncated: bool = False

    def heading(self, text: str) -> None:
        if self.sections and not self.sections[-1][1]:
            self.sections[-1] = (text, [])
        else:
            self.sections.append((text, []))

    def paragraph(self, text: str) -> None:
        text = _SPACE.sub(" ", text).strip()
        if len(text) < 3 or self.truncated:
            return
        if not self.sections:
            self.sections.append(("", []))
        for sentence in split_sentences(text):
            if self.sentences >= MAX_SENTENCES or self.chars + len(sentence) > MAX_CHARS:
                self.truncated = True
                return
            self.sections[-1][1].append(sentence)
            self.sentences += 1
            self.chars += len(sentence)

    def result(self, source: str) -> FullText:
        sections = tuple(Section(h, tuple(s)) for h, s in self.sections if s)
        if sum(len(s.sentences) for s in sections) < MIN_SENTENCES:
            raise ParseError("no text in the document")
        return FullText(source=source, sections=sections, truncated=self.truncated)


# -- HTML ----------------------------------------------------------------------------------------


def parse_html(body: bytes) -> FullText:
    """The sections of an arXiv HTML (LaTeXML) page, or of any HTML with headings and paragraphs."""
    from selectolax.lexbor import LexborHTMLParser

    try:
        tree = LexborHTMLParser(body.decode("utf-8", errors="replace"))
    except Exception as exc:  # the parser's own errors are not a documented type
        raise ParseError(f"unreadable HTML ({type(exc).__name__})") from exc
    root = tree.css_first("article") or tree.body
    if root is None:
        raise ParseError("no body in the HTML")
    for node in root.css(_DROP):
        node.decompose()
    for math in root.css("math"):
        alt = _SPACE.sub(" ", math.attributes.get("alttext") or "").strip()
        if alt and len(alt) <= MAX_INLINE_MATH:
            math.replace_with(alt)
        else:
            math.decompose()
    # Footnotes leave a marker in their sentence and are read after their paragraph.
    notes: list[str] = []
    for note in root.css(".ltx_note"):
        content = note.css_first(".ltx_note_content") or note
        notes.append(content.text(separator=" "))
        note.replace_with(f" \x00{len(notes) - 1}\x00 ")
    builder = _Builder([])
    skipping = False
    for node in root.css(_BLOCKS):
        tag = node.tag or ""
        if tag.startswith("h") and len(tag) == 2:
            text = _SPACE.sub(" ", node.text(separator=" ")).strip()
            if text:
                skipping = bool(_REFERENCES.match(text))
                if not skipping:
                    builder.heading(_NOTE.sub("", text).strip())
            continue
        if skipping or _inside(node, ("figcaption", "h1", "h2", "h3", "h4", "h5", "h6")):
            continue
        text = node.text(separator="")
        builder.paragraph(_NOTE.sub("", text))
        for index in _NOTE.findall(text):
            builder.paragraph(notes[int(index)])
    return builder.result("html")


def _inside(node: Node, tags: tuple[str, ...]) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.tag in tags:
            return True
        parent = parent.parent
    return False


# -- PDF -----------------------------------------------------------------------------------------

# A section heading on a line of its own: "1 Introduction", "4.2 Training details", "A Hyper-parameters",
# "Appendix B Proofs", or an unnumbered "Abstract" / "Conclusion" / "Limitations".
_NUMBERED = re.compile(
    r"^(?:Appendix\s+)?(?:\d{1,2}(?:\.\d{1,2}){0,2}|[A-H](?:\.\d{1,2}){0,2})\.?\s+[A-Z][^.!?]{1,70}$"
)
_UNNUMBERED = re.compile(
    r"^(?:abstract|introduction|related work|background|method|methods|experiments|results|discussion|conclusions?|"
    r"limitations|broader impacts?|references|bibliography|acknowledge?ments?|appendix)$",
    re.IGNORECASE,
)
_HYPHEN_BREAK = re.compile(r"(\w)-\n(\w)")


def _is_heading(line: str) -> bool:
    words = line.split()
    if not words or len(words) > 10 or line.endswith((",", ";", ":")):
        return False
    return bool(_NUMBERED.match(line) or _UNNUMBERED.match(line))


def parse_pdf(body: bytes) -> FullText:
    """The sections of a PDF with a text layer (headings found by their numbering and line shape)."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(body), strict=False)
        pages = []
        for page in reader.pages[:MAX_PDF_PAGES]:
            pages.append(page.extract_text() or "")
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError) as exc:
        raise ParseError(f"unreadable PDF ({type(exc).__name__})") from exc
    if sum(len(p.strip()) for p in pages) < 200:
        raise ParseError("the PDF has no text layer")
    # Running headers and footers: the same line on several pages.
    seen = Counter(line.strip() for page in pages for line in set(page.splitlines()) if line.strip())
    repeated = {line for line, n in seen.items() if n >= min(3, len(pages)) and len(pages) >= 2}
    builder = _Builder([])
    started = skipping = False
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph and started and not skipping:
            builder.paragraph(_HYPHEN_BREAK.sub(r"\1\2", "\n".join(paragraph)).replace("\n", " "))
        paragraph.clear()

    for page in pages:
        for raw in page.splitlines():
            line = raw.strip()
            if not line:
                flush()
                continue
            if line in repeated or line.isdigit():
                continue
            if _is_heading(line):
                flush()
                skipping = bool(_REFERENCES.match(line))
                if not skipping:
                    started = True
                    builder.heading(line)
                continue
            paragraph.append(line)
            if line.endswith((".", "!", "?")) and len(line) < 60:
                flush()  # a short line ending a sentence closes its paragraph
    flush()
    return builder.result("pdf")
