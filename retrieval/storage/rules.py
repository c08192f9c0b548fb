"""Rules every backend applies alike: how a record merges into a stored paper, a paper's vector, chunking.

Backends share these through this module, never through each other's modules.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from retrieval.errors import UserFacingError
from retrieval.models import FullText, Paper, Scope, Section
from retrieval.text import text_hash

T = TypeVar("T")


def paper_vectors(sentence_vectors: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Each paper's vector: the normalized mean of its sentence vectors.

    Measured against encoding title + abstract in one pass (dev questions and claims): the
    same Recall@1, while covering the whole abstract instead of the model's first 256
    tokens, and embedding each text once halves build and ingest time.
    """
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    # Summed in float32 straight from float16 rows: no float32 copy of every sentence vector.
    sums = np.add.reduceat(sentence_vectors, starts, axis=0, dtype=np.float32)
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    return (sums / np.maximum(norms, 1e-12)).astype(np.float32)


def merge_paper(old: Paper, new: Paper, by_id: bool) -> Paper:
    """What a stored paper becomes when a new record of it arrives (both backends merge alike).

    Text changes only when the same record (by id) says so; a title match keeps the stored text.
    The rest fills in what the new record adds (arXiv id, links, authors, fresher upvotes).
    """
    title, abstract = old.title, old.abstract
    if by_id and new.abstract and (new.title, new.abstract) != (old.title, old.abstract):
        title, abstract = new.title, new.abstract
    return replace(
        old,
        title=title,
        abstract=abstract,
        arxiv_id=old.arxiv_id or new.arxiv_id,
        url=new.url or old.url,
        authors=new.authors or old.authors,
        author_count=new.author_count or (len(new.authors) if new.authors else None) or old.author_count,
        published=old.published or new.published,
        upvotes=new.upvotes if new.upvotes is not None else old.upvotes,
        github=new.github or old.github,
        project_page=new.project_page or old.project_page,
    )


def stored_record(old: Paper | None, new: Paper, by_id: bool) -> tuple[Paper, str]:
    """What a backend stores for ``new``: the paper (merged into ``old`` when one matched) and its text hash.

    ``by_id`` says whether ``old`` matched by arXiv or source id (not by title): see :func:`merge_paper`.
    """
    paper = new if old is None else merge_paper(old, new, by_id)
    return paper, text_hash(paper.title, paper.abstract)


# A collection's name: a guild id, or a CLI name (letters, digits, - _ .).
_COLLECTION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def check_collection(name: str) -> str:
    """A valid collection name (1-64 letters, digits, ``-``, ``_``, ``.``), or a UserFacingError."""
    name = name.strip()
    if not _COLLECTION.match(name):
        raise UserFacingError(
            f"{name[:70]!r} is not a collection name: use 1-64 letters, digits, '-', '_' or '.' (a server's is its id)"
        )
    return name


def visible_sql(scope: Scope, mark: str, column: str = "owner") -> tuple[str, tuple[str | None, ...]]:
    """The visibility rule of :class:`~retrieval.models.Scope` as a SQL condition and its parameters.

    ``mark`` is the backend's placeholder (``?`` or ``%s``); ``column`` the owner column (with its
    table alias where needed). Shared papers (owner NULL) and the scope's own collection pass; with
    no collection ``owner = NULL`` is never true, so only shared papers do.
    """
    if scope.everything:
        return "TRUE", ()
    return f"({column} IS NULL OR {column} = {mark})", (scope.collection,)


def redact(url: str) -> str:
    """A database URL with its password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def iter_chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """``items`` in consecutive slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def sections_from_rows(rows: list[tuple[int, str, str]]) -> tuple[Section, ...]:
    """Sections rebuilt from (section index, heading, sentence) rows in reading order."""
    sections: list[tuple[int, str, list[str]]] = []
    for index, heading, text in rows:
        if not sections or sections[-1][0] != index:
            sections.append((index, heading, []))
        sections[-1][2].append(text)
    return tuple(Section(heading, tuple(texts)) for _, heading, texts in sections)


def sentence_rows(paper_id: int, text: FullText) -> list[tuple[int, int, int, str, str]]:
    """(paper, position, section index, heading, sentence) rows of a full text."""
    rows = []
    position = 0
    for index, section in enumerate(text.sections):
        for sentence in section.sentences:
            rows.append((paper_id, position, index, section.heading, sentence))
            position += 1
    return rows
