"""The one storage protocol: what the library, the search and the bot need from a backend.

Two implementations: ``retrieval.storage.sqlite`` (one file + an in-process FAISS index, the
default) and ``retrieval.storage.postgres`` (PostgreSQL + pgvector, shared by many processes).
The responder, digest, feed, CLI and cogs see only these protocols;
:func:`retrieval.storage.factory.open_storage` picks the backend from a database URL (none: SQLite
in the data folder). Errors are in ``errors.py``, the rules both backends share in ``rules.py``.

Search signals come from the backend; fusing them is shared code (``retrieval.query.search``),
so both backends rank by the same rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import date, datetime
from enum import StrEnum
from typing import Literal, Protocol

import numpy as np

from retrieval.models import (
    SHARED,
    Follow,
    FullText,
    FullTextRecord,
    GuildSettings,
    LogEntry,
    Paper,
    Scope,
    ThreadContext,
    UpsertReport,
)


class DmStatus(StrEnum):
    """A follow DM's (user, day) log row: claimed, sent, failed (retried after a pause), DMs closed."""

    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CLOSED = "closed"


class PaperStore(Protocol):
    """Papers, the days listings showed them, and the lexical half of search.

    Every read a user's request reaches takes a :class:`~retrieval.models.Scope` (default: the shared
    library alone) and returns only what it sees; a paper's ``owner`` is set when it is written and
    a paper only ever merges with one of the same owner.
    """

    def upsert(self, papers: Iterable[Paper]) -> UpsertReport:
        """Insert new papers and merge known ones (by arXiv id, external id, then title), atomically."""
        ...

    def count(self, scope: Scope | None = None) -> int:
        """Number of papers: all (None), or those ``scope`` sees."""
        ...

    def get(self, paper_id: int, scope: Scope = SHARED) -> Paper | None:
        """One paper by row id, if ``scope`` sees it."""
        ...

    def get_many(self, paper_ids: Sequence[int], scope: Scope = SHARED) -> dict[int, Paper]:
        """Papers by row id that ``scope`` sees (missing and hidden ids left out)."""
        ...

    def get_by_ext_id(self, ext_id: str, scope: Scope = SHARED) -> Paper | None:
        """One paper by its public id or arXiv id that ``scope`` sees (its collection's own first)."""
        ...

    def find_exact(self, query: str, scope: Scope = SHARED) -> list[int]:
        """Ids of papers ``scope`` sees whose normalized title, arXiv id or public id equals the query."""
        ...

    def suggest_titles(self, prefix: str, limit: int = 25, scope: Scope = SHARED) -> list[tuple[int, str]]:
        """(id, title) that ``scope`` sees, for autocomplete."""
        ...

    def newest_day(self) -> date | None:
        """The most recent day a listing showed a paper."""
        ...

    def papers_on(self, day: date, scope: Scope = SHARED) -> list[Paper]:
        """Papers ``scope`` sees that a listing showed on ``day``."""
        ...

    def papers_between(self, since: date, until: date, scope: Scope = SHARED) -> list[Paper]:
        """Papers ``scope`` sees that a listing showed on any day from ``since`` to ``until`` (both included)."""
        ...

    def owners(self) -> dict[int, str]:
        """{paper id: owner} of every private paper (what the dense index must filter)."""
        ...

    def collections(self) -> dict[str, int]:
        """Papers per collection."""
        ...

    def owned(self, collection: str, limit: int = 25, offset: int = 0) -> tuple[list[Paper], int]:
        """A page of one collection's papers (newest first) and how many it has."""
        ...

    def remove_owned(self, collection: str, paper_ids: Sequence[int] | None = None) -> int:
        """Delete papers of one collection (all with None), never another's; how many went."""
        ...

    def source_counts(self) -> dict[str, int]:
        """Papers per source."""
        ...

    def id_hashes(self) -> dict[int, str]:
        """Every paper's id and text hash."""
        ...

    def lexical_search(self, terms: Sequence[str], limit: int, scope: Scope = SHARED) -> list[tuple[int, float]]:
        """Full-text search for any of ``terms`` among the papers ``scope`` sees: (id, score) best first."""
        ...

    def doc_freqs(self, terms: Sequence[str]) -> tuple[dict[str, int], int]:
        """How many papers contain each term (capped in large libraries), and the paper count."""
        ...

    def term_matches(self, terms: Sequence[str], paper_ids: Sequence[int]) -> dict[str, np.ndarray]:
        """For each term used by :meth:`lexical_search`, the ids among ``paper_ids`` (or more) that contain it."""
        ...

    def clear_term_caches(self) -> None:
        """Forget cached term statistics."""
        ...

    # The storage side of ingest (retrieval.ingest): sentence vectors are stored with their papers.

    def plan_embedding(self, papers: Sequence[Paper], model: str) -> list[tuple[str, str] | None]:
        """For each paper, the (title, abstract) to embed before upserting it, or None when vectors exist."""
        ...

    def upsert_with_vectors(
        self,
        papers: Sequence[Paper],
        model: str,
        vectors: Mapping[str, np.ndarray],
        whole: Mapping[str, np.ndarray] | None = None,
    ) -> UpsertReport:
        """Upsert papers and their sentence vectors (by text hash) in ONE transaction, or raise MissingVectors.

        ``whole``: whole-paper vectors by text hash, written with the sentence vectors of the same papers."""
        ...

    def papers_without_whole(self, model: str, limit: int) -> list[tuple[int, str, str]]:
        """(id, title, abstract) of up to ``limit`` stored papers lacking a current whole-paper vector, by id."""
        ...

    def add_whole(self, model: str, vectors: Mapping[int, tuple[str, np.ndarray]]) -> int:
        """Store whole-paper vectors of existing papers {id: (text hash, vector)}, skipping changed texts."""
        ...

    def whole_vectors(self, model: str, ids: Sequence[int] | None = None) -> dict[int, np.ndarray]:
        """{paper id: float32 vector} of current whole-paper vectors (of ``ids``, or of every paper)."""
        ...

    def papers_without_vectors(self, model: str, limit: int) -> list[tuple[int, str, str]]:
        """(id, title, abstract) of up to ``limit`` stored papers lacking current vectors, by id."""
        ...

    def add_vectors(self, model: str, vectors: Mapping[int, tuple[str, np.ndarray]]) -> int:
        """Store vectors of existing papers {id: (text hash, array)}, skipping changed texts; rows written."""
        ...

    def vector_hashes(self, model: str) -> dict[int, str]:
        """{paper id: text hash} of papers with current vectors."""
        ...

    def iter_vectors(self, model: str, ids: Sequence[int] | None = None) -> Iterator[tuple[int, str, np.ndarray]]:
        """(paper id, text hash, float16 (sentences, dimension)) of current vectors."""
        ...

    def drop_vectors(self, model: str) -> int:
        """Forget every vector of ``model``; rows removed."""
        ...

    def get_meta(self, key: str) -> str | None:
        """A library-level setting, or None."""
        ...

    def set_meta(self, key: str, value: str | None) -> None:
        """Set (None: remove) a library-level setting."""
        ...


