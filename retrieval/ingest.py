"""The one path that writes vectors: chunked, committed as it goes, resumable.

First build, ``paperbot index --corpus``, ``paperbot fetch`` and the daily refresh all come
here. Papers go in chunks; for each chunk the store says which texts lack vectors, those are
split into sentences, tokenized, encoded (batched by length), and the chunk's papers and
vectors are committed in ONE transaction. A killed import keeps every committed chunk; the
next run finds those papers' vectors stored and embeds only the rest. Nothing here knows a
backend: the store operations used are those of :class:`retrieval.storage.protocol.PaperStore`.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from itertools import islice
from typing import Protocol

import numpy as np

from retrieval.encoder.embedder import Embedder
from retrieval.models import Paper
from retrieval.storage.protocol import PaperStore
from retrieval.text import normalize_title, split_sentences, text_hash

log = logging.getLogger(__name__)

# Papers per transaction: large enough that commits cost little (~1% of the time), small enough
# that an interrupted import loses at most a few seconds of work.
CHUNK = 128
# Bump when split_sentences changes: stored sentence vectors would no longer line up.
SPLITTER_VERSION = 2
# Without a terminal, a progress line at most this often.
LOG_EVERY_S = 5.0
# No progress display for fewer papers than this (a day's feed, a test).
PROGRESS_FROM = 2 * CHUNK
ATTEMPTS = 3
# Size caps per paper, so that one record cannot slow every question or fill the disk: a 5.6 MB
# abstract of 50,000 sentences made every later question ~90 times slower. Real abstracts stay far
# below (arXiv allows 1,920 characters; SciFact's longest is 10,000).
MAX_TITLE_CHARS = 1_000
MAX_ABSTRACT_CHARS = 20_000
MAX_SENTENCES = 200


def vector_key(embedder: Embedder) -> str:
    """The name vectors are stored under: the model (with its weights' hash) and the splitter version."""
    return f"{embedder.model_id}#split{SPLITTER_VERSION}"


def sentences_of(abstract: str) -> list[str]:
    """The texts embedded for one abstract, one vector each (the index's sentence rows)."""
    return split_sentences(abstract) or [abstract]


def _cut_words(text: str, limit: int) -> str:
    cut = text[:limit]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip()


def cap_paper(
    paper: Paper,
    max_title: int = MAX_TITLE_CHARS,
    max_abstract: int = MAX_ABSTRACT_CHARS,
    max_sentences: int = MAX_SENTENCES,
) -> tuple[Paper, list[str]]:
    """The paper within the size caps (title cut at a word, abstract at a sentence end), and what was cut.

    Idempotent: a paper within the caps comes back unchanged, so re-importing a cut record changes nothing.
    """
    notes: list[str] = []
    title, abstract = paper.title, paper.abstract
    if len(title) > max_title:
        title = _cut_words(title, max_title)
        notes.append(f"title cut from {len(paper.title):,} to {len(title):,} characters")
    head = abstract[:max_abstract]
    if len(abstract) > max_abstract or len(split_sentences(head)) > max_sentences:
        sentences = split_sentences(head)
        if len(abstract) > max_abstract:
            sentences = sentences[:-1]  # the last one was cut mid-way (or is all of it)
        sentences = sentences[:max_sentences]
        if sentences:
            end = 0
            for sentence in sentences:
                end = head.index(sentence, end) + len(sentence)
            abstract = head[:end]
        else:  # one sentence longer than the cap
            abstract = _cut_words(head, max_abstract)
        notes.append(
            f"abstract cut from {len(paper.abstract):,} to {len(abstract):,} characters"
            f" (caps: {max_abstract:,} characters, {max_sentences} sentences)"
        )
    if not notes:
        return paper, notes
    return replace(paper, title=title, abstract=abstract), notes


def _identity(paper: Paper) -> list[str]:
    """The keys a store matches a paper by (arXiv id, external id, else its title)."""
    keys = [f"arxiv:{paper.arxiv_id}"] if paper.arxiv_id else []
    if paper.ext_id:
        keys.append(f"id:{paper.ext_id}")
    return keys or [f"title:{normalize_title(paper.title)}"]


def one_text_per_paper(papers: Sequence[Paper]) -> list[Paper]:
    """``papers`` where records of one paper (same arXiv or external id) that disagree on the text take the
    last record's title and abstract; every record is kept (a listing on another day still counts).

    Without this, two texts of one paper in one import leave one of them without vectors.
    """
    last: dict[str, int] = {}
    for i, paper in enumerate(papers):
        for key in _identity(paper):
            last[key] = i
    out = list(papers)
    changed = 0
    for i, paper in enumerate(papers):
        winner = max(last[key] for key in _identity(paper))
        source = papers[winner]
        if winner != i and (paper.title, paper.abstract) != (source.title, source.abstract):
            out[i] = replace(paper, title=source.title, abstract=source.abstract)
            changed += 1
    if changed:
        log.warning("%d record(s) repeat a paper with another text; the last record's text is kept", changed)
    return out


def distinct_papers(papers: Sequence[Paper]) -> int:
    """How many different papers ``papers`` holds (records of one paper counted once)."""
    seen: set[str] = set()
    count = 0
    for paper in papers:
        keys = _identity(paper)
        if not seen.intersection(keys):
            count += 1
        seen.update(keys)
    return count


@dataclass
class IngestReport:
    """What an ingest did, and where its time went (seconds by stage)."""

    new: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    unchanged: int = 0
    embedded: int = 0
    sentences: int = 0
    whole: int = 0  # whole-paper vectors encoded ("title. abstract" as one text)
    seconds: dict[str, float] = field(
        default_factory=lambda: dict.fromkeys(("split", "tokenize", "encode", "whole", "store", "index"), 0.0)
    )

    def add_upsert(self, report: object) -> None:
        """Add the counts of a store's UpsertReport."""
        self.new += list(getattr(report, "new", []))
        self.updated += list(getattr(report, "updated", []))
        self.unchanged += int(getattr(report, "unchanged", 0))


class Progress:
    """A tqdm bar on a terminal (papers/s, ETA); a log line every few seconds otherwise."""

    def __init__(self, total: int | None, desc: str, enabled: bool | None = None) -> None:
        self.total, self.desc, self.done = total, desc, 0
        self.started = self.last_log = time.monotonic()
        show = enabled if enabled is not None else (total is None or total >= PROGRESS_FROM)
        self.bar = None
        if show and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=desc, unit="paper", file=sys.stderr, leave=False, dynamic_ncols=True)
        self.logging = show and self.bar is None

    def update(self, n: int) -> None:
        """``n`` more papers done."""
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
            return
        now = time.monotonic()
        if self.logging and now - self.last_log >= LOG_EVERY_S:
            self.last_log = now
            rate = self.done / max(now - self.started, 1e-9)
            of = f"/{self.total}" if self.total else ""
            eta = f", ETA {(self.total - self.done) / rate:.0f} s" if self.total and rate > 0 else ""
            log.info("%s: %d%s papers, %.1f papers/s%s", self.desc, self.done, of, rate, eta)

    def close(self) -> None:
        """Remove the bar."""
        if self.bar is not None:
            self.bar.close()


