"""Pure parts of the feed: day ranges, Retry-After parsing, item mapping, report text."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime

import pytest

from retrieval.sources.feed import MAX_DAYS, DayResult, FetchReport, days_between
from retrieval.sources.feed_client import FeedConfig, backoff_delay, parse_item, retry_after_seconds
from tests.retrieval.sources.feed_support import api_item

DAY = date(2026, 11, 20)


def test_days_between_is_inclusive():
    assert days_between(date(2026, 11, 29), date(2026, 12, 2)) == [
        date(2026, 11, 29),
        date(2026, 11, 30),
        date(2026, 12, 1),
        date(2026, 12, 2),
    ]
    assert days_between(DAY, DAY) == [DAY]


def test_days_between_rejects_reversed_and_huge_ranges():
    with pytest.raises(ValueError, match="after"):
        days_between(date(2026, 11, 21), DAY)
    with pytest.raises(ValueError, match="at most"):
        days_between(DAY - timedelta(days=MAX_DAYS), DAY)
    assert len(days_between(DAY - timedelta(days=MAX_DAYS - 1), DAY)) == MAX_DAYS


def test_retry_after_accepts_seconds_and_http_dates():
    now = datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30.0
    assert retry_after_seconds(format_datetime(now - timedelta(seconds=30), usegmt=True), now) == 0.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("-5") is None


def test_backoff_is_jittered_exponential_and_capped():
    cfg = FeedConfig(base_url="http://x", backoff_base=1.0, backoff_max=4.0)
    for attempt, ceiling in [(0, 1.0), (1, 2.0), (2, 4.0), (5, 4.0)]:
        delays = [backoff_delay(attempt, cfg) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1


def test_parse_item_tolerates_optional_field_noise():
    item = api_item("2611.01234", "T")
    item["paper"].update(upvotes="many", githubRepo="not a url", projectPage=None, publishedAt="garbage")
    item["paper"]["authors"] = [{"name": "A"}, {"name": ""}, "bad", {"x": 1}]
    paper = parse_item(item, DAY)
    assert paper.upvotes is None and paper.github is None and paper.project_page is None
    assert paper.published == date(2026, 11, 20)  # falls back to the item's publishedAt
    assert paper.authors == ("A",) and paper.listed_on == DAY


def test_parse_item_keeps_non_arxiv_ids_as_ext_id_only():
    paper = parse_item(api_item("not-an-arxiv-id", "T"), DAY)
    assert paper.ext_id == "not-an-arxiv-id" and paper.arxiv_id is None


@pytest.mark.parametrize("field", ["id", "title", "summary"])
def test_parse_item_rejects_missing_required_fields(field):
    item = api_item("2611.01234", "T")
    item["paper"][field] = "   "
    with pytest.raises(ValueError, match=field if field != "summary" else "summary"):
        parse_item(item, DAY)


def test_feed_config_rejects_nonsense():
    with pytest.raises(ValueError):
        FeedConfig(base_url="http://x", retries=-1)
    with pytest.raises(ValueError):
        FeedConfig(base_url="http://x", read_timeout=0)


def test_report_summary_lines_and_ok():
    results = [
        DayResult(DAY, new=48, updated=2, skipped=1),
        DayResult(date(2026, 11, 21), error="HTTP 503 after 4 tries"),
        DayResult(date(2026, 11, 22), new=0, unchanged=5),
    ]
    report = FetchReport(
        days=[r.day for r in results],
        new=48,
        updated=2,
        skipped=1,
        failed=[(date(2026, 11, 21), "HTTP 503 after 4 tries")],
        unchanged=5,
        per_day=results,
    )
    assert report.summary().splitlines() == [
        "2026-11-20: 48 new, 2 updated, 1 skipped",
        "2026-11-21: failed (HTTP 503 after 4 tries)",
        "2026-11-22: 0 new, 0 updated, 0 skipped, 5 unchanged",
        "total: 3 day(s), 48 new, 2 updated, 1 skipped, 5 unchanged, 1 failed",
    ]
    assert not report.ok and not report.all_failed
    assert FetchReport(days=[DAY], new=0, updated=0, skipped=0, failed=[]).ok
