"""The SQLite database: one file, WAL mode, schema migrations by ``user_version``.

All SQLite I/O of the project goes through a :class:`Database`. It is safe to share
between threads (calls are serialized by a lock) because the Discord adapter runs
library work in ``asyncio.to_thread``.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from retrieval.storage.errors import StorageError

log = logging.getLogger(__name__)

# Each entry upgrades the schema by one version; never edit a shipped entry, append.
MIGRATIONS: tuple[str, ...] = (
    # v1: papers, the days listings showed them, full-text index, bot state.
    """
    CREATE TABLE papers (
        id INTEGER PRIMARY KEY,
        ext_id TEXT NOT NULL UNIQUE,
        arxiv_id TEXT UNIQUE,
        title TEXT NOT NULL,
        norm_title TEXT NOT NULL,
        abstract TEXT NOT NULL,
        url TEXT,
        authors TEXT NOT NULL DEFAULT '[]',
        author_count INTEGER,
        published TEXT,
        upvotes INTEGER,
        github TEXT,
        project_page TEXT,
        source TEXT NOT NULL,
        text_hash TEXT NOT NULL,
        added_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
        updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
    );
    CREATE INDEX papers_norm_title ON papers(norm_title);
    CREATE TABLE paper_days (
        paper_id INTEGER NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
        day TEXT NOT NULL,
        PRIMARY KEY (paper_id, day)
    );
    CREATE INDEX paper_days_day ON paper_days(day);
    CREATE VIRTUAL TABLE papers_fts USING fts5(
        title, abstract, content='papers', content_rowid='id',
        tokenize='porter unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER papers_ai AFTER INSERT ON papers BEGIN
        INSERT INTO papers_fts(rowid, title, abstract) VALUES (new.id, new.title, new.abstract);
    END;
    CREATE TRIGGER papers_ad AFTER DELETE ON papers BEGIN
        INSERT INTO papers_fts(papers_fts, rowid, title, abstract)
        VALUES ('delete', old.id, old.title, old.abstract);
    END;
    CREATE TRIGGER papers_au AFTER UPDATE OF title, abstract ON papers BEGIN
        INSERT INTO papers_fts(papers_fts, rowid, title, abstract)
        VALUES ('delete', old.id, old.title, old.abstract);
        INSERT INTO papers_fts(rowid, title, abstract) VALUES (new.id, new.title, new.abstract);
    END;
    CREATE TABLE guild_settings (
        guild_id INTEGER PRIMARY KEY,
        channel_id INTEGER NOT NULL,
        post_time TEXT NOT NULL,
        timezone TEXT NOT NULL,
        topics TEXT NOT NULL DEFAULT '[]',
        enabled INTEGER NOT NULL DEFAULT 1,
        last_error TEXT,
        updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
    );
    CREATE TABLE digest_log (
        channel_id INTEGER NOT NULL,
        day TEXT NOT NULL,
        status TEXT NOT NULL,
        message_id INTEGER,
        claimed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
        PRIMARY KEY (channel_id, day)
    );
    CREATE TABLE feedback (
        id INTEGER PRIMARY KEY,
        question TEXT NOT NULL,
        paper_ext_id TEXT,
        user_id INTEGER NOT NULL,
        vote INTEGER NOT NULL CHECK (vote IN (-1, 1)),
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
        UNIQUE (question, paper_ext_id, user_id)
    );
    """,
    # v2: each paper's sentence vectors, committed with the paper (one chunk = one transaction), so
    # the FAISS files are derived data and an interrupted import resumes; a key/value table for
    # library-level state (e.g. an unfinished seeding).
    """
    CREATE TABLE paper_vectors (
        paper_id INTEGER NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
        model TEXT NOT NULL,
        text_hash TEXT NOT NULL,
        count INTEGER NOT NULL,
        dimension INTEGER NOT NULL,
        vectors BLOB NOT NULL,
        PRIMARY KEY (paper_id, model)
    );
    CREATE INDEX paper_vectors_model ON paper_vectors(model);
    CREATE TABLE library_meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
    # v3: weekly digests, the role allowed to add papers, follows and what they sent.
    """
    ALTER TABLE guild_settings ADD COLUMN frequency TEXT NOT NULL DEFAULT 'daily';
    ALTER TABLE guild_settings ADD COLUMN weekday INTEGER;
    CREATE TABLE library_roles (
        guild_id INTEGER PRIMARY KEY,
        role_id INTEGER NOT NULL
    );
    CREATE TABLE follows (
        id INTEGER PRIMARY KEY,
        user_id INTEGER NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('topic', 'author')),
        value TEXT NOT NULL,
        norm TEXT NOT NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
        UNIQUE (user_id, kind, norm)
    );
    CREATE INDEX follows_user ON follows(user_id);
    CREATE TABLE follow_users (
        user_id INTEGER PRIMARY KEY,
        dms_closed_at TEXT,
        last_error TEXT
    );
    CREATE TABLE follow_dm_log (
        user_id INTEGER NOT NULL,
        day TEXT NOT NULL,
        status TEXT NOT NULL,
        claimed_at TEXT NOT NULL,
        PRIMARY KEY (user_id, day)
    );
    CREATE TABLE follow_sent (
        user_id INTEGER NOT NULL,
        paper_id INTEGER NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
        day TEXT NOT NULL,
        PRIMARY KEY (user_id, paper_id)
    );
    """,
    # v4 (collections, issue 21 part 3): a server's private reading list. ``owner`` is the collection a
    # paper belongs to (a guild id; a name in the CLI), NULL for the shared library. Ids are unique
    # per owner, not globally (a private copy of a shared paper is its own row), so the table is
    # rebuilt (SQLite cannot drop a column's UNIQUE): rows keep their ids, the FTS index (keyed by
    # rowid) stays valid, its triggers come back. Run with foreign keys off (see Database._migrate).
    """
    CREATE TABLE papers_v4 (
        id INTEGER PRIMARY KEY,
        ext_id TEXT NOT NULL,
        arxiv_id TEXT,
        title TEXT NOT NULL,
        norm_title TEXT NOT NULL,
        abstract TEXT NOT NULL,
        url TEXT,
        authors TEXT NOT NULL DEFAULT '[]',
        author_count INTEGER,
        published TEXT,
        upvotes INTEGER,
        github TEXT,
        project_page TEXT,
        source TEXT NOT NULL,
        text_hash TEXT NOT NULL,
        added_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
        updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
        owner TEXT
    );
    INSERT INTO papers_v4 (id, ext_id, arxiv_id, title, norm_title, abstract, url, authors, author_count,
        published, upvotes, github, project_page, source, text_hash, added_at, updated_at)
    SELECT id, ext_id, arxiv_id, title, norm_title, abstract, url, authors, author_count,
        published, upvotes, github, project_page, source, text_hash, added_at, updated_at FROM papers;
    DROP TABLE papers;
    ALTER TABLE papers_v4 RENAME TO papers;
    CREATE INDEX papers_norm_title ON papers(norm_title);
    CREATE UNIQUE INDEX papers_owner_ext_id ON papers(COALESCE(owner, ''), ext_id);
    CREATE UNIQUE INDEX papers_owner_arxiv_id ON papers(COALESCE(owner, ''), arxiv_id) WHERE arxiv_id IS NOT NULL;
    CREATE INDEX papers_ext_id ON papers(ext_id);
    CREATE INDEX papers_arxiv_id ON papers(arxiv_id);
    -- The private papers only (few): a collection's list, and the ids a scope hides.
    CREATE INDEX papers_owner ON papers(owner, id) WHERE owner IS NOT NULL;
    CREATE TRIGGER papers_ai AFTER INSERT ON papers BEGIN
        INSERT INTO papers_fts(rowid, title, abstract) VALUES (new.id, new.title, new.abstract);
    END;
    CREATE TRIGGER papers_ad AFTER DELETE ON papers BEGIN
        INSERT INTO papers_fts(papers_fts, rowid, title, abstract)
        VALUES ('delete', old.id, old.title, old.abstract);
    END;
    CREATE TRIGGER papers_au AFTER UPDATE OF title, abstract ON papers BEGIN
        INSERT INTO papers_fts(papers_fts, rowid, title, abstract)
        VALUES ('delete', old.id, old.title, old.abstract);
        INSERT INTO papers_fts(rowid, title, abstract) VALUES (new.id, new.title, new.abstract);
    END;
    """,
    # v5 (issue 21, parts 1-2): papers' full texts — one row per paper (ok with its sentence vectors, or why it could
    # not be had), its sentences in reading order with their section — and threads opened on answers.
    """
    CREATE TABLE fulltexts (
        paper_id INTEGER PRIMARY KEY REFERENCES papers(id) ON DELETE CASCADE,
        status TEXT NOT NULL CHECK (status IN ('ok', 'unavailable')),
        source TEXT,
        reason TEXT NOT NULL DEFAULT '',
        fetched_at TEXT NOT NULL,
        truncated INTEGER NOT NULL DEFAULT 0,
        model TEXT NOT NULL DEFAULT '',
        dimension INTEGER NOT NULL DEFAULT 0,
        vectors BLOB
    );
    CREATE TABLE fulltext_sentences (
        paper_id INTEGER NOT NULL REFERENCES fulltexts(paper_id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        section INTEGER NOT NULL,
        heading TEXT NOT NULL,
        text TEXT NOT NULL,
        PRIMARY KEY (paper_id, position)
    );
    CREATE TABLE thread_context (
        thread_id INTEGER PRIMARY KEY,
        guild_id INTEGER,
        paper_ids TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL
    );
    CREATE INDEX thread_context_expires ON thread_context(expires_at);
    """,
    # v6: each paper's whole-paper vector ("title. abstract" encoded as one text; see whole.py),
    # current while its text hash is the paper's; older libraries are backfilled on open.
    """
    CREATE TABLE paper_whole (
        paper_id INTEGER NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
        model TEXT NOT NULL,
        text_hash TEXT NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (paper_id, model)
    );
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)


def to_iso(moment: datetime) -> str:
    """An aware datetime as the UTC text SQLite rows keep (``2026-11-20T12:00:00Z``)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_iso(text: str) -> datetime:
    """The aware UTC datetime of a stored :func:`to_iso` text."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


class DatabaseError(StorageError):
    """The database file cannot be opened or is not a paperbot library."""


class DatabaseFull(DatabaseError):
    """A write failed because the disk is full; the transaction was rolled back, nothing stored was lost."""


class DatabaseReadOnly(DatabaseError):
    """A write was refused because the library is read-only."""


# SQLite's primary result codes (sqlite3.Error.sqlite_errorcode & 0xff) that a user can act on.
_SQLITE_READONLY, _SQLITE_IOERR, _SQLITE_FULL, _SQLITE_CANTOPEN = 8, 10, 13, 14


def _write_error(path: Path, exc: sqlite3.Error) -> Exception:
    """The clear error for a failed write, or ``exc`` itself when it is not about the disk."""
    code = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
    folder = path.parent
    if code == _SQLITE_FULL:
        return DatabaseFull(
            f"the disk holding {folder} is full: this change was not saved and nothing stored before was lost;"
            " free some space and run it again"
        )
    if code == _SQLITE_READONLY:
        return DatabaseReadOnly(f"the library in {folder} is read-only: questions work, changes cannot be saved")
    if code in (_SQLITE_IOERR, _SQLITE_CANTOPEN):
        return DatabaseError(
            f"cannot write the library in {folder} ({exc}): this change was not saved and nothing stored before"
            " was lost"
        )
    return exc


class Database:
    """A thread-safe SQLite connection with migrations applied on open."""

    def __init__(self, path: Path | str, read_only: bool = False) -> None:
        """Open (creating if needed) the database at ``path``.

        ``read_only``: open an existing file for reading only (``mode=ro``; on a folder where SQLite cannot
        even create its shared-memory file, ``immutable=1``); nothing is written, writes raise
        :class:`DatabaseReadOnly`.
        """
        self.path = Path(path)
        self.read_only = read_only
        if str(path) != ":memory:" and not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            if read_only:
                self._conn = self._connect_read_only()
            else:
                self._conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30.0, isolation_level=None)
                self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.row_factory = sqlite3.Row
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._conn.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.DatabaseError as exc:
            raise DatabaseError(f"cannot open library database {path}: {exc}") from exc
        self._lock = threading.RLock()
        self._migrate()

    def _connect_read_only(self) -> sqlite3.Connection:
        base = f"file:{quote(str(self.path.resolve()))}?mode=ro"
        for uri in (base, base + "&immutable=1"):
            conn = sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=30.0, isolation_level=None)
            try:
                conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            except sqlite3.OperationalError:
                conn.close()
                continue
            log.info("opened %s read-only (%s)", self.path, uri.rsplit("?", 1)[1])
            return conn
        raise sqlite3.OperationalError("unable to open the database file read-only")

    def _migrate(self) -> None:
        with self._lock:
            try:
                version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            except sqlite3.DatabaseError as exc:
                raise DatabaseError(f"{self.path} is not a usable SQLite database: {exc}") from exc
            if version > SCHEMA_VERSION:
                raise DatabaseError(
                    f"{self.path} has schema v{version}, newer than this paperbot (v{SCHEMA_VERSION}); upgrade paperbot"
                )
            if version < SCHEMA_VERSION and self.read_only:
                raise DatabaseError(
                    f"{self.path} needs an upgrade (schema v{version} to v{SCHEMA_VERSION}) but its folder is"
                    " read-only; open it once with write access"
                )
            if version == SCHEMA_VERSION:
                return
            # Foreign keys off while migrating (SQLite's procedure for rebuilding a table: dropping the
            # old one must not cascade into its children), checked before each commit, then on again.
            self._conn.execute("PRAGMA foreign_keys=OFF")
            try:
                for number in range(version, SCHEMA_VERSION):
                    log.info("migrating %s to schema v%d", self.path, number + 1)
                    # executescript commits first; wrap the migration, its check and version bump together.
                    self._conn.executescript(f"BEGIN;\n{MIGRATIONS[number]}\n")
                    broken = self._conn.execute("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        self._conn.execute("ROLLBACK")
                        raise DatabaseError(f"migration to v{number + 1} broke {len(broken)} foreign keys; not applied")
                    self._conn.execute(f"PRAGMA user_version = {number + 1}")
                    self._conn.execute("COMMIT")
            finally:
                self._conn.execute("PRAGMA foreign_keys=ON")

    @property
    def schema_version(self) -> int:
        """The schema version of the open file."""
        with self._lock:
            return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run a block atomically (``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back on error)."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self._conn
                except BaseException:
                    if self._conn.in_transaction:  # SQLite rolls back by itself after some errors (a full disk)
                        self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._conn.in_transaction:  # a failed COMMIT (a full disk) leaves the transaction open
                    self._conn.execute("ROLLBACK")
                error = _write_error(self.path, exc)
                if error is exc:
                    raise
                log.debug("write failed", exc_info=True)
                raise error from exc

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """Serialized access for reads (autocommit; each statement sees committed data)."""
        with self._lock:
            yield self._conn

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()
