"""One paper by id from the Hugging Face papers API, added to the library (``/library add``, ``paperbot add``).

``GET {base}/api/papers/{arxiv_id}`` returns the paper object itself (``id``, ``title``, ``summary``,
``authors``, ``publishedAt``, ``upvotes``, sometimes ``githubRepo``, ``projectPage``), or 404 when the
site does not know the id. Requests go through :class:`FeedClient` (timeouts, bounded retries with
backoff, ``Retry-After``, body size cap). Every failure is a :class:`PaperLookupError` whose message
is meant for the user; nothing is written unless the paper was fetched and parsed completely.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from retrieval.errors import UserFacingError
from retrieval.models import Paper
from retrieval.sources.feed_client import FeedClient, FeedConfig, FeedError, parse_item

if TYPE_CHECKING:
    from retrieval.ingest import IngestReport

log = logging.getLogger(__name__)

SOURCE = "hf-paper"
MAX_REF_CHARS = 300
# New-style arXiv ids (2007 on): YYMM.NNNN or YYMM.NNNNN, optional version. The papers site keys on these.
_NEW_ID = re.compile(r"^(\d{4}\.\d{4,5})(?:v\d+)?$")
_HOSTS = {
    "arxiv.org": ("/abs/", "/pdf/", "/html/"),
    "export.arxiv.org": ("/abs/", "/pdf/"),
    "huggingface.co": ("/papers/",),
    "hf.co": ("/papers/",),
}
FORMS = "2401.12345, 2401.12345v2, https://arxiv.org/abs/2401.12345, https://arxiv.org/pdf/2401.12345 or https://huggingface.co/papers/2401.12345"


class PaperLookupError(UserFacingError):
    """A paper could not be added; the message says why, in words for the user."""


@dataclass(frozen=True)
class AddedPaper:
    """The stored paper and what adding it did: ``added``, ``updated`` or ``unchanged``."""

    paper: Paper
    outcome: str


class PaperLibrary(Protocol):
    """What adding needs from the library (``retrieval.library.Library`` satisfies it)."""

    def add_papers(self, papers: list[Paper]) -> IngestReport:
        """Upsert papers with their vectors (committed in chunks) and index them."""
        ...

    def get_paper_by_ext_id(self, ext_id: str) -> Paper | None:
        """A paper by public or arXiv id."""
        ...


def parse_paper_ref(text: str) -> str:
    """The arXiv id (without version) named by an id or an arXiv / Hugging Face papers URL.

    Raises :class:`PaperLookupError` naming the accepted forms when ``text`` is none of them.
    """
    raw = " ".join((text or "").split()).strip("<>")  # Discord users wrap links in <> to hide previews.
    if not raw:
        raise PaperLookupError(f"Give an arXiv id or a paper URL, e.g. {FORMS}.")
    if len(raw) > MAX_REF_CHARS:
        raise PaperLookupError(f"That is too long for a paper id; use e.g. {FORMS}.")
    candidate = raw
    if raw.lower().startswith("arxiv:"):
        candidate = raw[len("arxiv:") :].strip()
    elif "/" in raw or raw.lower().startswith(("http", "www.")):
        url = urlsplit(raw if "://" in raw else f"https://{raw}")
        host = (url.hostname or "").lower().removeprefix("www.")
        prefixes = _HOSTS.get(host)
        path = url.path
        prefix = next((p for p in prefixes or () if path.startswith(p)), None)
        if prefix is None:
            raise PaperLookupError(f"`{raw[:80]}` is not an arXiv or Hugging Face paper link; use e.g. {FORMS}.")
        candidate = path[len(prefix) :].strip("/").removesuffix(".pdf")
    match = _NEW_ID.match(candidate)
    if not match:
        raise PaperLookupError(f"`{raw[:80]}` is not an arXiv id; use e.g. {FORMS}.")
    return match.group(1)


def parse_paper(body: bytes, arxiv_id: str) -> Paper:
    """The API's paper object as a :class:`Paper` (not listed on any day); raises :class:`PaperLookupError`."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PaperLookupError(
            f"The Hugging Face papers API sent something that is not JSON for {arxiv_id} ({exc}); nothing was added."
        ) from exc
    try:
        paper = parse_item({"paper": data}, None)
    except ValueError as exc:
        raise PaperLookupError(
            f"The Hugging Face papers API sent an incomplete record for {arxiv_id} ({exc}); nothing was added."
        ) from exc
    return replace(paper, source=SOURCE)


async def fetch_paper(arxiv_id: str, config: FeedConfig | None = None) -> Paper:
    """One paper from ``GET {base}/api/papers/{arxiv_id}``; raises :class:`PaperLookupError`."""
    cfg = config or FeedConfig()
    async with FeedClient(cfg) as client:
        url = f"{cfg.base_url.rstrip('/')}/api/papers/{arxiv_id}"
        try:
            body = await client.get(url, label=f"paper {arxiv_id}")
        except FeedError as exc:
            if exc.status == 404:
                raise PaperLookupError(f"Hugging Face has no paper {arxiv_id} (404); check the id.") from exc
            raise PaperLookupError(
                f"Could not fetch {arxiv_id} from the Hugging Face papers API ({exc.reason}); nothing was added, "
                "try again later."
            ) from exc
    return parse_paper(body, arxiv_id)


def store_paper(library: PaperLibrary, paper: Paper) -> AddedPaper:
    """Upsert one fetched paper and index it (blocking); it is answerable when this returns."""
    report = library.add_papers([paper])
    outcome = "added" if report.new else ("updated" if report.updated else "unchanged")
    stored = library.get_paper_by_ext_id(paper.arxiv_id or paper.ext_id or "")
    return AddedPaper(paper=stored or paper, outcome=outcome)


async def add_paper_by_ref(library: PaperLibrary, ref: str, config: FeedConfig | None = None) -> AddedPaper:
    """Parse ``ref``, fetch the paper, add it to ``library``; raises :class:`PaperLookupError` (library unchanged)."""
    arxiv_id = parse_paper_ref(ref)
    paper = await fetch_paper(arxiv_id, config)
    added = await asyncio.to_thread(store_paper, library, paper)
    log.info("library add %s: %s (%s)", arxiv_id, added.outcome, added.paper.title[:80])
    return added
