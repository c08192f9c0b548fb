"""A paper's full text on first need: from the store, else fetched from arXiv, embedded and stored.

Fetched once per paper and shared by every server: a stored text is read back (its sentence
vectors re-encoded only if the model changed); a failure that will not mend by itself (no HTML
nor PDF, no text layer) is remembered and retried after :data:`RETRY_FAILED_AFTER`; a network
fault is not remembered, so the next question tries again. A full text without an "Abstract"
section gets the stored abstract as its first section, so an answer can always quote it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import numpy as np

from retrieval.encoder.embedder import Embedder
from retrieval.models import FullText, Paper, Section
from retrieval.sources.fulltext import FullTextConfig, FullTextUnavailable, fetch_fulltext
from retrieval.storage.protocol import FullTextStore
from retrieval.text import split_sentences

log = logging.getLogger(__name__)

RETRY_FAILED_AFTER = timedelta(days=7)
NO_ARXIV_ID = "the paper has no arXiv id"
FETCHING_OFF = "fetching full texts is switched off (PAPERBOT_ARXIV_BASE=off)"


@dataclass(frozen=True)
class FullTextLookup:
    """A paper's full text with its sentence vectors, or why there is none."""

    text: FullText | None = None
    vectors: np.ndarray | None = None
    reason: str = ""
    fetched: bool = False  # fetched now (not read from the store)


def with_abstract(text: FullText, paper: Paper) -> FullText:
    """``text`` with the paper's abstract as its first section when it has no "Abstract" section."""
    if any(s.heading.strip().lower() == "abstract" for s in text.sections):
        return text
    sentences = tuple(split_sentences(paper.abstract)) or (paper.abstract,)
    return replace(text, sections=(Section("Abstract", sentences), *text.sections))


class FullTextReader:
    """Full texts of papers for one library: store first, then arXiv (when ``config`` is set)."""

    def __init__(self, store: FullTextStore, embedder: Embedder, model: str, config: FullTextConfig | None) -> None:
        self.store = store
        self.embedder = embedder
        self.model = model
        self.config = config
        self._locks: dict[int, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def _lock_for(self, paper_id: int) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(paper_id, threading.Lock())

    def get(self, paper: Paper, fetch: bool = True) -> FullTextLookup:
        """The paper's full text (fetched now if ``fetch`` and never fetched), or why there is none. Blocking."""
        if paper.id is None or not paper.arxiv_id:
            return FullTextLookup(reason=NO_ARXIV_ID)
        # One fetch per paper at a time: a second question waits for the first one's text.
        with self._lock_for(paper.id):
            record = self.store.get_fulltext(paper.id)
            if record is not None and record.status == "ok" and record.text is not None:
                vectors = self.store.fulltext_vectors(paper.id, self.model)
                if vectors is None or len(vectors) != record.text.size:
                    vectors = self._encode(record.text)
                    self.store.save_fulltext(paper.id, record.text, self.model, vectors)
                return FullTextLookup(record.text, vectors)
            now = datetime.now(UTC)
            if record is not None and record.fetched_at > now - RETRY_FAILED_AFTER:
                return FullTextLookup(reason=record.reason)
            if self.config is None:
                return FullTextLookup(reason=FETCHING_OFF)
            if not fetch:
                return FullTextLookup(reason="not fetched yet")
            return self._fetch(paper, now)

    def _fetch(self, paper: Paper, now: datetime) -> FullTextLookup:
        assert paper.id is not None and paper.arxiv_id and self.config is not None
        try:
            text = asyncio.run(fetch_fulltext(paper.arxiv_id, self.config))
        except FullTextUnavailable as exc:
            log.info("no full text for %s: %s", paper.arxiv_id, exc.reason)
            if exc.permanent:
                self.store.save_fulltext_failure(paper.id, exc.reason, now)
            return FullTextLookup(reason=exc.reason, fetched=True)
        text = with_abstract(text, paper)
        vectors = self._encode(text)
        self.store.save_fulltext(paper.id, text, self.model, vectors)
        return FullTextLookup(text, vectors, fetched=True)

    def _encode(self, text: FullText) -> np.ndarray:
        return self.embedder.encode([sentence for _, sentence in text.sentences()])

    def fetch_ahead(
        self,
        papers: Callable[[int], list[tuple[int, str]]],
        get: Callable[[int], Paper | None],
        report: Callable[..., None],
    ) -> dict[str, int]:
        """Fetch every paper ``papers(after_id)`` lists, page by page; ``report(paper, lookup)`` after each. Blocking.

        Resumable: what is stored is not listed again (the caller's ``papers`` skips it).
        """
        counts = {"fetched": 0, "unavailable": 0, "failed": 0}
        after = 0
        while batch := papers(after):
            for paper_id, _ in batch:
                after = paper_id
                paper = get(paper_id)
                if paper is None:
                    continue
                lookup = self.get(paper)
                if lookup.text is not None:
                    counts["fetched"] += 1
                elif self.store.get_fulltext(paper_id) is not None:
                    counts["unavailable"] += 1
                else:
                    counts["failed"] += 1
                report(paper, lookup)
        return counts