class VectorIndex(Protocol):
    """Paper and sentence vectors, and the dense half of search."""

    index_type: str

    @property
    def size(self) -> int:
        """Number of papers with vectors."""
        ...

    @property
    def sentence_count(self) -> int:
        """Number of sentence vectors."""
        ...

    def disk_bytes(self) -> int:
        """Bytes the vectors take on disk."""
        ...

    def refresh(self, store: PaperStore) -> None:
        """Catch up with other processes' writes (cheap when nothing changed)."""
        ...

    def sync(self, store: PaperStore) -> None:
        """Take in vectors the store gained (this process's ingest)."""
        ...

    def rebuild(self, store: PaperStore) -> None:
        """Rebuild from the stored vectors."""
        ...

    def search(self, query: np.ndarray, k: int, scope: Scope = SHARED) -> list[tuple[int, float]]:
        """(paper id, cosine) of the ``k`` nearest papers ``scope`` sees (the filter applied inside the search)."""
        ...

    def prefetch(self, paper_ids: Sequence[int]) -> None:
        """Read what scoring these candidates will need, now (a no-op where vectors are in memory)."""
        ...

    def paper_vector(self, paper_id: int) -> np.ndarray | None:
        """A paper's stored vector."""
        ...

    def doc_scores(self, query: np.ndarray, paper_ids: Sequence[int]) -> np.ndarray:
        """Cosine of the query with each paper's vector (0 when it has none)."""
        ...

    def best_sentence_scores(self, query: np.ndarray, paper_ids: Sequence[int]) -> np.ndarray:
        """For each paper, the cosine of its best-matching sentence."""
        ...

    def sentence_scores(self, query: np.ndarray, paper_id: int) -> np.ndarray:
        """Cosine of the query with each sentence of a paper's abstract, in order."""
        ...

    def whole_scores(self, query: np.ndarray, paper_ids: Sequence[int]) -> np.ndarray:
        """Cosine of the query with each paper's whole-paper vector ("title. abstract" as one text); NaN without one."""
        ...


