"""Adding one paper by id: the accepted id/URL forms, and the API's answers over a real local server."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from retrieval.sources.paper_api import PaperLookupError, add_paper_by_ref, parse_paper_ref
from tests.retrieval.sources.feed_support import api_item, fast_config

PATH = "/api/papers/{paper_id}"


@pytest.mark.parametrize(
    "ref",
    [
        "2401.12345",
        "2401.12345v2",
        " arXiv:2401.12345 ",
        "https://arxiv.org/abs/2401.12345",
        "https://arxiv.org/abs/2401.12345v3",
        "https://arxiv.org/pdf/2401.12345",
        "https://arxiv.org/pdf/2401.12345v1.pdf",
        "http://www.arxiv.org/abs/2401.12345?context=cs",
        "https://huggingface.co/papers/2401.12345",
        "<https://huggingface.co/papers/2401.12345#community>",
        "huggingface.co/papers/2401.12345",
    ],
)
def test_every_documented_id_and_url_form_names_the_same_paper(ref):
    assert parse_paper_ref(ref) == "2401.12345"


def test_five_digit_ids_are_accepted():
    assert parse_paper_ref("2501.01234") == "2501.01234"


@pytest.mark.parametrize(
    "ref",
    ["", "   ", "hello", "2401.123", "https://example.com/abs/2401.12345", "https://arxiv.org/list/cs.CL", "x" * 400],
)
def test_anything_else_is_refused_with_the_accepted_forms(ref):
    with pytest.raises(PaperLookupError) as caught:
        parse_paper_ref(ref)
    assert "2401.12345" in str(caught.value)


def paper_object(paper_id: str, title: str) -> dict:
    return api_item(paper_id, title)["paper"]


def handler_for(papers: dict[str, object], calls: list[str]):
    async def handler(request: web.Request) -> web.StreamResponse:
        paper_id = request.match_info["paper_id"]
        calls.append(paper_id)
        if paper_id not in papers:
            return web.json_response({"error": "Not Found"}, status=404)
        return web.json_response(papers[paper_id])

    return handler


async def test_a_known_paper_is_added_and_answerable_at_once(serve, open_library):
    library = open_library()
    title = "Quokka navigation with sparse lidar maps"
    obj = paper_object("2401.12345", title)
    obj["summary"] = "We steer quokka-shaped robots through orchards using sparse lidar maps. It works at night."
    calls: list[str] = []
    base = await serve(handler_for({"2401.12345": obj}, calls), PATH)
    added = await add_paper_by_ref(library, "https://arxiv.org/abs/2401.12345v2", fast_config(base))
    assert calls == ["2401.12345"]
    assert added.outcome == "added"
    assert added.paper.title == title and added.paper.arxiv_id == "2401.12345"
    assert added.paper.authors == ("Ada Lovelace", "Alan Turing") and added.paper.upvotes == 7
    assert added.paper.listed_on is None and added.paper.source == "hf-paper"
    answer = library.ask("how do quokka robots navigate orchards?")
    assert not answer.abstained and answer.sources[0].title == title
    again = await add_paper_by_ref(library, "2401.12345", fast_config(base))
    assert again.outcome == "unchanged" and library.store.count() == 1


async def test_an_unknown_id_says_so_and_adds_nothing(serve, open_library):
    library = open_library()
    calls: list[str] = []
    base = await serve(handler_for({}, calls), PATH)
    with pytest.raises(PaperLookupError, match=r"no paper 2401\.99999"):
        await add_paper_by_ref(library, "2401.99999", fast_config(base))
    assert calls == ["2401.99999"]  # a 404 is final: not retried
    assert library.store.count() == 0


async def test_server_errors_are_retried_then_reported_and_add_nothing(serve, open_library):
    library = open_library()
    calls: list[float] = []

    async def failing(request: web.Request) -> web.Response:
        calls.append(1)
        return web.Response(status=500, text="boom")

    base = await serve(failing, PATH)
    with pytest.raises(PaperLookupError, match=r"HTTP 500 after 3 tries.*nothing was added"):
        await add_paper_by_ref(library, "2401.12345", fast_config(base, retries=2))
    assert len(calls) == 3 and library.store.count() == 0


async def test_a_500_then_success_adds_the_paper(serve, open_library):
    library = open_library()
    calls: list[int] = []

    async def flaky(request: web.Request) -> web.Response:
        calls.append(1)
        if len(calls) == 1:
            return web.Response(status=503, text="busy")
        return web.json_response(paper_object("2401.12345", "Flaky but fine"))

    base = await serve(flaky, PATH)
    added = await add_paper_by_ref(library, "2401.12345", fast_config(base))
    assert added.outcome == "added" and len(calls) == 2


async def test_a_server_that_never_answers_times_out_with_a_clear_message(serve, open_library):
    library = open_library()

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response({})

    base = await serve(slow, PATH)
    with pytest.raises(PaperLookupError, match="read timeout"):
        await add_paper_by_ref(library, "2401.12345", fast_config(base, retries=1, read_timeout=0.2))
    assert library.store.count() == 0


@pytest.mark.parametrize(
    "body,why",
    [
        (b"<html>not json</html>", "not JSON"),
        (b'{"id": "2401.12345", "title": "No summary here"}', "missing summary"),
        (b"[1, 2, 3]", "incomplete record"),
    ],
)
async def test_malformed_answers_are_reported_and_add_nothing(serve, open_library, body, why):
    library = open_library()

    async def bad(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    base = await serve(bad, PATH)
    with pytest.raises(PaperLookupError, match=why):
        await add_paper_by_ref(library, "2401.12345", fast_config(base))
    assert library.store.count() == 0


async def test_a_bad_id_never_reaches_the_server(serve, open_library):
    library = open_library()
    calls: list[str] = []
    base = await serve(handler_for({}, calls), PATH)
    with pytest.raises(PaperLookupError, match="not an arXiv id"):
        await add_paper_by_ref(library, "not-a-paper", fast_config(base))
    assert calls == [] and library.store.count() == 0
