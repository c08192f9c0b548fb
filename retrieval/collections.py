"""A server's reading list: papers imported into one collection, seen only in that collection's scope.

Data model: a paper has an ``owner`` — the collection it belongs to (a Discord guild id; in the CLI
a name), NULL for the shared library. Ids are unique per owner, and a record only ever merges into
a paper of the same owner, so a private copy of a shared paper (or of another server's) is a row of
its own. What a reader sees is one rule, :class:`retrieval.models.Scope`, passed down to storage
and search. This mixin of :class:`retrieval.library.Library` imports, lists and removes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from retrieval.encoder.embedder import Embedder
from retrieval.errors import UserFacingError
from retrieval.ingest import IngestReport, ingest_atomically
from retrieval.models import Paper, Scope
from retrieval.sources.reading_list import ReadingList, read_reading_list
from retrieval.storage.protocol import PaperStore, VectorIndex
from retrieval.storage.rules import check_collection

log = logging.getLogger(__name__)

# Papers one collection may hold (a server's reading list, not a second library).
MAX_COLLECTION_PAPERS = 10_000
PAGE = 10


@dataclass
class ImportReport:
    """What an import did: papers added, updated and unchanged, and the records skipped (line, why)."""

    collection: str
    format: str
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)
    total: int = 0  # papers in the collection afterwards


@dataclass(frozen=True)
class CollectionPage:
    """One page of a collection's papers, newest first."""

    collection: str
    papers: tuple[Paper, ...]
    total: int
    page: int
    pages: int


class CollectionsMixin:
    """Import into, list and remove from one collection (see the module doc)."""

    store: PaperStore
    index: VectorIndex
    embedder: Embedder
    _lock: threading.RLock

    def import_reading_list(
        self,
        data: bytes,
        filename: str,
        collection: str,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> ImportReport:
        """Parse a reading list (BibTeX, RIS, CSV, JSONL) and import it into ``collection``, all or nothing.

        A file that cannot be read raises :class:`~retrieval.sources.reading_list.ReadingListError`
        before anything is written; bad records are skipped and reported by line.
        """
        collection = check_collection(collection)
        parsed = read_reading_list(data, filename, owner=collection)
        return self.import_papers(parsed, collection, on_progress)

    def import_papers(
        self,
        parsed: ReadingList,
        collection: str,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> ImportReport:
        """Import parsed papers into ``collection`` in one transaction (each paper's owner set to it)."""
        collection = check_collection(collection)
        papers: Sequence[Paper] = [replace(p, owner=collection) for p in parsed.papers]
        _, have = self.store.owned(collection, limit=0)
        if have + len(papers) > MAX_COLLECTION_PAPERS:
            raise UserFacingError(
                f"this server's reading list holds {have} papers; {len(papers)} more would pass the limit of "
                f"{MAX_COLLECTION_PAPERS}: remove some first (`/library remove`)"
            )
        report = ImportReport(collection, parsed.format, skipped=list(parsed.skipped))
        if papers:
            ingest: IngestReport = ingest_atomically(self.store, self.embedder, papers, on_progress=on_progress)
            report.new, report.updated, report.unchanged = len(ingest.new), len(ingest.updated), ingest.unchanged
            with self._lock:
                self.index.sync(self.store)
        report.total = self.store.owned(collection, limit=0)[1]
        log.info(
            "imported %d new, %d updated papers into collection %s (%d skipped)",
            report.new,
            report.updated,
            collection,
            len(report.skipped),
        )
        return report

    def collection_page(self, collection: str, page: int = 1, per_page: int = PAGE) -> CollectionPage:
        """Page ``page`` (from 1) of a collection's papers, newest first."""
        collection = check_collection(collection)
        page = max(1, int(page))
        papers, total = self.store.owned(collection, limit=per_page, offset=(page - 1) * per_page)
        pages = max(1, -(-total // per_page))
        return CollectionPage(collection, tuple(papers), total, page, pages)

    def remove_from_collection(self, collection: str, paper: str | None) -> list[Paper]:
        """Remove one paper (row id ``id:N``, public or arXiv id, or exact title) of ``collection``, or all of
        them with ``paper`` None; returns what went. Papers of the shared library or of other
        collections cannot be named here: the look-up sees ``collection``'s own papers only.
        """
        collection = check_collection(collection)
        if paper is None:
            gone, _ = self.store.owned(collection, limit=MAX_COLLECTION_PAPERS)
            ids = None
        else:
            found = self._own_paper(collection, paper)
            if found is None:
                raise UserFacingError(
                    f"no paper of this server's reading list matches {paper[:100]!r}; see `/library list`"
                )
            gone, ids = [found], [found.id] if found.id is not None else []
        if self.store.remove_owned(collection, ids) and gone:
            with self._lock:
                self.index.sync(self.store)
        return gone

    def _own_paper(self, collection: str, query: str) -> Paper | None:
        """A paper of ``collection`` itself (never a shared one) by ``id:N``, public / arXiv id or title."""
        scope = Scope.of(collection)
        query = query.strip()
        candidates: list[Paper] = []
        if query.startswith("id:") and query[3:].isdigit():
            found = self.store.get(int(query[3:]), scope)
            candidates = [found] if found else []
        else:
            by_id = self.store.get_by_ext_id(query, scope)
            candidates = [by_id] if by_id else []
            candidates += list(self.store.get_many(self.store.find_exact(query, scope), scope).values())
        return next((p for p in candidates if p.owner == collection), None)
