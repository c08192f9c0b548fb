"""Full-text documents built from a paper spec: an arXiv-shaped (LaTeXML) HTML page and a PDF.

A spec (``tests/data/fulltext/papers.json``) is a paper's arXiv id, title, abstract and sections,
each with a heading as printed ("4.1 Experimental Setup"), paragraphs, and optionally a display
equation, a table caption and a footnote. The HTML carries what arXiv's pages carry around the
text (navigation, author block, MathML, citations, a bibliography, footer), so the parser is
tested on what it must drop too. The PDF (fpdf2, a dev dependency) has a title block, running
header and page numbers. Used by the tests and by ``paperbot eval --fulltext``.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

from retrieval.models import Paper

SPECS = Path(__file__).resolve().parent.parent / "tests" / "data" / "fulltext" / "papers.json"


def load_specs(path: Path = SPECS) -> list[dict[str, Any]]:
    """The paper specs of the full-text dev set."""
    return list(json.loads(path.read_text(encoding="utf-8")))


def spec_paper(spec: dict[str, Any]) -> Paper:
    """The library record of a spec'd paper (its abstract; the full text is served separately)."""
    return Paper(
        title=spec["title"],
        abstract=spec["abstract"],
        ext_id=spec["arxiv_id"],
        arxiv_id=spec["arxiv_id"],
        authors=("Ada Lovelace", "Alan Turing"),
        source="test",
    )


def _tag(heading: str) -> tuple[str, str, int]:
    """("4.1", "Experimental Setup", level) of a printed heading."""
    match = re.match(r"^((?:Appendix\s+)?(?:\d+(?:\.\d+)*|[A-Z](?=\s)))\s+(.*)$", heading)
    if not match:
        return "", heading, 2
    tag = match.group(1)
    return tag, match.group(2), 2 + tag.count(".")


def _paragraph(text: str) -> str:
    # Inline math is written as <math alttext=…> in the spec; citations and emphasis as LaTeXML has them.
    body = text if "<math" in text else html.escape(text)
    cite = '<cite class="ltx_cite ltx_citemacro_citep">[<a class="ltx_ref" href="#bib.bib1">1</a>]</cite>'
    if body.endswith("."):  # the citation closes the paragraph's last sentence, before its period
        body = f"{body[:-1]} {cite}."
    return f'<div class="ltx_para"><p class="ltx_p">{body}</p></div>'


def build_html(spec: dict[str, Any]) -> bytes:
    """A LaTeXML-shaped HTML page of the paper, with the chrome arXiv puts around it."""
    out = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>"
        + html.escape(spec["title"])
        + "</title><script>var x = 'not text';</script><style>.ltx_p{margin:0}</style></head><body>",
        '<header class="desktop_header"><a href="/">arXiv</a> <nav>Back to abstract · Download PDF</nav></header>',
        '<div class="ltx_page_main"><div class="ltx_page_content"><article class="ltx_document ltx_authors_1line">',
        f'<h1 class="ltx_title ltx_title_document">{html.escape(spec["title"])}</h1>',
        '<div class="ltx_authors"><span class="ltx_creator ltx_role_author">Ada Lovelace · Alan Turing</span></div>',
        '<div class="ltx_abstract"><h6 class="ltx_title ltx_title_abstract">Abstract</h6>'
        f'<p class="ltx_p">{html.escape(spec["abstract"])}</p></div>',
    ]
    depth = 0
    for number, section in enumerate(spec["sections"], start=1):
        tag, title, level = _tag(section["heading"])
        while depth >= level - 1 and depth > 0:
            out.append("</section>")
            depth -= 1
        bib = title.lower() in ("references", "bibliography")
        kind = "ltx_bibliography" if bib else ("ltx_appendix" if tag.startswith("Appendix") else "ltx_section")
        out.append(f'<section id="S{number}" class="{kind}">')
        depth += 1
        tag_html = f'<span class="ltx_tag ltx_tag_section">{html.escape(tag)} </span>' if tag else ""
        out.append(f'<h{level} class="ltx_title ltx_title_section">{tag_html}{html.escape(title)}</h{level}>')
        if bib:
            out.append('<ul class="ltx_biblist">')
            out.extend(
                f'<li class="ltx_bibitem"><span class="ltx_bibblock">{html.escape(p)}</span></li>'
                for p in section["paragraphs"]
            )
            out.append("</ul>")
            continue
        for i, paragraph in enumerate(section["paragraphs"]):
            if i == 0 and section.get("footnote"):
                note = html.escape(section["footnote"])
                paragraph += (
                    '<span class="ltx_note ltx_role_footnote"><sup class="ltx_note_mark">1</sup>'
                    f'<span class="ltx_note_outer"><span class="ltx_note_content">{note}</span></span></span>'
                )
                out.append(f'<div class="ltx_para"><p class="ltx_p">{paragraph}</p></div>')
                continue
            out.append(_paragraph(paragraph))
        if section.get("equation"):
            out.append(
                '<table class="ltx_equation ltx_eqn_table"><tr><td><math alttext="'
                + html.escape(section["equation"])
                + '" display="block"><mi>P</mi><mo>=</mo><mi>u</mi></math></td></tr></table>'
            )
        if section.get("table"):
            out.append(
                '<figure class="ltx_table"><figcaption class="ltx_caption">'
                + html.escape(section["table"])
                + '</figcaption><table class="ltx_tabular"><tr><td>Method</td><td>10.2</td><td>10.1</td></tr></table></figure>'
            )
    out.extend("</section>" for _ in range(depth))
    out.append(
        '</article></div></div><footer class="ltx_page_footer">Generated by LaTeXML · Report an issue</footer></body></html>'
    )
    return "".join(out).encode("utf-8")


