"""The live feed against a real HTTP server on 127.0.0.1: mapping, pagination, dedupe, malformed data, atomicity."""

from __future__ import annotations

import json
import logging
from datetime import date, timedelta

import pytest
from aiohttp import web

from retrieval.models import Paper
from retrieval.settings import Settings
from retrieval.sources.feed import FUTURE_REASON, fetch_days, utc_today
from retrieval.text import title_slug
from tests.retrieval.sources.feed_support import api_item, fast_config, listing

DAY1 = date(2026, 11, 20)


DAY2 = date(2026, 11, 21)


# -- happy paths -----------------------------------------------------------------------------


async def test_happy_path_maps_documented_fields(serve, sink):
    item = api_item(
        "2611.01234",
        "Sparse  Mixture of\n Experts for Tiny Devices",
        "We  present\n a sparse mixture.   It runs on phones.",
        upvotes=42,
        github="https://github.com/org/repo",
        project="https://org.github.io/proj",
    )
    handler, calls = listing({DAY1.isoformat(): [item, api_item("2611.05678", "Another Paper")]})
    base = await serve(handler)
    report = await fetch_days(sink, [DAY1], config=fast_config(base))

    assert report.ok and (report.new, report.updated, report.skipped) == (2, 0, 0)
    assert calls[0]["date"] == "2026-11-20" and calls[0]["p"] == "0" and int(calls[0]["limit"]) > 0
    paper = sink.store.get_by_ext_id("2611.01234")
    assert paper is not None
    assert paper.arxiv_id == paper.ext_id == "2611.01234"
    assert paper.title == "Sparse Mixture of Experts for Tiny Devices"
    assert paper.abstract == "We present a sparse mixture. It runs on phones."
    assert paper.authors == ("Ada Lovelace", "Alan Turing")
    assert paper.published == date(2026, 11, 19)
    assert paper.upvotes == 42
    assert paper.github == "https://github.com/org/repo"
    assert paper.project_page == "https://org.github.io/proj"
    assert paper.source == "hf-daily"
    assert sink.days_of("2611.01234") == [DAY1]
    assert report.summary().splitlines()[0] == "2026-11-20: 2 new, 0 updated, 0 skipped"


async def test_pagination_fetches_pages_until_a_short_page(serve, sink):
    items = [api_item(f"2611.{i:05d}", f"Paper number {i}") for i in range(7)]
    handler, calls = listing({DAY1.isoformat(): items})
    base = await serve(handler)
    report = await fetch_days(sink, [DAY1], config=fast_config(base, page_size=3))
    assert report.new == 7 and sink.store.count() == 7
    assert [c["p"] for c in calls] == ["0", "1", "2"]


async def test_pagination_stops_when_server_ignores_page_param(serve, sink):
    items = [api_item(f"2611.{i:05d}", f"Paper number {i}") for i in range(3)]

    async def same_page(request: web.Request) -> web.Response:
        return web.json_response(items)

    base = await serve(same_page)
    report = await fetch_days(sink, [DAY1], config=fast_config(base, page_size=3))
    assert report.ok and report.new == 3


async def test_large_page_is_read_whole(serve, sink):
    long_abstract = "We scale sparse experts to long documents. " * 60  # ~2.6 kB each, ~300 kB page
    items = [api_item(f"2611.{i:05d}", f"Long paper {i}", long_abstract) for i in range(100)]
    handler, _ = listing({DAY1.isoformat(): items})
    base = await serve(handler)
    report = await fetch_days(sink, [DAY1], config=fast_config(base))
    assert report.ok and report.new == 100


async def test_oversized_response_fails_the_day(serve, sink):
    handler, _ = listing({DAY1.isoformat(): [api_item(f"2611.{i:05d}", f"P {i}") for i in range(20)]})
    base = await serve(handler)
    report = await fetch_days(sink, [DAY1], config=fast_config(base, max_body_bytes=2000))
    assert report.all_failed and "larger than 2000" in report.failed[0][1]
    assert sink.store.count() == 0


async def test_duplicate_items_in_a_listing_are_stored_once(serve, sink):
    item = api_item("2611.12121", "Listed Twice On One Page")
    handler, _ = listing({DAY1.isoformat(): [item, item, api_item("2611.13131", "Other")]})
    base = await serve(handler)
    report = await fetch_days(sink, [DAY1], config=fast_config(base))
    assert report.ok and (report.new, report.updated, report.skipped) == (2, 0, 0)
    assert sink.store.count() == 2


