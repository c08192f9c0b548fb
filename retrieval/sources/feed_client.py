"""HTTP client for the Hugging Face daily papers API: fetch, retry, paginate, parse.

``GET {base}/api/daily_papers?date=YYYY-MM-DD&limit=N&p=K`` returns a JSON list of items,
each with a ``paper`` object. This module turns one day's listing into :class:`Paper`
records or a :class:`FeedError` that says why it could not. It never touches the library.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp

from retrieval.links import is_arxiv_id
from retrieval.models import Paper
from retrieval.text import clean_text

log = logging.getLogger(__name__)

DEFAULT_BASE = "https://huggingface.co"
SOURCE = "hf-daily"
USER_AGENT = "paperbot/0.1 (daily papers feed)"

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class FeedConfig:
    """Knobs of the feed client; the defaults suit the public API, tests shrink the delays."""

    base_url: str = DEFAULT_BASE  # PAPERBOT_HF_BASE, passed down by the callers
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    retries: int = 3  # retries after the first try
    backoff_base: float = 1.0  # first retry waits about this long, doubling each time
    backoff_max: float = 30.0
    retry_after_cap: float = 60.0  # never sleep longer than this for a Retry-After
    page_size: int = 100
    max_pages: int = 20
    max_body_bytes: int = 16 * 1024 * 1024
    user_agent: str = USER_AGENT
    accept: str = "application/json"

    def __post_init__(self) -> None:
        if self.retries < 0 or self.page_size < 1 or self.max_pages < 1:
            raise ValueError("retries must be >= 0, page_size and max_pages >= 1")
        if min(self.connect_timeout, self.read_timeout) <= 0:
            raise ValueError("timeouts must be positive")


class FeedError(Exception):
    """A day's listing could not be fetched or understood; ``reason`` is a short human sentence."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        # The HTTP status that ended the request, when it was one (404: the API does not know the id).
        self.status = status


@dataclass
class DayListing:
    """The papers of one day as the API listed them, and how many items were unusable."""

    day: date
    papers: list[Paper]
    skipped: int = 0
    pages: int = 0


# -- parsing ---------------------------------------------------------------------------------


def _opt_str(value: Any) -> str | None:
    return (clean_text(value) or None) if isinstance(value, str) else None


def _opt_url(value: Any) -> str | None:
    url = _opt_str(value)
    return url if url and url.lower().startswith(("http://", "https://")) else None


def _parse_date(value: Any) -> date | None:
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        pass
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def parse_item(item: Any, day: date | None) -> Paper:
    """One API item as a :class:`Paper` listed on ``day`` (None: not listed); raises ``ValueError`` naming what is wrong."""
    if not isinstance(item, dict):
        raise ValueError(f"item is a {type(item).__name__}, expected an object")
    paper = item.get("paper")
    if not isinstance(paper, dict):
        raise ValueError("missing 'paper' object")
    paper_id = _opt_str(paper.get("id"))
    if not paper_id:
        raise ValueError("missing paper.id")
    title = _opt_str(paper.get("title"))
    if not title:
        raise ValueError(f"paper {paper_id}: missing title")
    abstract = _opt_str(paper.get("summary"))
    if not abstract:
        raise ValueError(f"paper {paper_id}: missing summary")
    raw_authors = paper.get("authors")
    authors: list[str] = []
    if isinstance(raw_authors, list):
        # A nameless author entry is noise, not a reason to drop the paper.
        authors = [name for a in raw_authors if isinstance(a, dict) and (name := _opt_str(a.get("name")))]
    upvotes = paper.get("upvotes")
    if not isinstance(upvotes, int) or isinstance(upvotes, bool) or upvotes < 0:
        upvotes = None
    return Paper(
        title=title,
        abstract=abstract,
        ext_id=paper_id,
        arxiv_id=paper_id if is_arxiv_id(paper_id) else None,
        authors=tuple(authors),
        author_count=len(authors) or None,
        published=_parse_date(paper.get("publishedAt")) or _parse_date(item.get("publishedAt")),
        upvotes=upvotes,
        github=_opt_url(paper.get("githubRepo")),
        project_page=_opt_url(paper.get("projectPage")),
        listed_on=day,
        source=SOURCE,
    )


def parse_page(body: bytes, day: date, page: int) -> tuple[list[Paper], int]:
    """Papers on one page and the number of malformed items skipped (each logged with its position).

    Raises :class:`FeedError` when the body is not JSON or not a list.
    """
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FeedError(f"malformed JSON on page {page}: {exc}") from exc
    if not isinstance(data, list):
        raise FeedError(f"unexpected JSON on page {page}: top level is {type(data).__name__}, expected a list")
    papers: list[Paper] = []
    skipped = 0
    for position, item in enumerate(data):
        try:
            papers.append(parse_item(item, day))
        except ValueError as exc:
            skipped += 1
            log.warning("%s: skipping malformed item at position %d on page %d: %s", day, position, page, exc)
    return papers, skipped


