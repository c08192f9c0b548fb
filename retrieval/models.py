"""Plain dataclasses that cross module boundaries: papers, hits, answers, digests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from enum import StrEnum
from typing import Literal


@dataclass(frozen=True)
class Paper:
    """One paper as the library knows it.

    ``id`` is the store's row id (None before the paper is stored); ``ext_id`` is the
    stable public id shown to users and in JSON output (the JSONL ``id``, the arXiv id,
    or a title-derived slug for saved pages, which carry no id).
    """

    title: str
    abstract: str
    id: int | None = None
    ext_id: str | None = None
    arxiv_id: str | None = None
    url: str | None = None
    authors: tuple[str, ...] = ()
    author_count: int | None = None
    published: date | None = None
    upvotes: int | None = None
    github: str | None = None
    project_page: str | None = None
    # The day a listing (saved page or daily feed) showed this paper; drives the digest.
    listed_on: date | None = None
    source: str = "unknown"
    # The collection (a Discord server's reading list) the paper belongs to; None: the shared library.
    owner: str | None = None


@dataclass(frozen=True)
class Scope:
    """Which papers a reader sees: the ONE visibility rule, passed from the adapter down to storage.

    A reader sees the shared library (papers without an owner) plus the papers of its own
    ``collection`` (a Discord server's reading list: its guild id; in the CLI, the name given),
    never another collection's. ``everything`` is the operator's view (stats, migration, seeding),
    never given to a Discord user. Backends apply :meth:`sees` as SQL (``storage.rules.visible_sql``)
    and as an id filter on the dense index.
    """

    collection: str | None = None
    everything: bool = False

    def sees(self, owner: str | None) -> bool:
        """Whether a paper owned by ``owner`` (None: shared) is visible in this scope."""
        return self.everything or owner is None or owner == self.collection

    @classmethod
    def of(cls, collection: str | int | None) -> Scope:
        """The scope of one collection (a guild id or a CLI name); None: the shared library alone."""
        return cls(None if collection is None else str(collection))


# The shared library alone (DMs, follow DMs, a reader with no collection): the default everywhere.
SHARED = Scope()
# Every collection at once: operator tools only (stats, migration), never a Discord reply.
EVERYONE = Scope(everything=True)


@dataclass(frozen=True)
class Link:
    """A labelled URL (Hugging Face, arXiv, code, project page, search)."""

    label: str
    url: str


@dataclass(frozen=True)
class Hit:
    """A paper retrieved for a query, with the scores that ranked it."""

    paper: Paper
    score: float
    best_sentence: str = ""
    sentence_score: float = 0.0
    dense_score: float = 0.0
    lexical_score: float = 0.0
    exact: bool = False


@dataclass(frozen=True)
class Source:
    """A cited paper in an answer: what a renderer needs, nothing more."""

    id: str
    paper_id: int
    title: str
    url: str
    score: float
    quote: str
    links: tuple[Link, ...] = ()
    authors: tuple[str, ...] = ()
    published: date | None = None
    # The full-text section its quote comes from ("4 Experiments"); empty for an abstract.
    section: str = ""


@dataclass(frozen=True)
class Quote:
    """A passage taken verbatim from an abstract or a full text (one sentence, or adjacent ones), with its source.

    ``section`` is the full-text section heading it stands under ("4 Experiments"); empty for an abstract.
    """

    text: str
    source_index: int
    score: float
    section: str = ""


class Basis(StrEnum):
    """What an answer about one paper was read from."""

    ABSTRACT = "abstract"
    FULL_TEXT = "full_text"


@dataclass(frozen=True)
class Section:
    """One section of a paper's full text: its heading as printed ("4 Experiments") and its sentences."""

    heading: str
    sentences: tuple[str, ...]


@dataclass(frozen=True)
class FullText:
    """A paper's full text as parsed: its sections in order, where it came from (``html``/``pdf``) and when."""

    source: str
    sections: tuple[Section, ...]
    fetched_at: datetime | None = None
    truncated: bool = False

    def sentences(self) -> list[tuple[str, str]]:
        """Every (section heading, sentence) in reading order."""
        return [(s.heading, text) for s in self.sections for text in s.sentences]

    @property
    def size(self) -> int:
        """Number of sentences."""
        return sum(len(s.sentences) for s in self.sections)


@dataclass(frozen=True)
class FullTextRecord:
    """What the library holds about a paper's full text: the text (``ok``) or why it could not be had."""

    paper_id: int
    status: str  # "ok" | "unavailable"
    fetched_at: datetime
    text: FullText | None = None
    reason: str = ""
    model: str = ""  # the model its sentence vectors were encoded with ("" without vectors)


@dataclass(frozen=True)
class ThreadContext:
    """A Discord thread opened on an answer: the papers it is about, until it expires."""

    thread_id: int
    guild_id: int | None
    paper_ids: tuple[int, ...]
    created_at: datetime
    expires_at: datetime


class Reason(StrEnum):
    """Why an answer has no quotes (``NONE``: it has); str-valued, so it reads and serializes as before."""

    NONE = ""
    EMPTY = "empty"  # no usable question
    NOT_COVERED = "not_covered"  # no paper of the library answers it
    NO_SUCH_PAPER = "no_such_paper"  # asking one paper: none matches what the user named
    NOT_IN_PAPER = "not_in_paper"  # asking one paper: its abstract does not say


@dataclass(frozen=True)
class Answer:
    """An extractive answer: quotes from abstracts, cited sources, or an abstention."""

    question: str
    text: str
    abstained: bool
    sources: tuple[Source, ...]
    quotes: tuple[Quote, ...] = ()
    took_ms: float = 0.0
    library_size: int = 0
    # Why there is no answer (decided in retrieval.query.abstain).
    reason: Reason = Reason.NONE
    confidence: float = 0.0
    # Asking one paper: what the quotes come from, and a line saying why not the full text when it could not be had.
    basis: Basis = Basis.ABSTRACT
    note: str = ""

    def to_json(self) -> dict[str, object]:
        """The JSON contract of ``paperbot ask --json``."""
        return {
            "question": self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "sources": [
                {"id": s.id, "title": s.title, "url": s.url, "score": round(s.score, 6), "quote": s.quote}
                | ({"section": s.section} if s.section else {})
                for s in self.sources
            ],
            "took_ms": round(self.took_ms, 3),
        } | ({"basis": str(self.basis), "note": self.note} if self.basis == Basis.FULL_TEXT or self.note else {})


@dataclass(frozen=True)
class DigestEntry:
    """One paper in a digest, with the links to show for it."""

    paper: Paper
    links: tuple[Link, ...] = ()
    topic_score: float | None = None


@dataclass(frozen=True)
class Digest:
    """The papers of one day (or of the week from ``since`` to ``day``), ranked.

    ``day`` is None when the library has no dated papers.
    """

    day: date | None
    entries: tuple[DigestEntry, ...]
    total: int
    topics: tuple[str, ...] = field(default_factory=tuple)
    since: date | None = None


@dataclass(frozen=True)
class Follow:
    """A user's followed topic or author; ``norm`` is its identity (normalized text)."""

    id: int
    user_id: int
    kind: str  # "topic" or "author"
    value: str
    norm: str


@dataclass(frozen=True)
class FollowMatch:
    """A paper that matched some of a user's follows, and how strongly (1.0 for an author)."""

    paper: Paper
    follows: tuple[Follow, ...]
    score: float


@dataclass
class UpsertReport:
    """What an upsert did: ids of new and changed papers, and how many were already up to date."""

    new: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    unchanged: int = 0


@dataclass(frozen=True)
class GuildSettings:
    """One server's daily-post settings."""

    guild_id: int
    channel_id: int
    post_time: time
    timezone: str
    topics: tuple[str, ...] = ()
    enabled: bool = True
    last_error: str | None = None
    updated_at: datetime | None = None
    frequency: str = "daily"  # or "weekly"
    weekday: int | None = None  # 0 = Monday; set when weekly


@dataclass(frozen=True)
class LogEntry:
    """One row of the digest log: a channel's post for one local day."""

    channel_id: int
    day: date
    status: str
    message_id: int | None
    claimed_at: datetime


FindingStatus = Literal["ok", "repaired", "problem"]


@dataclass(frozen=True)
class Finding:
    """One line of the doctor's report."""

    status: FindingStatus
    message: str

    def __str__(self) -> str:
        return f"{self.status}: {self.message}"
