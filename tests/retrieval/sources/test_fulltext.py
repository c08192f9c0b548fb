"""Full texts: parsing arXiv-shaped HTML and PDFs the tests build, and fetching them from a real local server."""

from __future__ import annotations

import asyncio
import resource
import time

import pytest
from aiohttp import web

from bench.fulltext_docs import build_html, build_pdf, load_specs
from retrieval.sources import fulltext_parse
from retrieval.sources.fulltext import FullTextConfig, FullTextUnavailable, HostThrottle, fetch_fulltext
from retrieval.sources.fulltext_parse import ParseError, parse_html, parse_pdf
from tests.retrieval.sources.feed_support import fast_config

SPEC = load_specs()[0]
PATH = "/{kind:html|pdf}/{id}"


def fast(base: str, **feed: object) -> FullTextConfig:
    """No rate limit, tiny timeouts and backoff, and the feed's body cap unless overridden."""
    feed.setdefault("max_body_bytes", 1024 * 1024)
    return FullTextConfig(base_url=base, min_interval=0.0, feed=fast_config(base, **feed))


def headings(text) -> list[str]:
    return [s.heading for s in text.sections]


def all_text(text) -> str:
    return " ".join(sentence for _, sentence in text.sentences())


# -- parsing ---------------------------------------------------------------------------------------


def test_html_keeps_sections_with_their_headings_and_drops_references_math_and_chrome():
    text = parse_html(build_html(SPEC))
    assert text.source == "html"
    assert headings(text) == [
        "Abstract",
        "1 Introduction",
        "2 Related Work",
        "3 Method",
        "4 Experiments",
        "4.1 Experimental Setup",
        "4.2 Results",
        "5 Limitations",
        "6 Conclusion",
        "Appendix A Additional Hyper-parameters",
    ]
    body = all_text(text)
    assert "Fedus, B. Zoph" not in body  # the bibliography
    assert "diag" not in body and "var x" not in body and "LaTeXML" not in body and "Download PDF" not in body
    assert "Ada Lovelace" not in body and "10.2 10.1" not in body  # author block, table cells
    assert "The temperature \\tau=0.5 controls" in body  # short inline math kept as its TeX
    assert "Table 2: Validation perplexity" in body  # captions kept
    setup = next(s for s in text.sections if s.heading == "4.1 Experimental Setup")
    # The footnote (a code link) follows its paragraph, not glued inside a sentence.
    assert "Code and checkpoints are available at https://github.com/example/sparseroute." in setup.sentences
    assert not any("\x00" in s for s in setup.sentences)


def test_pdf_keeps_sections_drops_running_headers_page_numbers_and_references():
    text = parse_pdf(build_pdf(SPEC))
    assert text.source == "pdf"
    assert headings(text)[:3] == ["Abstract", "1 Introduction", "2 Related Work"]
    assert "4.1 Experimental Setup" in headings(text) and "References" not in headings(text)
    body = all_text(text)
    assert "Preprint" not in body and "JMLR" not in body and "University of Examples" not in body
    assert "peak learning rate of 3e-4" in body


