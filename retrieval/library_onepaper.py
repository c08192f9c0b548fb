"""The library's one-paper half: a paper's full text, answers from it (or its abstract), threads about papers.

A mixin of :class:`retrieval.library.Library` (split out to keep each file readable); it uses the
library's store, searcher, embedder, index and full-text reader.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np

from retrieval.encoder.embedder import Embedder
from retrieval.models import SHARED, Answer, Basis, FullText, Paper, Reason, Scope, ThreadContext
from retrieval.query.abstain import is_empty_question
from retrieval.query.fulltext import answer_from_fulltext, unavailable_note
from retrieval.query.responder import compose_paper_answer, empty_answer
from retrieval.query.search import HybridSearcher
from retrieval.query.sentences import idf
from retrieval.sources.fulltext_reader import RETRY_FAILED_AFTER, FullTextLookup, FullTextReader
from retrieval.storage.protocol import PaperStore, Storage, VectorIndex
from retrieval.text import clean_question, query_terms, strip_framing

# A thread opened on an answer is answered in the context of (at most) this many of its papers, for this long.
THREAD_PAPERS = 5
THREAD_TTL = timedelta(days=7)


class OnePaper:
    """Full texts, one-paper answers and thread contexts (mixed into ``Library``)."""

    storage: Storage
    store: PaperStore
    embedder: Embedder
    index: VectorIndex
    searcher: HybridSearcher
    fulltexts: FullTextReader
    _lock: threading.RLock

    def ask(self, question: str, top_k: int = 5) -> Answer:  # pragma: no cover - Library's
        """Answer from the whole library (implemented by ``Library``)."""
        raise NotImplementedError

    def _answer_paper(
        self, question: str, paper: Paper, started: float, lookup: FullTextLookup, library_size: int
    ) -> Answer:
        """One paper's answer: its full text's quotes when it has one that says, else its abstract's (saying why).

        ``library_size``: the papers the asker sees (the shared library and their server's collection).
        """
        if lookup.text is not None and lookup.vectors is not None:
            answer = self._from_fulltext(question, paper, lookup.text, lookup.vectors, started, library_size)
            if answer is not None:
                return answer
        with self._lock:
            result = self.searcher.within_paper(question, paper)
        result.library_size = library_size
        answer = compose_paper_answer(question, result, started=started)
        if lookup.text is not None:
            if answer.reason == Reason.NOT_IN_PAPER:
                source = answer.sources[0]
                text = (
                    f'"{source.title}" does not say: nothing in its full text or abstract answers that ({source.url}).'
                )
                return replace(answer, text=text, basis=Basis.FULL_TEXT)
            return answer
        note = unavailable_note(lookup.reason)
        return replace(answer, note=note, text=f"{answer.text}\n({note})")

    def _from_fulltext(
        self, question: str, paper: Paper, text: FullText, vectors: np.ndarray, started: float, library_size: int
    ) -> Answer | None:
        topic = strip_framing(question)
        terms = query_terms(topic)
        freqs, total = self.store.doc_freqs(terms)
        term_idf = {t: idf(f, total) for t, f in freqs.items()}
        with self._lock:
            qvec = self.embedder.encode_query(topic)
        return answer_from_fulltext(
            question, paper, text, vectors, qvec, terms, term_idf, library_size=library_size, started=started
        )

    def ask_in_context(self, question: str, paper_ids: Sequence[int], top_k: int = 5, scope: Scope = SHARED) -> Answer:
        """A follow-up in a thread: the thread's papers first (their stored full text, else abstract), then the library.

        The first of the thread's papers that says (highest confidence) answers; when none does,
        the library ``scope`` sees (the thread's server's) is asked.
        """
        started = time.perf_counter()
        cleaned = clean_question(question)
        if is_empty_question(cleaned):
            return empty_answer(cleaned, self.store.count(scope), (time.perf_counter() - started) * 1000)
        size = self.store.count(scope)
        best: Answer | None = None
        for paper in self.store.get_many(list(paper_ids)[:THREAD_PAPERS], scope).values():
            answer = self._answer_paper(cleaned, paper, started, self.fulltexts.get(paper, fetch=False), size)
            if not answer.abstained and (best is None or answer.confidence > best.confidence):
                best = answer
        return best if best is not None else self.ask(question, top_k, scope)

    def open_thread(self, thread_id: int, guild_id: int | None, paper_ids: Sequence[int]) -> ThreadContext:
        """Remember a thread opened on an answer: its papers, for :data:`THREAD_TTL`."""
        now = datetime.now(UTC)
        context = ThreadContext(thread_id, guild_id, tuple(paper_ids)[:THREAD_PAPERS], now, now + THREAD_TTL)
        self.storage.state.threads.save_thread(context)
        return context

    def thread_context(self, thread_id: int) -> ThreadContext | None:
        """The papers of a thread opened on an answer (None: not such a thread, or expired)."""
        return self.storage.state.threads.get_thread(thread_id, datetime.now(UTC))

    def close_thread(self, thread_id: int) -> bool:
        """Forget a thread (deleted or archived) and every expired one; True when this one was known."""
        self.storage.state.threads.drop_expired(datetime.now(UTC))
        return self.storage.state.threads.drop_thread(thread_id)

    def full_text(self, paper: Paper) -> FullTextLookup:
        """A paper's full text with its sentence vectors (fetched from arXiv and stored on first need), or why none."""
        return self.fulltexts.get(paper)

    def fetch_all_full_texts(self, report: Callable[[Paper, FullTextLookup], None]) -> dict[str, int]:
        """Fetch the full text of every paper with an arXiv id that has none yet (resumable); ``report`` after each."""
        retry_before = datetime.now(UTC) - RETRY_FAILED_AFTER
        store = self.storage.fulltext
        return self.fulltexts.fetch_ahead(
            lambda after: store.papers_needing_fulltext(after, 100, retry_before), self.store.get, report
        )