class BulkEncoder(Protocol):
    """Encodes many texts elsewhere (:class:`retrieval.encoder.pool.EncoderPool`: worker processes, a GPU)."""

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of ``texts`` in order, shape (n, dimension)."""
        ...


def embed_texts(
    embedder: Embedder, texts: Sequence[tuple[str, str]], report: IngestReport, pool: BulkEncoder | None = None
) -> dict[str, np.ndarray]:
    """{text hash: (sentences, dimension) vectors} for (title, abstract) pairs, each distinct text once.

    With ``pool`` the texts are tokenized and encoded there (counted as encoding time).
    """
    unique: dict[str, str] = {}
    for title, abstract in texts:
        unique.setdefault(text_hash(title, abstract), abstract)
    if not unique:
        return {}
    t0 = time.perf_counter()
    groups = {h: sentences_of(a) for h, a in unique.items()}
    flat = [s for group in groups.values() for s in group]
    t1 = time.perf_counter()
    ids = embedder.tokenize(flat) if pool is None else []
    t2 = time.perf_counter()
    vectors = embedder.encode_ids(ids) if pool is None else pool.encode(flat)
    t3 = time.perf_counter()
    report.seconds["split"] += t1 - t0
    report.seconds["tokenize"] += t2 - t1
    report.seconds["encode"] += t3 - t2
    report.embedded += len(groups)
    report.sentences += len(flat)
    out: dict[str, np.ndarray] = {}
    start = 0
    for h, group in groups.items():
        out[h] = vectors[start : start + len(group)]
        start += len(group)
    return out


def whole_text(title: str, abstract: str) -> str:
    """The one text a paper's whole-paper vector encodes: "title. abstract" (the model reads its first 256 tokens)."""
    title = title.strip()
    if title and title[-1] not in ".?!:":
        title += "."
    return f"{title} {abstract.strip()}".strip()