async def test_same_paper_on_two_days_is_one_record_with_both_days(serve, sink):
    item = api_item("2611.11111", "A Paper Listed Twice")
    handler, _ = listing({DAY1.isoformat(): [item], DAY2.isoformat(): [item]})
    base = await serve(handler)
    report = await fetch_days(sink, [DAY1, DAY2], config=fast_config(base))
    assert report.ok and report.new == 1
    assert sink.store.count() == 1
    assert sink.days_of("2611.11111") == [DAY1, DAY2]
    assert [p.ext_id for p in sink.store.papers_on(DAY2)] == ["2611.11111"]


async def test_title_match_attaches_arxiv_id_to_stored_paper(serve, sink):
    bundled = Paper(
        title="Diffusion Models Beat GANs, Again!",
        abstract="A bundled abstract from a saved page.",
        ext_id=title_slug("Diffusion Models Beat GANs, Again!"),
        source="hf-page",
        upvotes=3,
    )
    sink.add_papers([bundled])
    handler, _ = listing({DAY1.isoformat(): [api_item("2611.22222", "diffusion models beat GANs again", upvotes=9)]})
    base = await serve(handler)
    report = await fetch_days(sink, [DAY1], config=fast_config(base))

    assert (report.new, report.updated) == (0, 1)
    assert sink.store.count() == 1
    paper = sink.store.get_by_ext_id("2611.22222")
    assert paper is not None and paper.arxiv_id == "2611.22222"
    assert paper.title == "Diffusion Models Beat GANs, Again!"  # a title match keeps the stored text
    assert paper.upvotes == 9
    assert sink.days_of("2611.22222") == [DAY1]


async def test_refetch_refreshes_upvotes_and_reports_update(serve, sink):
    votes = {"n": 5}

    async def handler(request: web.Request) -> web.Response:
        return web.json_response([api_item("2611.33333", "Upvoted Paper", upvotes=votes["n"])])

    base = await serve(handler)
    first = await fetch_days(sink, [DAY1], config=fast_config(base))
    again = await fetch_days(sink, [DAY1], config=fast_config(base))
    votes["n"] = 50
    third = await fetch_days(sink, [DAY1], config=fast_config(base))

    assert (first.new, again.new, again.updated, again.unchanged) == (1, 0, 0, 1)
    assert (third.new, third.updated) == (0, 1)
    assert sink.store.get_by_ext_id("2611.33333").upvotes == 50
    assert sink.store.count() == 1


async def test_empty_day_is_fine(serve, sink):
    handler, _ = listing({})
    base = await serve(handler)
    report = await fetch_days(sink, [DAY1], config=fast_config(base))
    assert report.ok and (report.new, report.updated, report.skipped) == (0, 0, 0)
    assert report.summary().splitlines()[0] == "2026-11-20: 0 new, 0 updated, 0 skipped"


async def test_future_date_is_not_requested_and_reported(serve, sink):
    handler, calls = listing({})
    base = await serve(handler)
    future = utc_today() + timedelta(days=2)
    report = await fetch_days(sink, [DAY1, future], config=fast_config(base))
    assert [c["date"] for c in calls] == [DAY1.isoformat()]
    assert report.failed == [(future, FUTURE_REASON)]
    assert not report.ok and not report.all_failed
    assert f"{future.isoformat()}: failed (date is in the future)" in report.summary()


async def test_base_url_comes_from_the_settings(serve, sink):
    handler, calls = listing({DAY1.isoformat(): [api_item("2611.44444", "Env Paper")]})
    settings = Settings.from_env({"PAPERBOT_HF_BASE": await serve(handler)}, dotenv=False)
    report = await fetch_days(sink, [DAY1], base_url=settings.hf_base, timeout=2.0, retries=0)
    assert report.ok and report.new == 1 and len(calls) == 1


# -- malformed data --------------------------------------------------------------------------