# Why add_follow refused: the user follows that already, or follows ``limit`` things.
AddRefusal = Literal["duplicate", "limit"]


class FollowStateStore(Protocol):
    """Follows, the follow-DM log (one DM per user and UTC day), the papers sent, users with closed DMs.

    Only the storage and the atomic parts live here; the rules (validation, limits, when a failed
    DM is retried) are the caller's (``bot.follow_state.FollowStore``), the same on every backend.
    """

    def add_follow(self, user_id: int, kind: str, value: str, norm: str, limit: int) -> Follow | AddRefusal:
        """Add a follow unless the user has one of that kind and norm or ``limit`` already; atomically."""
        ...

    def follows_of(self, user_id: int) -> list[Follow]:
        """A user's follows, oldest first."""
        ...

    def remove_follow(self, user_id: int, follow_id: int) -> Follow | None:
        """Delete one follow of this user; None when the user has no such follow."""
        ...

    def active_follows(self) -> list[Follow]:
        """Every follow of users whose DMs are not marked closed, by user then age."""
        ...

    def mark_closed(self, user_id: int, reason: str, now: datetime) -> None:
        """Mark this user's DMs closed at ``now`` for ``reason``."""
        ...

    def reopen(self, user_id: int) -> bool:
        """Clear the closed mark; True when there was one."""
        ...

    def closed_since(self, user_id: int) -> datetime | None:
        """When this user's DMs were marked closed, or None."""
        ...

    def sent_papers(self, user_id: int) -> set[int]:
        """Ids of the papers claimed or sent to this user."""
        ...

    def claim_dm(
        self,
        user_id: int,
        day: date,
        paper_ids: Sequence[int],
        now: datetime,
        limit: int,
        may_retake: Callable[[str, datetime], bool],
    ) -> list[int]:
        """In one transaction: take the user's (user, day) DM row (new, or an existing one ``may_retake``
        allows given its status and claim time) and up to ``limit`` of ``paper_ids`` never claimed for the
        user. Returns the claimed ids in the given order; when none, nothing is recorded."""
        ...

    def finish_dm(self, user_id: int, day: date, status: str, release: Sequence[int]) -> None:
        """Set the DM row's status and release the ``release`` papers (claimed that day) for a later DM."""
        ...

    def dm_status(self, user_id: int, day: date) -> str | None:
        """The status of the user's DM row of ``day``, if any."""
        ...


class FullTextStore(Protocol):
    """Papers' full texts (sections, sentences, their vectors, source and fetch time), one per paper,
    shared by every server; and the failures worth remembering (no HTML nor PDF, no text layer)."""

    def get_fulltext(self, paper_id: int) -> FullTextRecord | None:
        """The stored full text or failure of a paper (None: never fetched)."""
        ...

    def fulltext_vectors(self, paper_id: int, model: str) -> np.ndarray | None:
        """The full text's sentence vectors (n x dim, float32) encoded with ``model``, or None."""
        ...

    def save_fulltext(self, paper_id: int, text: FullText, model: str, vectors: np.ndarray) -> None:
        """Store (replace) a paper's full text with its sentence vectors, in one transaction."""
        ...

    def save_fulltext_failure(self, paper_id: int, reason: str, now: datetime) -> None:
        """Remember that a paper's full text cannot be had (replacing nothing that is ``ok``)."""
        ...

    def papers_needing_fulltext(self, after_id: int, limit: int, retry_before: datetime) -> list[tuple[int, str]]:
        """(id, arXiv id) of papers past ``after_id`` with an arXiv id and no full text: never fetched, or a
        failure recorded before ``retry_before``; by id."""
        ...

    def fulltext_counts(self) -> dict[str, int]:
        """Stored full texts by status."""
        ...


