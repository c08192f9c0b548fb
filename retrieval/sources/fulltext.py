"""A paper's full text from arXiv: its HTML rendering first, its PDF as fallback.

``GET {base}/html/<id>`` (LaTeXML) is tried first; a 404, a page with no text or a failed fetch
falls back to ``GET {base}/pdf/<id>``. Requests go through :class:`FeedClient` (timeouts, bounded
retries with backoff and ``Retry-After``, a body size cap) with a User-Agent naming the project and
a polite per-host rate limit (arXiv asks for one request every 3 s). The outcome is a
:class:`FullText` or a :class:`FullTextUnavailable` that says why and whether it is worth trying
again later (a network fault) or not (no such document, no text layer).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from urllib.parse import urlsplit

from retrieval.models import FullText
from retrieval.sources.feed_client import FeedClient, FeedConfig, FeedError
from retrieval.sources.fulltext_parse import ParseError, parse_html, parse_pdf

log = logging.getLogger(__name__)

DEFAULT_ARXIV_BASE = "https://arxiv.org"
USER_AGENT = "paperbot/0.1 (full-text reader; https://github.com/paperbot)"
# arXiv's robots policy: no more than one request every 3 seconds.
MIN_INTERVAL = 3.0
# A PDF with figures is far bigger than the daily feed's JSON.
MAX_BODY_BYTES = 25 * 1024 * 1024


class FullTextUnavailable(Exception):
    """No full text could be had; ``reason`` is a short phrase for users, ``permanent`` False for network faults."""

    def __init__(self, reason: str, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class HostThrottle:
    """At least ``interval`` seconds between the starts of two requests to one host, across threads and loops."""

    def __init__(self, interval: float = MIN_INTERVAL) -> None:
        self.interval = interval
        self._lock = threading.Lock()
        self._next: dict[str, float] = {}

    def reserve(self, host: str) -> float:
        """Take the host's next slot; returns the seconds to wait for it."""
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next.get(host, 0.0))
            self._next[host] = start + self.interval
            return start - now

    async def __call__(self, url: str) -> None:
        """Wait for ``url``'s host's turn."""
        delay = self.reserve(urlsplit(url).netloc)
        if delay > 0:
            await asyncio.sleep(delay)


# One throttle per process: every fetch of every library waits its turn per host.
_THROTTLES: dict[float, HostThrottle] = {}
_THROTTLES_LOCK = threading.Lock()


def shared_throttle(interval: float) -> HostThrottle:
    """The process-wide throttle for ``interval``."""
    with _THROTTLES_LOCK:
        return _THROTTLES.setdefault(interval, HostThrottle(interval))


@dataclass(frozen=True)
class FullTextConfig:
    """Where and how politely full texts are fetched; tests shrink the interval and timeouts."""

    base_url: str = DEFAULT_ARXIV_BASE  # PAPERBOT_ARXIV_BASE
    min_interval: float = MIN_INTERVAL
    feed: FeedConfig = field(
        default_factory=lambda: FeedConfig(
            max_body_bytes=MAX_BODY_BYTES, user_agent=USER_AGENT, accept="text/html,application/pdf;q=0.9,*/*;q=0.5"
        )
    )

    def with_base(self, base_url: str) -> FullTextConfig:
        """The same config for another base URL."""
        return replace(self, base_url=base_url.rstrip("/"))


async def _try(client: FeedClient, url: str, label: str) -> tuple[bytes | None, str, bool]:
    """(body, problem, permanent): the body of a 200, else why not and whether that is final."""
    try:
        return await client.get(url, label=label), "", True
    except FeedError as exc:
        if exc.status in (404, 410):
            return None, f"arXiv has no {label.split()[0]} of it ({exc.status})", True
        too_big = "larger than" in exc.reason
        return None, exc.reason, too_big or (exc.status is not None and exc.status < 500 and exc.status != 429)


async def fetch_fulltext(arxiv_id: str, config: FullTextConfig | None = None) -> FullText:
    """The parsed full text of ``arxiv_id`` (HTML, else PDF); raises :class:`FullTextUnavailable`."""
    cfg = config or FullTextConfig()
    base = cfg.base_url.rstrip("/")
    reasons: list[str] = []
    permanent = True
    async with FeedClient(cfg.feed, throttle=shared_throttle(cfg.min_interval)) as client:
        for kind, parse in (("html", parse_html), ("pdf", parse_pdf)):
            body, problem, final = await _try(client, f"{base}/{kind}/{arxiv_id}", f"{kind.upper()} {arxiv_id}")
            if body is None:
                reasons.append(f"{kind.upper()}: {problem}")
                permanent = permanent and final
                continue
            try:
                # Parsing a long PDF takes a while: off the event loop.
                text = await asyncio.to_thread(parse, body)
            except ParseError as exc:
                reasons.append(f"{kind.upper()}: {exc.reason}")
                continue
            log.info("full text of %s: %s, %d sections, %d sentences", arxiv_id, kind, len(text.sections), text.size)
            return replace(text, fetched_at=datetime.now(UTC))
    raise FullTextUnavailable("; ".join(reasons), permanent)