# -- HTTP ------------------------------------------------------------------------------------


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date); None if absent or bad."""
    if not value or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def backoff_delay(attempt: int, config: FeedConfig) -> float:
    """Exponential backoff with equal jitter for retry number ``attempt`` (0-based)."""
    ceiling = min(config.backoff_max, config.backoff_base * (2**attempt))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return "connect timeout"
    if isinstance(exc, aiohttp.SocketTimeoutError):
        return "read timeout"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, aiohttp.ClientConnectorError):
        # asyncio's strerror is "Connect call failed (...)"; the errno name says why.
        err = exc.os_error
        if isinstance(err, socket.gaierror) or (err.errno or 0) < 0:  # getaddrinfo's codes are negative
            return f"cannot find the host {exc.host} (DNS: {err.strerror or err})"
        why = os.strerror(err.errno) if err.errno else str(err)
        return f"cannot connect to {exc.host}:{exc.port} ({why})"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class FeedClient:
    """Fetches daily listings over one aiohttp session; use as ``async with FeedClient(config) as c``."""

    def __init__(
        self, config: FeedConfig | None = None, throttle: Callable[[str], Awaitable[None]] | None = None
    ) -> None:
        self.config = config or FeedConfig()
        # Awaited with the URL before every request (retries included): a per-host rate limit.
        self._throttle = throttle
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> FeedClient:
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self.config.connect_timeout, sock_read=self.config.read_timeout
        )
        self._session = aiohttp.ClientSession(
            timeout=timeout, headers={"User-Agent": self.config.user_agent, "Accept": self.config.accept}
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def url_for(self) -> str:
        """The endpoint URL (without query)."""
        return f"{self.config.base_url.rstrip('/')}/api/daily_papers"

    async def _read_body(self, resp: aiohttp.ClientResponse) -> bytes:
        limit = self.config.max_body_bytes
        if resp.content_length is not None and resp.content_length > limit:
            raise FeedError(f"response of {resp.content_length} bytes is larger than {limit}")
        chunks: list[bytes] = []
        size = 0
        # content.read(n) may return early, so read chunks to EOF, bounding memory as we go.
        async for chunk in resp.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > limit:
                raise FeedError(f"response larger than {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def get_page(self, day: date, page: int) -> bytes:
        """The raw body of one page, after bounded retries; raises :class:`FeedError`."""
        params = {"date": day.isoformat(), "limit": str(self.config.page_size), "p": str(page)}
        return await self.get(self.url_for(), params, f"{day} page {page}")

    async def get(self, url: str, params: dict[str, str] | None = None, label: str = "") -> bytes:
        """The body of a 200 answer to ``GET url``, after bounded retries; raises :class:`FeedError`.

        429 and 5xx answers, connection faults and timeouts are retried with backoff (honouring
        ``Retry-After``); any other status fails at once, with ``FeedError.status`` set.
        """
        if self._session is None:
            raise RuntimeError("FeedClient must be used as an async context manager")
        cfg = self.config
        label = label or url
        tries = cfg.retries + 1
        status: int | None = None
        for attempt in range(tries):
            last_try = attempt == tries - 1
            retry_after: float | None = None
            status = None
            if self._throttle is not None:
                await self._throttle(url)
            try:
                async with self._session.get(url, params=params) as resp:
                    if resp.status == 200:
                        return await self._read_body(resp)
                    status = resp.status
                    problem = f"HTTP {resp.status}"
                    if resp.status not in RETRY_STATUSES:
                        raise FeedError(f"{problem} (not retried)", status=resp.status)
                    # 429 carries Retry-After by definition; some 503s do too, and it is honoured alike.
                    retry_after = retry_after_seconds(resp.headers.get("Retry-After"))
            except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, TimeoutError) as exc:
                problem = _describe(exc)
            except aiohttp.ClientError as exc:
                raise FeedError(_describe(exc)) from exc
            if last_try:
                break
            if retry_after is not None:
                delay, why = min(retry_after, cfg.retry_after_cap), "Retry-After"
            else:
                delay, why = backoff_delay(attempt, cfg), "backoff"
            log.warning("%s: %s; retry %d/%d in %.2fs (%s)", label, problem, attempt + 1, cfg.retries, delay, why)
            await asyncio.sleep(delay)
        raise FeedError(f"{problem} after {tries} {'try' if tries == 1 else 'tries'}", status=status)

    async def fetch_day(self, day: date) -> DayListing:
        """Every page of one day's listing; raises :class:`FeedError` if any page fails."""
        started = time.perf_counter()
        listing = DayListing(day=day, papers=[])
        seen: set[str] = set()
        for page in range(self.config.max_pages):
            papers, skipped = parse_page(await self.get_page(day, page), day, page)
            listing.pages += 1
            listing.skipped += skipped
            fresh: list[Paper] = []
            for paper in papers:
                # The same paper twice (within or across pages) is stored once.
                if paper.ext_id not in seen:
                    seen.add(paper.ext_id or "")
                    fresh.append(paper)
            listing.papers.extend(fresh)
            # A short page is the last; a page of repeats means the server ignores ``p``.
            if len(papers) + skipped < self.config.page_size or (papers and not fresh):
                break
        else:
            log.warning("%s: stopped after %d pages (max_pages); the listing may be longer", day, listing.pages)
        log.info(
            "%s: %d papers, %d skipped, %d page(s) in %.2fs",
            day,
            len(listing.papers),
            listing.skipped,
            listing.pages,
            time.perf_counter() - started,
        )
        return listing