def embed_whole(embedder: Embedder, texts: Sequence[tuple[str, str]], report: IngestReport) -> dict[str, np.ndarray]:
    """{text hash: whole-paper vector} for (title, abstract) pairs: one more encoded text per paper."""
    unique: dict[str, str] = {}
    for title, abstract in texts:
        unique.setdefault(text_hash(title, abstract), whole_text(title, abstract))
    if not unique:
        return {}
    t0 = time.perf_counter()
    vectors = embedder.encode_ids(embedder.tokenize(list(unique.values())))
    report.seconds["whole"] += time.perf_counter() - t0
    report.whole += len(unique)
    return dict(zip(unique, vectors, strict=True))


def _chunks(papers: Iterable[Paper], size: int) -> Iterator[list[Paper]]:
    it = iter(papers)
    while batch := list(islice(it, size)):
        yield batch


def _capped(paper: Paper) -> Paper:
    capped, notes = cap_paper(paper)
    for note in notes:
        log.warning("paper %s: %s", paper.ext_id or paper.arxiv_id or repr(paper.title[:60]), note)
    return capped


def ingest_papers(
    store: PaperStore,
    embedder: Embedder,
    papers: Iterable[Paper],
    *,
    total: int | None = None,
    chunk: int = CHUNK,
    progress: bool | None = None,
    desc: str = "Importing papers",
    pool: BulkEncoder | None = None,
) -> IngestReport:
    """Upsert papers with their sentence vectors, one committed transaction per chunk (encoded by ``pool`` if given)."""
    from retrieval.storage.errors import MissingVectors

    capped = (_capped(p) for p in papers)
    if isinstance(papers, Sequence):
        papers = one_text_per_paper(list(capped))
        total = distinct_papers(papers) if total is None else total
    else:
        papers = capped
    key = vector_key(embedder)
    report = IngestReport()
    bar = Progress(total, desc, progress)
    seen: set[str] = set()
    try:
        for batch in _chunks(papers, chunk):
            batch = one_text_per_paper(batch)
            for attempt in range(1, ATTEMPTS + 1):
                plan = store.plan_embedding(batch, key)
                vectors = embed_texts(embedder, [t for t in plan if t is not None], report, pool)
                whole = embed_whole(embedder, [t for t in plan if t is not None], report)
                t0 = time.perf_counter()
                try:
                    upserted = store.upsert_with_vectors(batch, key, vectors, whole)
                except MissingVectors:
                    # Another writer changed these papers between the plan and the commit: plan again.
                    if attempt == ATTEMPTS:
                        raise
                    log.info("papers changed during import; planning the chunk again")
                    continue
                finally:
                    report.seconds["store"] += time.perf_counter() - t0
                report.add_upsert(upserted)
                break
            fresh = 0
            for paper in batch:  # progress counts papers, not records (a paper listed on two days is one)
                keys = _identity(paper)
                fresh += not seen.intersection(keys)
                seen.update(keys)
            bar.update(fresh)
    finally:
        bar.close()
    return report