async def test_malformed_items_are_skipped_with_their_position(serve, sink, caplog):
    good = api_item("2611.55555", "Good Paper")
    no_title = api_item("2611.66666", "x")
    del no_title["paper"]["title"]
    items = [good, "not an object", no_title, {"numComments": 1}, api_item("2611.77777", "Also Good")]
    handler, _ = listing({DAY1.isoformat(): items})
    base = await serve(handler)
    with caplog.at_level(logging.WARNING, logger="retrieval.sources.feed_client"):
        report = await fetch_days(sink, [DAY1], config=fast_config(base))

    assert report.ok and (report.new, report.skipped) == (2, 3)
    warned = [r.getMessage() for r in caplog.records if "malformed item" in r.getMessage()]
    assert len(warned) == 3
    assert "position 1 " in warned[0] and "position 2 " in warned[1] and "missing title" in warned[1]
    assert "position 3 " in warned[2] and "'paper'" in warned[2]
    assert report.summary().splitlines()[0] == "2026-11-20: 2 new, 0 updated, 3 skipped"


@pytest.mark.parametrize(
    ("body", "reason"),
    [(b"{not json", "malformed JSON"), (b'{"error": "nope"}', "expected a list"), (b"\xff\xfe", "malformed JSON")],
)
async def test_malformed_json_fails_the_day_and_writes_nothing(serve, sink, body, reason):
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    base = await serve(handler)
    report = await fetch_days(sink, [DAY1], config=fast_config(base))
    assert not report.ok and report.all_failed
    assert report.failed[0][0] == DAY1 and reason in report.failed[0][1]
    assert sink.store.count() == 0


# -- atomicity -------------------------------------------------------------------------------


async def test_failed_fetch_leaves_store_unchanged_and_rerun_completes(serve, sink):
    day1 = [api_item("2611.30001", "Stored Before", upvotes=1)]
    day2 = [api_item("2611.30001", "Stored Before", upvotes=99)] + [
        api_item(f"2611.3{i:04d}", f"Day two paper {i}") for i in range(2, 6)
    ]
    broken = {"on": True}
    handler, _ = listing({DAY1.isoformat(): day1, DAY2.isoformat(): day2})

    async def flaky(request: web.Request) -> web.StreamResponse:
        # Page 0 of day 2 is fine; page 1 fails: the day must not be half written.
        if broken["on"] and request.query["date"] == DAY2.isoformat() and request.query["p"] == "1":
            return web.Response(status=503)
        return await handler(request)

    base = await serve(flaky)
    cfg = fast_config(base, page_size=3, retries=1)
    assert (await fetch_days(sink, [DAY1], config=cfg)).new == 1
    before = sink.snapshot()

    failed = await fetch_days(sink, [DAY2], config=cfg)
    assert failed.failed == [(DAY2, "HTTP 503 after 2 tries")] and failed.new == 0
    assert sink.snapshot() == before
    assert sink.store.get_by_ext_id("2611.30001").upvotes == 1

    broken["on"] = False
    again = await fetch_days(sink, [DAY1, DAY2], config=cfg)
    assert again.ok and (again.new, again.updated) == (4, 1)
    assert sink.store.count() == 5
    assert sink.days_of("2611.30001") == [DAY1, DAY2]
    assert sink.store.get_by_ext_id("2611.30001").upvotes == 99


async def test_one_failing_day_does_not_stop_the_others(serve, sink):
    handler, _ = listing({DAY1.isoformat(): [api_item("2611.40001", "Day One")], "2026-11-22": []})

    async def day2_broken(request: web.Request) -> web.StreamResponse:
        if request.query["date"] == DAY2.isoformat():
            return web.Response(body=b"<html>oops</html>", content_type="text/html")
        return await handler(request)

    base = await serve(day2_broken)
    report = await fetch_days(sink, [DAY1, DAY2, date(2026, 11, 22)], config=fast_config(base))
    assert [d for d, _ in report.failed] == [DAY2] and report.new == 1
    lines = report.summary().splitlines()
    assert lines[1].startswith("2026-11-21: failed (malformed JSON")
    assert lines[-1] == "total: 3 day(s), 1 new, 0 updated, 0 skipped, 1 failed"


async def test_storage_failure_is_reported_not_raised(serve, sink):
    handler, _ = listing({DAY1.isoformat(): [api_item("2611.50001", "Unstorable")]})
    base = await serve(handler)
    sink.db.close()  # any write now fails inside add_papers
    report = await fetch_days(sink, [DAY1], config=fast_config(base))
    assert report.all_failed and report.failed[0][1].startswith("could not store papers")


def test_api_item_helper_is_json_serialisable():
    assert json.loads(json.dumps(api_item("2611.00001", "T")))["paper"]["id"] == "2611.00001"
