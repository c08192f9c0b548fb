"""The paper library: one object that the CLI harness and the Discord adapter both use.

It owns the store, the dense index and the embedder, and exposes the operations users
see: ask, digest, find and suggest papers, add papers. Everything here is synchronous
and blocking; async callers run it in ``asyncio.to_thread``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from retrieval.collections import CollectionsMixin
from retrieval.encoder.embedder import DEFAULT_MODEL, Embedder, load_embedder
from retrieval.ingest import BulkEncoder, IngestReport, embed_missing, embed_missing_whole, ingest_papers, vector_key
from retrieval.library_onepaper import OnePaper
from retrieval.models import SHARED, Answer, Digest, Follow, FollowMatch, Hit, Paper, Scope
from retrieval.query.abstain import is_empty_question
from retrieval.query.digest import build_digest
from retrieval.query.follows import TOPIC, TOPIC_THRESHOLD, match_follows
from retrieval.query.ranker import shipped_ranker
from retrieval.query.responder import compose_answer, empty_answer, paper_not_found
from retrieval.query.search import HybridSearcher
from retrieval.settings import Settings
from retrieval.sources.fulltext import FullTextConfig
from retrieval.sources.fulltext_reader import FullTextReader
from retrieval.sources.pages import DEFAULT_PAGES_DIR, parse_pages_dir
from retrieval.storage.factory import open_storage
from retrieval.storage.migrate import MigrationReport, copy_to_postgres
from retrieval.storage.protocol import Storage, VectorIndex
from retrieval.text import clean_question, has_content, query_terms, term_set

log = logging.getLogger(__name__)

__all__ = ["IngestTotals", "Library", "LibraryStats", "default_data_dir"]

# Set while the bundled corpus is being imported, so an interrupted first start resumes seeding.
SEEDING_KEY = "seeding"
# How often a process that waits for another one's seeding looks again (seconds).
SEED_POLL_S = 0.5


def _single_threaded_blas() -> None:
    """NumPy's BLAS on one thread: a question's products are small (the bundled corpus: 3,307 x 384).

    Measured on the shared 2-core machine (load ~8): warm ask p50 78-90 ms with OpenBLAS's two
    threads, 39-62 ms with one, encode alone 51-59 against 28-42 ms; waking a sleeping BLAS
    thread on busy cores costs more than the product itself (0.09 ms).
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")