def ingest_atomically(
    store: PaperStore,
    embedder: Embedder,
    papers: Sequence[Paper],
    *,
    chunk: int = CHUNK,
    on_progress: Callable[[int, int], None] | None = None,
) -> IngestReport:
    """Upsert papers with their vectors in ONE transaction: all of them or, on any failure, none.

    For imports a user waits on (a server's reading list): texts are embedded chunk by chunk first
    (``on_progress(done, total)`` after each), nothing is written until every text has its vectors.
    """
    from retrieval.storage.errors import MissingVectors

    key = vector_key(embedder)
    report = IngestReport()
    for attempt in range(1, ATTEMPTS + 1):
        plan = store.plan_embedding(papers, key)
        todo = [t for t in plan if t is not None]
        vectors: dict[str, np.ndarray] = {}
        for start in range(0, len(todo), chunk):
            vectors.update(embed_texts(embedder, todo[start : start + chunk], report))
            if on_progress is not None:
                on_progress(min(start + chunk, len(todo)), len(todo))
        t0 = time.perf_counter()
        try:
            report.add_upsert(store.upsert_with_vectors(papers, key, vectors))
        except MissingVectors:
            if attempt == ATTEMPTS:
                raise
            log.info("papers changed during import; planning it again")
            continue
        finally:
            report.seconds["store"] += time.perf_counter() - t0
        break
    return report


def embed_missing(
    store: PaperStore,
    embedder: Embedder,
    *,
    chunk: int = CHUNK,
    progress: bool | None = None,
    pool: BulkEncoder | None = None,
) -> IngestReport:
    """Embed stored papers that lack vectors for this model (model change, older library), chunk by chunk."""
    key = vector_key(embedder)
    report = IngestReport()
    bar: Progress | None = None
    try:
        while rows := store.papers_without_vectors(key, chunk):
            if bar is None:
                log.info("embedding stored papers that have no vectors for %s", key)
                bar = Progress(None, "Embedding stored papers", progress)
            vectors = embed_texts(embedder, [(t, a) for _, t, a in rows], report, pool)
            t0 = time.perf_counter()
            store.add_vectors(key, {i: (text_hash(t, a), vectors[text_hash(t, a)]) for i, t, a in rows})
            report.seconds["store"] += time.perf_counter() - t0
            bar.update(len(rows))
    finally:
        if bar is not None:
            bar.close()
    return report


def embed_missing_whole(
    store: PaperStore, embedder: Embedder, *, chunk: int = CHUNK, progress: bool | None = None
) -> IngestReport:
    """Encode the whole-paper vector of stored papers that lack one (a library built before them), chunk by chunk.

    Each chunk commits on its own: an interrupted backfill resumes where it stopped on the next open.
    """
    key = vector_key(embedder)
    report = IngestReport()
    bar: Progress | None = None
    try:
        while rows := store.papers_without_whole(key, chunk):
            if bar is None:
                log.info("encoding whole-paper vectors of stored papers for %s", key)
                bar = Progress(None, "Whole-paper vectors", progress)
            whole = embed_whole(embedder, [(t, a) for _, t, a in rows], report)
            t0 = time.perf_counter()
            written = store.add_whole(key, {i: (text_hash(t, a), whole[text_hash(t, a)]) for i, t, a in rows})
            report.seconds["store"] += time.perf_counter() - t0
            bar.update(len(rows))
            if not written:  # every text changed under us: plan again rather than loop on the same rows
                log.info("papers changed during the whole-paper backfill; reading them again")
    finally:
        if bar is not None:
            bar.close()
    return report
