"""The default backend: one SQLite file and an in-process FAISS index in the data folder."""

from __future__ import annotations

import contextlib
import fcntl
import logging
from collections.abc import Iterator
from pathlib import Path

from retrieval.storage.errors import StorageError
from retrieval.storage.sqlite.db import Database
from retrieval.storage.sqlite.files import is_writable
from retrieval.storage.sqlite.fulltext import SqliteFullTextStore
from retrieval.storage.sqlite.index import HNSW_THRESHOLD, SqliteVectorIndex
from retrieval.storage.sqlite.state import SqliteStateStore
from retrieval.storage.sqlite.store import SqlitePaperStore

log = logging.getLogger(__name__)

DB_NAME = "library.sqlite3"
INDEX_DIR = "index"


class SqliteStorage:
    """:class:`retrieval.storage.protocol.Storage` for a library folder."""

    backend = "sqlite"

    def __init__(self, data_dir: Path, hnsw_threshold: int = HNSW_THRESHOLD) -> None:
        self.data_dir = Path(data_dir)
        self.hnsw_threshold = hnsw_threshold
        if self.data_dir.exists() and not self.data_dir.is_dir():
            raise StorageError(f"{self.data_dir} is a file; the library needs a folder (--data-dir)")
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create the library folder {self.data_dir}: {exc.strerror or exc}") from exc
        # Read-only (a read-only mount, a folder without write permission): questions only, nothing written.
        self.read_only = not is_writable(self.data_dir)
        if self.read_only:
            if not (self.data_dir / DB_NAME).is_file():
                raise StorageError(
                    f"the library folder {self.data_dir} is read-only and holds no library;"
                    " paperbot must write there to build one (choose another --data-dir)"
                )
            log.info("the library folder %s is read-only: answering from it, nothing will be saved", self.data_dir)
        self.db = Database(self.data_dir / DB_NAME, read_only=self.read_only)
        self.papers = SqlitePaperStore(self.db)
        self.state = SqliteStateStore(self.db)
        self.fulltext = SqliteFullTextStore(self.db)

    def prepare_vectors(self, model: str, dimension: int) -> None:
        """Nothing to do: vectors of any model share one table, keyed by model."""

    def open_index(self, dimension: int, model: str) -> SqliteVectorIndex:
        """Load the FAISS index and extend or rebuild it from the stored vectors."""
        return SqliteVectorIndex.open(
            self.data_dir / INDEX_DIR,
            self.papers,
            dimension,
            model,
            read_only=self.read_only,
            hnsw_threshold=self.hnsw_threshold,
        )

    @contextlib.contextmanager
    def exclusive(self, name: str) -> Iterator[bool]:
        """A non-blocking ``flock`` on ``<data dir>/.<name>.lock``: yields False while another process holds it
        (always False on a read-only library, which cannot be changed)."""
        if self.read_only:
            yield False
            return
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
