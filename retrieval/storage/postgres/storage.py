"""The PostgreSQL backend: papers, vectors and bot state in one database shared by many processes."""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Iterator

import psycopg
from pgvector.psycopg import register_vector
from psycopg_pool import ConnectionPool, PoolTimeout

from retrieval.storage.errors import StorageError
from retrieval.storage.postgres.fulltext import PgFullTextStore
from retrieval.storage.postgres.index import PgVectorIndex
from retrieval.storage.postgres.schema import LOCK_NAMED, migrate
from retrieval.storage.postgres.state import PgStateStore
from retrieval.storage.postgres.store import PgPaperStore
from retrieval.storage.postgres.vectors import EF_SEARCH, ensure_vector_table
from retrieval.storage.rules import redact

log = logging.getLogger(__name__)

POOL_SIZE = 4
CONNECT_TIMEOUT = 10.0


def _configure(conn: psycopg.Connection) -> None:
    register_vector(conn)
    # HNSW candidates examined per query (pgvector's default 40 would cap a query's results at 40).
    conn.execute(f"SET hnsw.ef_search = {EF_SEARCH}")


class PostgresStorage:
    """:class:`retrieval.storage.protocol.Storage` on a PostgreSQL database with pgvector."""

    backend = "postgres"
    read_only = False  # a read-only database role shows up as errors on write, not here

    def __init__(self, url: str, pool_size: int = POOL_SIZE) -> None:
        self.url = url
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=int(CONNECT_TIMEOUT)) as conn:
                self.schema_version = migrate(conn)
        except psycopg.Error as exc:
            raise StorageError(f"cannot use the PostgreSQL library at {redact(url)}: {exc}".strip()) from exc
        self.pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs={"autocommit": True},
            configure=_configure,
            open=False,
            timeout=CONNECT_TIMEOUT,
            name="paperbot",
        )
        try:
            self.pool.open(wait=True, timeout=CONNECT_TIMEOUT)
        except PoolTimeout as exc:
            self.pool.close()
            raise StorageError(f"cannot connect to {redact(url)}: {exc}") from exc
        self.papers = PgPaperStore(self.pool)
        self.state = PgStateStore(self.pool)
        self.fulltext = PgFullTextStore(self.pool)

    def prepare_vectors(self, model: str, dimension: int) -> None:
        """The vector table for ``model`` (replaced, so re-embedded, when another model built it)."""
        ensure_vector_table(self.pool, model, dimension)

    def open_index(self, dimension: int, model: str) -> PgVectorIndex:
        """Search over the stored vectors (nothing to load: it runs in the database)."""
        return PgVectorIndex(self.pool, dimension, model)

    @contextlib.contextmanager
    def exclusive(self, name: str) -> Iterator[bool]:
        """``pg_try_advisory_lock`` held on one pooled connection for the block: yields whether it was taken.

        A session lock, so a process that dies releases it with its connection.
        """
        key = LOCK_NAMED + int.from_bytes(hashlib.sha1(name.encode()).digest()[:3], "big")
        with self.pool.connection() as conn:
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
            taken = bool(row and row[0])
            try:
                yield taken
            finally:
                if taken:
                    conn.execute("SELECT pg_advisory_unlock(%s)", (key,))

    def describe(self) -> str:
        """The database URL, password hidden."""
        return redact(self.url)

    def close(self) -> None:
        """Close every pooled connection."""
        self.pool.close()