def _latin1(text: str) -> str:
    text = re.sub(r"<math[^>]*alttext=\"([^\"]*)\"[^>]*>.*?</math>", lambda m: html.unescape(m.group(1)), text)
    return text.replace("\\", "").encode("latin-1", errors="replace").decode("latin-1")


def build_pdf(spec: dict[str, Any], text_layer: bool = True) -> bytes:
    """A PDF of the paper (title block, running header, page numbers); without a text layer, an image-only page."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=18)
    if not text_layer:
        pdf.add_page()
        pdf.set_fill_color(30, 30, 30)
        for row in range(40):
            pdf.rect(20, 20 + row * 6, 170, 3, style="F")  # "scanned" lines: drawn, not text
        return bytes(pdf.output())
    title = _latin1(spec["title"])

    class Paper(FPDF):
        def header(self) -> None:
            self.set_font("Helvetica", size=8)
            self.cell(0, 6, "Preprint. Under review.", align="C", new_x="LMARGIN", new_y="NEXT")
            self.ln(2)

        def footer(self) -> None:
            self.set_y(-12)
            self.set_font("Helvetica", size=8)
            self.cell(0, 6, str(self.page_no()), align="C")

    pdf = Paper(format="A4")
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.multi_cell(0, 7, title, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    pdf.multi_cell(
        0, 6, "Ada Lovelace    Alan Turing\nUniversity of Examples", align="C", new_x="LMARGIN", new_y="NEXT"
    )
    pdf.ln(4)
    sections = [{"heading": "Abstract", "paragraphs": [spec["abstract"]]}, *spec["sections"]]
    for section in sections:
        pdf.set_font("Helvetica", "B", 11)
        pdf.ln(2)
        pdf.multi_cell(0, 6, _latin1(section["heading"]), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)
        pdf.set_font("Helvetica", size=10)
        paragraphs = list(section["paragraphs"])
        if section.get("footnote"):
            paragraphs.append(section["footnote"])
        if section.get("table"):
            paragraphs.append(section["table"])
        for paragraph in paragraphs:
            pdf.multi_cell(0, 5, _latin1(paragraph), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
    return bytes(pdf.output())


class DocumentServer:
    """A local arXiv look-alike on a background thread: ``/html/<id>`` and ``/pdf/<id>`` of the specs.

    ``html=False`` serves no HTML (404), so every paper falls back to its PDF; ``pdf=False`` no PDF.
    """

    def __init__(self, specs: list[dict[str, Any]], html: bool = True, pdf: bool = True) -> None:
        import asyncio
        import threading

        self.specs = {spec["arxiv_id"]: spec for spec in specs}
        self.html = html
        self.pdf = pdf
        self.requests: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def _run(self) -> None:
        import asyncio

        from aiohttp import web

        async def handle(request: web.Request) -> web.StreamResponse:
            kind, paper_id = request.match_info["kind"], request.match_info["id"]
            self.requests.append(f"{kind}/{paper_id}")
            spec = self.specs.get(paper_id)
            if spec is None or (kind == "html" and not self.html) or (kind == "pdf" and not self.pdf):
                return web.Response(status=404, text="Not found")
            if kind == "html":
                return web.Response(body=build_html(spec), content_type="text/html")
            return web.Response(body=build_pdf(spec), content_type="application/pdf")

        async def start() -> None:
            app = web.Application()
            app.router.add_get("/{kind:html|pdf}/{id}", handle)
            self._runner = web.AppRunner(app)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            port = self._runner.addresses[0][1]
            self.base_url = f"http://127.0.0.1:{port}"
            self._ready.set()

        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(start())
        self._loop.run_forever()

    def close(self) -> None:
        """Stop the server and its thread."""
        import asyncio

        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
