"""The live feed: pull the Hugging Face daily papers for some days into the library.

Each day is fetched completely (every page) before anything is written, then upserted through
``library.add_papers``: papers commit with their vectors, 128 per transaction, so a day whose
storing fails keeps whole chunks, and the next run fetches it again and embeds only what is
missing. A day whose fetch fails writes nothing. Network, HTTP and JSON faults never raise: they
are reported per day in :class:`FetchReport`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from retrieval.models import Paper
from retrieval.sources.feed_client import FeedClient, FeedConfig, FeedError

if TYPE_CHECKING:
    from retrieval.ingest import IngestReport

log = logging.getLogger(__name__)

# A --since far in the past is almost always a typo; bound the number of requests.
MAX_DAYS = 366
FUTURE_REASON = "date is in the future"


class PaperSink(Protocol):
    """What the feed needs from the library (``retrieval.library.Library`` satisfies it)."""

    def add_papers(self, papers: Sequence[Paper]) -> IngestReport:
        """Upsert papers with their vectors (committed in chunks) and index them."""
        ...


@dataclass(frozen=True)
class DayResult:
    """What happened to one day: counts, or the reason it failed."""

    day: date
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    error: str | None = None

    def line(self) -> str:
        """``2026-11-20: 48 new, 2 updated, 1 skipped`` or ``2026-11-21: failed (reason)``."""
        if self.error is not None:
            return f"{self.day.isoformat()}: failed ({self.error})"
        text = f"{self.day.isoformat()}: {self.new} new, {self.updated} updated, {self.skipped} skipped"
        return text + (f", {self.unchanged} unchanged" if self.unchanged else "")


@dataclass
class FetchReport:
    """The outcome of :func:`fetch_days`: totals over the days, failures with reasons, per-day detail."""

    days: list[date]
    new: int
    updated: int
    skipped: int
    failed: list[tuple[date, str]]  # (day, reason)
    unchanged: int = 0
    per_day: list[DayResult] = field(default_factory=list)

    def summary(self) -> str:
        """One line per day, then a totals line."""
        lines = [result.line() for result in self.per_day]
        total = f"total: {len(self.days)} day(s), {self.new} new, {self.updated} updated, {self.skipped} skipped"
        if self.unchanged:
            total += f", {self.unchanged} unchanged"
        lines.append(total + f", {len(self.failed)} failed")
        return "\n".join(lines)

    @property
    def ok(self) -> bool:
        """True when no day failed."""
        return not self.failed

    @property
    def all_failed(self) -> bool:
        """True when there were days and every one failed (the CLI exits 1)."""
        return bool(self.days) and len(self.failed) == len(self.days)


def days_between(since: date, until: date) -> list[date]:
    """Every day from ``since`` to ``until``, both included; at most :data:`MAX_DAYS` days."""
    if not isinstance(since, date) or not isinstance(until, date):
        raise TypeError("since and until must be dates")
    if since > until:
        raise ValueError(f"since ({since}) is after until ({until})")
    count = (until - since).days + 1
    if count > MAX_DAYS:
        raise ValueError(f"{count} days from {since} to {until}; at most {MAX_DAYS} at a time")
    return [since + timedelta(days=offset) for offset in range(count)]


def utc_today() -> date:
    """Today's date in UTC (the feed's calendar)."""
    return datetime.now(UTC).date()


def _config(base_url: str | None, timeout: float | None, retries: int | None, config: FeedConfig | None) -> FeedConfig:
    cfg = config or FeedConfig()
    if base_url:
        cfg = replace(cfg, base_url=base_url.rstrip("/"))
    if timeout is not None:
        cfg = replace(cfg, connect_timeout=timeout, read_timeout=timeout)
    if retries is not None:
        cfg = replace(cfg, retries=retries)
    return cfg


async def _ingest(library: PaperSink, client: FeedClient, day: date) -> DayResult:
    try:
        listing = await client.fetch_day(day)
    except FeedError as exc:
        log.warning("%s: fetch failed: %s", day, exc.reason)
        return DayResult(day, error=exc.reason)
    if not listing.papers:
        return DayResult(day, skipped=listing.skipped)
    try:
        # The store and the embedder block: off the event loop.
        upsert = await asyncio.to_thread(library.add_papers, listing.papers)
    except Exception as exc:  # a storage/index fault fails this day only, and is reported
        log.exception("%s: storing %d papers failed", day, len(listing.papers))
        return DayResult(day, skipped=listing.skipped, error=f"could not store papers: {exc}")
    return DayResult(
        day,
        new=len(upsert.new),
        updated=len(set(upsert.updated) - set(upsert.new)),
        unchanged=upsert.unchanged,
        skipped=listing.skipped,
    )


async def fetch_days(
    library: PaperSink,
    days: Sequence[date],
    *,
    base_url: str | None = None,
    timeout: float | None = None,
    retries: int | None = None,
    config: FeedConfig | None = None,
) -> FetchReport:
    """Fetch the daily papers for each day and upsert them into ``library`` (see the module doc).

    ``base_url`` defaults to ``$PAPERBOT_HF_BASE`` (else https://huggingface.co); ``timeout``
    sets the connect and read timeouts in seconds; ``retries`` bounds retries per request;
    ``config`` sets everything else (backoff, page size). Days in the future are not
    requested and are reported as failed. Never raises for network, HTTP or JSON faults.
    """
    cfg = _config(base_url, timeout, retries, config)
    wanted = list(dict.fromkeys(days))  # each day once, in the order asked
    today = utc_today()
    results: list[DayResult] = []
    async with FeedClient(cfg) as client:
        for day in wanted:
            if day > today:
                log.warning("%s: not fetched: %s (today is %s UTC)", day, FUTURE_REASON, today)
                results.append(DayResult(day, error=FUTURE_REASON))
                continue
            results.append(await _ingest(library, client, day))
    report = FetchReport(
        days=wanted,
        new=sum(r.new for r in results),
        updated=sum(r.updated for r in results),
        skipped=sum(r.skipped for r in results),
        failed=[(r.day, r.error) for r in results if r.error is not None],
        unchanged=sum(r.unchanged for r in results),
        per_day=results,
    )
    log.info("feed: %s", report.summary().replace("\n", "; "))
    return report