def test_a_pdf_without_a_text_layer_and_a_truncated_pdf_are_parse_errors_not_crashes():
    with pytest.raises(ParseError, match="no text layer"):
        parse_pdf(build_pdf(SPEC, text_layer=False))
    whole = build_pdf(SPEC)
    for cut in (len(whole) // 3, 200, 0):
        with pytest.raises(ParseError):
            parse_pdf(whole[:cut])
    with pytest.raises(ParseError):
        parse_html(b"<html><body><p>Not found.</p></body></html>")


def test_a_huge_document_is_capped(monkeypatch):
    monkeypatch.setattr(fulltext_parse, "MAX_SENTENCES", 20)
    text = parse_html(build_html(SPEC))
    assert text.truncated and text.size == 20


# -- fetching ----------------------------------------------------------------------------------------


def arxiv(html: dict[str, object] | None = None, pdf: dict[str, object] | None = None, log: list | None = None):
    """A handler: ``/html/<id>`` and ``/pdf/<id>`` answer from the dicts (bytes, an int status, or a callable)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        kind, paper_id = request.match_info["kind"], request.match_info["id"]
        if log is not None:
            log.append((kind, paper_id, request.headers.get("User-Agent", ""), time.monotonic()))
        answer = ((html if kind == "html" else pdf) or {}).get(paper_id, 404)
        if callable(answer):
            return await answer(request)
        if isinstance(answer, int):
            return web.Response(status=answer, text="no")
        return web.Response(body=answer, content_type="text/html" if kind == "html" else "application/pdf")

    return handler


async def test_html_first_with_a_user_agent_naming_the_project(serve):
    log: list = []
    base = await serve(arxiv(html={"2511.00101": build_html(SPEC)}, log=log), PATH)
    text = await fetch_fulltext("2511.00101", fast(base))
    assert text.source == "html" and text.fetched_at is not None
    assert [(k, i) for k, i, _, _ in log] == [("html", "2511.00101")]
    assert "paperbot" in log[0][2]


async def test_no_html_falls_back_to_the_pdf(serve):
    log: list = []
    base = await serve(arxiv(html={"x": 404}, pdf={"2511.00101": build_pdf(SPEC)}, log=log), PATH)
    text = await fetch_fulltext("2511.00101", fast(base))
    assert text.source == "pdf" and [k for k, *_ in log] == ["html", "pdf"]


async def test_server_errors_are_retried(serve):
    calls = []

    async def flaky(request: web.Request) -> web.Response:
        calls.append(1)
        if len(calls) < 3:
            return web.Response(status=503, text="busy")
        return web.Response(body=build_html(SPEC), content_type="text/html")

    base = await serve(arxiv(html={"2511.00101": flaky}), PATH)
    assert (await fetch_fulltext("2511.00101", fast(base))).source == "html" and len(calls) == 3


async def test_neither_html_nor_pdf_is_permanent_and_says_so(serve):
    base = await serve(arxiv(), PATH)
    with pytest.raises(FullTextUnavailable) as caught:
        await fetch_fulltext("2511.00101", fast(base))
    assert caught.value.permanent and "404" in caught.value.reason


async def test_persistent_500s_and_timeouts_are_not_permanent(serve):
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.Response(text="late")

    base = await serve(arxiv(html={"1": 500}, pdf={"1": slow}), PATH)
    with pytest.raises(FullTextUnavailable) as caught:
        await fetch_fulltext("1", fast(base, retries=1))
    assert not caught.value.permanent and "HTML: HTTP 500" in caught.value.reason and "timeout" in caught.value.reason


async def test_a_pdf_without_text_layer_or_truncated_is_unavailable(serve):
    whole = build_pdf(SPEC)
    base = await serve(arxiv(pdf={"scan": build_pdf(SPEC, text_layer=False), "cut": whole[: len(whole) // 3]}), PATH)
    for paper_id, why in (("scan", "no text layer"), ("cut", "PDF")):
        with pytest.raises(FullTextUnavailable) as caught:
            await fetch_fulltext(paper_id, fast(base))
        assert caught.value.permanent and why in caught.value.reason


async def test_a_50_mb_response_is_refused_without_reading_it_into_memory(serve):
    chunk = b"%PDF" + b"0" * (1024 * 1024 - 4)

    async def huge(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()  # chunked: no Content-Length to refuse it by
        resp.content_type = "application/pdf"
        await resp.prepare(request)
        try:
            for _ in range(50):
                await resp.write(chunk)
        except ConnectionError:
            pass
        return resp

    base = await serve(arxiv(pdf={"big": huge}), PATH)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(FullTextUnavailable) as caught:
        await fetch_fulltext("big", fast(base, max_body_bytes=2 * 1024 * 1024))
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert caught.value.permanent and "larger than" in caught.value.reason and grown_mb < 40


async def test_requests_to_one_host_are_spaced_by_the_rate_limit(serve):
    log: list = []
    base = await serve(arxiv(pdf={"a": build_pdf(SPEC)}, log=log), PATH)
    config = FullTextConfig(base_url=base, min_interval=0.3, feed=fast_config(base))
    await fetch_fulltext("a", config)  # html 404, then pdf
    times = [t for *_, t in log]
    assert len(times) == 2 and times[1] - times[0] >= 0.28


def test_the_throttle_hands_out_slots_per_host():
    throttle = HostThrottle(3.0)
    assert throttle.reserve("arxiv.org") == 0.0
    assert 2.9 < throttle.reserve("arxiv.org") <= 3.0
    assert throttle.reserve("example.org") == 0.0
