"""Open the library's storage: the SQLite folder by default, PostgreSQL when a database URL is given.

The only module that names a backend; everything above storage sees the protocols.
"""

from __future__ import annotations

from pathlib import Path

from retrieval.models import Finding
from retrieval.storage.errors import StorageError
from retrieval.storage.protocol import Storage
from retrieval.storage.rules import redact


def open_storage(data_dir: Path, url: str | None = None, *, hnsw_threshold: int = 20_000) -> Storage:
    """The SQLite library in ``data_dir``, or the PostgreSQL database at ``url``.

    ``hnsw_threshold`` (``PAPERBOT_HNSW_THRESHOLD``): from this many papers the SQLite library's
    FAISS index is HNSW instead of exact (PostgreSQL always uses its HNSW index).

    The PostgreSQL backend (psycopg, pgvector) is imported only when a URL is given.
    """
    if url:
        if not url.startswith(("postgresql://", "postgres://")):
            raise StorageError(f"unsupported database URL {redact(url)!r}: use postgresql://user:pass@host:5432/db")
        from retrieval.storage.postgres.storage import PostgresStorage

        return PostgresStorage(url)
    from retrieval.storage.sqlite.storage import SqliteStorage

    return SqliteStorage(data_dir, hnsw_threshold=hnsw_threshold)


def check_files(data_dir: Path, url: str | None = None) -> tuple[list[Finding], str | None, bool]:
    """The backend's own checks for ``paperbot doctor``, before the library is opened.

    (findings, why the index files are unusable or None, whether the library cannot be opened at all).
    PostgreSQL checks its own files; the doctor's other checks run through the library.
    """
    if url:
        return [], None, False
    from retrieval.storage.sqlite.doctor import check_files as check_sqlite_files

    return check_sqlite_files(data_dir)