class ThreadStore(Protocol):
    """Threads opened on answers (thread id → papers), so a follow-up is answered in context after a restart."""

    def save_thread(self, context: ThreadContext) -> None:
        """Store (replace) a thread's context."""
        ...

    def get_thread(self, thread_id: int, now: datetime) -> ThreadContext | None:
        """A thread's context, None when unknown or expired at ``now``."""
        ...

    def drop_thread(self, thread_id: int) -> bool:
        """Forget a thread (deleted or archived); True when it was known."""
        ...

    def drop_expired(self, now: datetime) -> int:
        """Forget every thread expired at ``now``; returns how many."""
        ...


class StateStore(Protocol):
    """Bot state: per-server settings and library role, the digest log (one post per channel and day),
    feedback; and, in ``follows``, the follow state."""

    follows: FollowStateStore
    threads: ThreadStore

    def get_settings(self, guild_id: int) -> GuildSettings | None:
        """A server's settings."""
        ...

    def enabled_settings(self) -> list[GuildSettings]:
        """Servers with daily posts on, by guild id."""
        ...

    def save_settings(
        self,
        guild_id: int,
        channel_id: int,
        post_time: str,
        timezone: str,
        topics: Sequence[str],
        now: datetime,
        frequency: str = "daily",
        weekday: int | None = None,
    ) -> None:
        """Create or replace a server's settings (enabled, error cleared); drop the channel's "skipped" rows."""
        ...

    def disable(self, guild_id: int, now: datetime) -> bool:
        """Switch a server's posts off; False when they were not on."""
        ...

    def record_error(self, guild_id: int, message: str | None) -> None:
        """Set or clear a server's last posting error."""
        ...

    def log_entry(self, channel_id: int, day: date) -> LogEntry | None:
        """The digest log row of a channel and day."""
        ...

    def last_entry(self, channel_id: int) -> LogEntry | None:
        """A channel's newest digest log row."""
        ...

    def claim(self, channel_id: int, day: date, now: datetime, may_retake: Callable[[LogEntry], bool]) -> bool:
        """Atomically take the right to post: insert the row, or retake an existing one ``may_retake`` allows."""
        ...

    def finish(self, channel_id: int, day: date, status: str, message_id: int | None) -> None:
        """Record how a claimed post ended."""
        ...

    def record_feedback(self, question: str, paper_ext_id: str, user_id: int, vote: int) -> None:
        """Store or replace a user's vote on a question and paper."""
        ...

    def feedback_totals(self, question: str) -> tuple[int, int]:
        """(up, down) votes on a question."""
        ...

    def library_role(self, guild_id: int) -> int | None:
        """The role allowed to add papers in a server, if set."""
        ...

    def set_library_role(self, guild_id: int, role_id: int | None) -> None:
        """Set (None: clear) the role allowed to add papers in a server."""
        ...


class Storage(Protocol):
    """One backend: its paper store, bot state, vector index, and cross-process coordination."""

    backend: str  # "sqlite" | "postgres"
    read_only: bool  # opened where nothing can be written: questions only
    papers: PaperStore
    state: StateStore
    fulltext: FullTextStore

    def prepare_vectors(self, model: str, dimension: int) -> None:
        """Get ready to store ``model``'s vectors (PostgreSQL: a vector table of that dimension)."""
        ...

    def open_index(self, dimension: int, model: str) -> VectorIndex:
        """The vector index over the stored vectors of ``model``."""
        ...

    def exclusive(self, name: str) -> AbstractContextManager[bool]:
        """A non-blocking lock shared by every process on this library: yields whether it was taken."""
        ...

    def describe(self) -> str:
        """Where the library lives (a folder, or the database URL without its password)."""
        ...

    def close(self) -> None:
        """Release connections and files."""
        ...
