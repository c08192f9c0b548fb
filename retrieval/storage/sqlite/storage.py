"""The default backend: one SQLite file and an in-process FAISS index in the data folder."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

from retrieval.storage.sqlite.db import Database
from retrieval.storage.sqlite.fulltext import SqliteFullTextStore
from retrieval.storage.sqlite.index import HNSW_THRESHOLD, SqliteVectorIndex
from retrieval.storage.sqlite.state import SqliteStateStore
from retrieval.storage.sqlite.store import SqlitePaperStore

DB_NAME = "library.sqlite3"
INDEX_DIR = "index"


class SqliteStorage:
    """:class:`retrieval.storage.protocol.Storage` for a library folder."""

    backend = "sqlite"

    def __init__(self, data_dir: Path, hnsw_threshold: int = HNSW_THRESHOLD) -> None:
        self.data_dir = Path(data_dir)
        self.hnsw_threshold = hnsw_threshold
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.db = Database(self.data_dir / DB_NAME)
        self.papers = SqlitePaperStore(self.db)
        self.state = SqliteStateStore(self.db)
        self.fulltext = SqliteFullTextStore(self.db)

    def prepare_vectors(self, model: str, dimension: int) -> None:
        """Nothing to do: vectors of any model share one table, keyed by model."""

    def open_index(self, dimension: int, model: str) -> SqliteVectorIndex:
        """Load the FAISS index and extend or rebuild it from the stored vectors."""
        return SqliteVectorIndex.open(self.data_dir / INDEX_DIR, self.papers, dimension, model, self.hnsw_threshold)

    @contextlib.contextmanager
    def exclusive(self, name: str) -> Iterator[bool]:
        """A non-blocking ``flock`` on ``<data dir>/.<name>.lock``: yields False while another process holds it."""
        with open(self.data_dir / f".{name}.lock", "a+") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def describe(self) -> str:
        """The library folder."""
        return str(self.data_dir)

    def close(self) -> None:
        """Close the database file."""
        self.db.close()