def default_data_dir() -> Path:
    """The per-user data folder (where the library lives when ``PAPERBOT_DATA_DIR`` is not set)."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("paperbot", appauthor=False))


def _seed(storage: Storage, embedder: Embedder, progress: bool | None) -> None:
    """Import the bundled pages into an empty library (or finish an interrupted seeding).

    One process seeds a shared library; another one starting meanwhile waits for it (it would
    otherwise answer from an empty or half-built library), and takes over if the seeder dies.
    """
    store = storage.papers
    waiting_since: float | None = None
    while store.count() == 0 or store.get_meta(SEEDING_KEY):
        with storage.exclusive("seed") as mine:
            if mine:
                if store.count() == 0 or store.get_meta(SEEDING_KEY):
                    store.set_meta(SEEDING_KEY, "started")
                    papers = parse_pages_dir(DEFAULT_PAGES_DIR)
                    report = ingest_papers(
                        store, embedder, papers, progress=progress, desc="Importing the bundled papers"
                    )
                    store.set_meta(SEEDING_KEY, None)
                    log.info("seeded the library with %d bundled papers", len(report.new))
                break
        if waiting_since is None:
            waiting_since = time.monotonic()
            log.warning(
                "another process is importing the bundled papers into %s; waiting for it to finish",
                storage.describe(),
            )
        time.sleep(SEED_POLL_S)
    if waiting_since is not None:
        log.warning(
            "the library is ready (%d papers) after waiting %.0f s", store.count(), time.monotonic() - waiting_since
        )


@dataclass
class IngestTotals:
    """What this process has ingested (plain values an adapter may export, e.g. as metrics)."""

    papers: int = 0
    seconds: float = 0.0
    last_rate: float = 0.0  # papers/s of the last ingest

    def add(self, papers: int, seconds: float) -> None:
        """Count one ingest of ``papers`` papers that took ``seconds``."""
        self.papers += papers
        self.seconds += seconds
        if papers and seconds > 0:
            self.last_rate = papers / seconds


@dataclass(frozen=True)
class LibraryStats:
    """What ``paperbot stats`` shows."""

    papers: int
    sources: dict[str, int]
    newest_day: date | None
    index_vectors: int
    index_sentences: int
    index_bytes: int
    index_type: str
    model: str
    dimension: int
    data_dir: str
    backend: str


# Cosine of query and paper from which a search hit counts as a match for a paper lookup. Measured
# on the bundled corpus (bench/title_floor.py): nonsense and off-topic queries top out near 0.23,
# while title fragments whose words are not all in the title mostly score above 0.3.
TITLE_MATCH_COSINE = 0.30


def is_title_match(query: str, hit: Hit) -> bool:
    """Whether a search hit answers a lookup by title words: exact, close in meaning, or every query word in its title."""
    if hit.exact or hit.dense_score >= TITLE_MATCH_COSINE:
        return True
    terms = query_terms(query)
    title = set(query_terms(hit.paper.title))
    return bool(terms) and all(term in title for term in terms)


class Library(CollectionsMixin, OnePaper):
    """Store + index + embedder behind the operations users see, on either backend.

    Every operation a user's request reaches takes a :class:`~retrieval.models.Scope` (default: the
    shared library alone) and passes it down to search and storage, which apply it; adapters build it
    once per request (a Discord server's, or the CLI's ``--collection``) and check nothing themselves.
    """

    def __init__(
        self,
        data_dir: Path,
        storage: Storage,
        embedder: Embedder,
        index: VectorIndex,
        fusion_weights: tuple[float, float, float, float] | None = None,
        fulltext: FullTextConfig | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.storage = storage
        self.store = storage.papers
        self.embedder = embedder
        self.index = index
        # Hand-set weights (PAPERBOT_FUSION_WEIGHTS) mean hand-set fusion alone; else the learned ranker, if shipped.
        ranker = None if fusion_weights else shipped_ranker()
        self.searcher = HybridSearcher(self.store, self.index, self.embedder, weights=fusion_weights, ranker=ranker)
        # Index updates (add_papers) and searches must not interleave across threads.
        self._lock = threading.RLock()
        self.ingest_totals = IngestTotals()
        # Full texts: fetched on first need from arXiv (None: never fetched), stored for every server.
        self.fulltexts = FullTextReader(storage.fulltext, embedder, vector_key(embedder), fulltext)

    @classmethod
    def open(
        cls,
        data_dir: Path | None = None,
        *,
        settings: Settings | None = None,
        model: str | None = None,
        seed_default_corpus: bool = True,
        progress: bool | None = None,
        database_url: str | None = None,
    ) -> Library:
        """Open (creating if needed) the library in ``data_dir``, or in the PostgreSQL database at
        ``database_url``; both default to ``settings`` (whose defaults are the per-user data folder and
        SQLite + FAISS). ``model`` overrides the settings' model; ``database_url=""`` forces SQLite.

        An empty library is seeded with the bundled pages (an interrupted seeding resumes).
        Stored papers without vectors for this model (a model change, an older library) are
        embedded, chunk by chunk. On SQLite the FAISS index is then loaded, extended from the
        stored vectors, or rebuilt from them; on PostgreSQL search runs in the database.
        ``progress``: a progress display (None: on a terminal, for long imports).
        """
        settings = settings or Settings()
        data_dir = Path(data_dir) if data_dir else settings.data_dir or default_data_dir()
        url = settings.database_url if database_url is None else database_url
        _single_threaded_blas()
        storage = open_storage(data_dir, url or None, hnsw_threshold=settings.hnsw_threshold)
        try:
            store = storage.papers
            embedder = load_embedder(
                model or settings.model or DEFAULT_MODEL, cache_dir=settings.cache_dir, threads=settings.encoder_threads
            )
            storage.prepare_vectors(vector_key(embedder), embedder.dimension)
            read_only = storage.read_only
            if seed_default_corpus and not read_only:
                _seed(storage, embedder, progress)
            if read_only:
                if store.papers_without_vectors(vector_key(embedder), 1):
                    log.warning(
                        "some papers in the read-only library %s have no vectors for %s: they cannot be found"
                        " by meaning until the library is opened with write access",
                        storage.describe(),
                        embedder.name,
                    )
            else:
                embed_missing(store, embedder, progress=progress)
                embed_missing_whole(store, embedder, progress=progress)
            index = storage.open_index(embedder.dimension, vector_key(embedder))
        except BaseException:
            storage.close()
            raise
        fulltext = None
        if settings.arxiv_base:
            fulltext = replace(FullTextConfig().with_base(settings.arxiv_base), min_interval=settings.arxiv_interval)
        return cls(data_dir, storage, embedder, index, settings.fusion_weights, fulltext)

    @property
    def read_only(self) -> bool:
        """Whether the library can only be read (a read-only folder or mount)."""
        return self.storage.read_only

    # -- questions -----------------------------------------------------------------------

    def ask(self, question: str, top_k: int = 5, scope: Scope = SHARED) -> Answer:
        """Answer a question from the abstracts ``scope`` sees, or abstain; never raises on bad input."""
        started = time.perf_counter()
        cleaned = clean_question(question)
        top_k = max(1, min(int(top_k), 25))
        if is_empty_question(cleaned):
            return empty_answer(cleaned, self.store.count(scope), (time.perf_counter() - started) * 1000)
        with self._lock:
            result = self.searcher.search(cleaned, top_k, scope)
        result.library_size = self.store.count(scope)  # what this reader's library holds, not every collection
        return compose_answer(cleaned, result, started=started)

    def ask_paper(self, question: str, paper: str | int, scope: Scope = SHARED) -> Answer:
        """Answer a question from one paper's abstract (title, arXiv id, external id or row id).

        Quotes that paper's sentences that best answer the question, or says that no paper
        matches ``paper`` or that the abstract does not say; never raises on bad input.
        """
        started = time.perf_counter()
        cleaned = clean_question(question)
        size = self.store.count(scope)
        if is_empty_question(cleaned):
            return empty_answer(cleaned, size, (time.perf_counter() - started) * 1000)
        found = self.resolve_paper(paper, scope)
        if found is None:
            return paper_not_found(cleaned, str(paper), size, started=started)
        return self._answer_paper(cleaned, found, started, self.fulltexts.get(found), size)

    def resolve_paper(self, paper: str | int, scope: Scope = SHARED) -> Paper | None:
        """The paper a user named: row id, arXiv / external id, exact or partial title, or close keywords.

        Unlike :meth:`find_paper` it does not settle for any best search hit: keywords must be
        mostly in the hit's title, so a question is never answered from a paper the user did
        not mean.
        """
        if isinstance(paper, int):
            return self.store.get(paper, scope)
        query = clean_question(str(paper), 300).strip()
        if not has_content(query):
            return None
        exact = self._exact(query, scope)
        if exact:
            return exact
        titled = self.store.suggest_titles(query, 2, scope)
        if len(titled) == 1:  # a part of one title only (a part of several is ranked by search below)
            return self.store.get(titled[0][0], scope)
        terms = set(query_terms(query))
        for hit in self.search(query, 3, scope):
            if terms and len(terms & term_set(hit.paper.title)) >= 0.6 * len(terms):
                return hit.paper
        return None

    def search(self, query: str, top_k: int = 10, scope: Scope = SHARED) -> list[Hit]:
        """Ranked papers ``scope`` sees for a query (hybrid dense + lexical, exact matches first)."""
        cleaned = clean_question(query)
        if not has_content(cleaned):
            return []
        with self._lock:
            return self.searcher.search(cleaned, top_k, scope).hits

    def similar(self, paper_id: int, top_k: int = 5, scope: Scope = SHARED) -> list[Hit]:
        """Papers ``scope`` sees most like a given one (for "More like this"), the paper itself left out."""
        if self.store.get(paper_id, scope) is None:
            return []
        with self._lock:
            return self.searcher.similar(paper_id, top_k, scope)

    # -- papers --------------------------------------------------------------------------

    def get_paper(self, paper_id: int, scope: Scope = SHARED) -> Paper | None:
        """A paper by row id, if ``scope`` sees it."""
        return self.store.get(paper_id, scope)

    def get_paper_by_ext_id(self, ext_id: str, scope: Scope = SHARED) -> Paper | None:
        """A paper ``scope`` sees by its public id or arXiv id."""
        return self.store.get_by_ext_id(ext_id, scope)

    def find_paper(self, query: str, scope: Scope = SHARED) -> Paper | None:
        """A paper ``scope`` sees by exact id or title, else the best search hit if it is relevant enough."""
        cleaned = clean_question(query)
        if not has_content(cleaned):
            return None
        exact = self._exact(cleaned.strip(), scope)
        if exact:
            return exact
        hits = self.search(cleaned, 1, scope)
        return hits[0].paper if hits and is_title_match(cleaned, hits[0]) else None

    def _exact(self, query: str, scope: Scope = SHARED) -> Paper | None:
        """The paper ``scope`` sees whose public or arXiv id, or normalized title, is ``query``."""
        return self.store.get_by_ext_id(query, scope) or next(
            iter(self.store.get_many(self.store.find_exact(query, scope), scope).values()), None
        )

    def suggest_titles(self, prefix: str, limit: int = 25, scope: Scope = SHARED) -> list[tuple[int, str]]:
        """(id, title) pairs ``scope`` sees, for autocomplete."""
        return self.store.suggest_titles(clean_question(prefix, 200), limit, scope)

    def add_papers(
        self, papers: Sequence[Paper], progress: bool | None = None, pool: BulkEncoder | None = None
    ) -> IngestReport:
        """Upsert papers with their vectors (one transaction per chunk of 128), then index what is new.

        Texts that already have vectors are not embedded again; an interrupted call keeps
        every committed chunk, and calling it again with the same papers resumes. ``pool``: encode in
        worker processes or on a GPU (:class:`retrieval.encoder.pool.EncoderPool`) instead of here.
        """
        begun = time.perf_counter()
        report = ingest_papers(self.store, self.embedder, papers, progress=progress, pool=pool)
        started = time.perf_counter()
        with self._lock:
            if report.new or report.updated or report.embedded:
                self.index.sync(self.store)
        report.seconds["index"] += time.perf_counter() - started
        self.ingest_totals.add(len(papers), time.perf_counter() - begun)
        return report

    def reembed(self, progress: bool | None = None, pool: BulkEncoder | None = None) -> IngestReport:
        """Forget this model's stored vectors and embed every paper again, then rebuild the index."""
        self.store.drop_vectors(vector_key(self.embedder))
        report = embed_missing(self.store, self.embedder, progress=progress, pool=pool)
        whole = embed_missing_whole(self.store, self.embedder, progress=progress)
        report.whole, report.seconds["whole"] = whole.whole, whole.seconds["whole"]
        with self._lock:
            self.index.rebuild(self.store)
        return report

    def migrate_to(self, url: str, progress: Callable[[str], None] | None = None) -> MigrationReport:
        """Copy this SQLite library (papers, this model's vectors, bot state) into the PostgreSQL database at ``url``."""
        return copy_to_postgres(self.storage, url, vector_key(self.embedder), self.embedder.dimension, progress)

    def exclusive(self, name: str) -> AbstractContextManager[bool]:
        """A non-blocking lock shared by every process on this library (e.g. one feed refresher)."""
        return self.storage.exclusive(name)

    # -- digest and stats ----------------------------------------------------------------

    def digest(
        self, day: date | None = None, topics: Sequence[str] = (), limit: int = 10, scope: Scope = SHARED
    ) -> Digest:
        """The papers ``scope`` sees of ``day`` (default: the newest day the library has), ranked."""
        day = day or self.store.newest_day()
        papers = self.store.papers_on(day, scope) if day else []
        return build_digest(
            day, papers, topics=tuple(topics), topic_scores=self._topic_scores(papers, topics), limit=limit
        )

    def week_digest(
        self, until: date | None = None, topics: Sequence[str] = (), limit: int = 10, scope: Scope = SHARED
    ) -> Digest:
        """The papers ``scope`` sees listed in the 7 days ending ``until`` (default: the newest day), ranked."""
        until = until or self.store.newest_day()
        if until is None:
            return build_digest(None, [], topics=tuple(topics), limit=limit)
        since = until - timedelta(days=6)
        papers = self.store.papers_between(since, until, scope)
        topic_scores = self._topic_scores(papers, topics)
        digest = build_digest(until, papers, topics=tuple(topics), topic_scores=topic_scores, limit=limit)
        return replace(digest, since=since)

    def _topic_scores(self, papers: Sequence[Paper], topics: Sequence[str]) -> dict[int, float] | None:
        """Each paper's relevance to the digest's topics (None without topics or papers)."""
        if not (topics and papers):
            return None
        with self._lock:
            return self.searcher.topic_scores(papers, topics)

    def papers_listed(self, since: date, until: date, scope: Scope = SHARED) -> list[Paper]:
        """Papers ``scope`` sees that a listing showed from ``since`` to ``until``, each once.

        Follow DMs use the shared scope: a follow belongs to a user, not to a server, and a DM is
        outside every server, so no server's private papers are ever sent in one.
        """
        return self.store.papers_between(since, until, scope)

    def topic_cosines(self, papers: Sequence[Paper], topics: Sequence[str]) -> dict[str, dict[int, float]]:
        """For each topic, each paper's score: the higher cosine of the topic with the paper's vector or its title.

        The title counts because the paper vector (mean of the abstract's sentences) dilutes what the paper
        is about; ``paperbot eval --topics`` measured the pair against either alone.
        """
        wanted = [t for t in dict.fromkeys(topics) if t.strip()]
        vectors = {p.id: self.index.paper_vector(p.id) for p in papers if p.id is not None}
        indexed = [p for p in papers if vectors.get(p.id) is not None]
        if not wanted or not indexed:
            return {}
        with self._lock:
            topic_vecs = self.embedder.encode(wanted)
            title_vecs = self.embedder.encode([p.title for p in indexed])
            paper_vecs = np.stack([vectors[p.id] for p in indexed])
        scores = np.maximum(topic_vecs @ paper_vecs.T, topic_vecs @ title_vecs.T)
        return {
            topic: {p.id: float(score) for p, score in zip(indexed, row, strict=True)}  # type: ignore[misc]
            for topic, row in zip(wanted, scores, strict=True)
        }

    def follow_matches(
        self, papers: Sequence[Paper], follows: Sequence[Follow], threshold: float = TOPIC_THRESHOLD
    ) -> dict[int, list[FollowMatch]]:
        """Each follower's matching papers among ``papers`` (topics by meaning, authors by name)."""
        topics = [f.norm for f in follows if f.kind == TOPIC]
        return match_follows(papers, follows, self.topic_cosines(papers, topics), threshold)

    def stats(self) -> LibraryStats:
        """Counts and sizes for ``paperbot stats``."""
        return LibraryStats(
            papers=self.store.count(),
            sources=self.store.source_counts(),
            newest_day=self.store.newest_day(),
            index_vectors=self.index.size,
            index_sentences=self.index.sentence_count,
            index_bytes=self.index.disk_bytes(),
            index_type=self.index.index_type,
            model=self.embedder.name,
            dimension=self.embedder.dimension,
            data_dir=self.storage.describe(),
            backend=self.storage.backend,
        )

    def ping(self) -> None:
        """One cheap query (a metadata row): raises when the database does not answer."""
        self.store.get_meta(SEEDING_KEY)

    def close(self) -> None:
        """Close the database (and its connections) and the searcher's worker threads."""
        self.searcher.close()
        self.storage.close()
