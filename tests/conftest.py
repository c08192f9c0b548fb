"""Shared fixtures: a real library over the bundled corpus, built once per session, and small ones."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import date
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Tests never reach arXiv: full texts come from local servers the tests start (and name themselves).
os.environ.setdefault("PAPERBOT_ARXIV_BASE", "off")
# One ONNX export of the model for the whole session (and its subprocesses), not the user's cache;
# a developer may point PAPERBOT_CACHE_DIR at a kept folder to skip even that.
if "PAPERBOT_CACHE_DIR" not in os.environ:
    _CACHE = tempfile.mkdtemp(prefix="paperbot-test-cache-")
    os.environ["PAPERBOT_CACHE_DIR"] = _CACHE
    atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)

from bench.pg_server import TestServer
from retrieval.library import Library
from retrieval.models import Paper
from retrieval.settings import Settings
from retrieval.storage.factory import open_storage
from retrieval.storage.protocol import Storage
from tests.retrieval.sources.feed_support import ServerPool

DATA = Path(__file__).parent / "data"
# The settings in-process libraries and encoders of the tests use: the session's export cache above.
SETTINGS = Settings.from_env(dotenv=False)


@pytest.fixture(scope="session")
def library_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of the session's bundled-corpus library."""
    return tmp_path_factory.mktemp("bundled-library")


@pytest.fixture(scope="session")
def library(library_dir: Path) -> Iterator[Library]:
    """The bundled corpus, embedded once for the whole session (the most expensive fixture)."""
    lib = Library.open(library_dir, settings=SETTINGS)
    yield lib
    lib.close()


def make_papers(n: int, prefix: str = "Paper") -> list[Paper]:
    """``n`` small, distinct papers on different topics."""
    topics = [
        ("Sparse mixture of experts routing", "Routing tokens to experts lets models grow without more compute."),
        ("Protein structure prediction with attention", "Attention over residue pairs predicts folded structures."),
        ("Speech recognition for low-resource languages", "Self-supervised audio pretraining cuts word error rates."),
        ("Graph neural networks for molecules", "Message passing over atoms predicts molecular properties."),
        ("Diffusion models for image synthesis", "Iterative denoising generates high-fidelity images."),
        ("Reinforcement learning from human feedback", "A reward model trained on preferences guides the policy."),
        ("Quantization of large language models", "Four-bit weights keep accuracy while cutting memory use."),
        ("Contrastive learning of visual features", "Augmented views of one image are pulled together."),
    ]
    papers = []
    for i in range(n):
        title, line = topics[i % len(topics)]
        papers.append(
            Paper(
                title=f"{prefix} {i}: {title}",
                abstract=f"{line} We study this problem in setting number {i}. Results improve on strong baselines.",
                ext_id=f"{prefix.lower()}-{i}",
                listed_on=date(2026, 11, 20),
                upvotes=i,
                source="test",
            )
        )
    return papers


@pytest.fixture
def small_library(tmp_path: Path) -> Iterator[Library]:
    """A fresh library of eight papers (no bundled corpus)."""
    lib = Library.open(tmp_path / "small", settings=SETTINGS, seed_default_corpus=False)
    lib.add_papers(make_papers(8))
    yield lib
    lib.close()


@pytest.fixture
def open_library(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> Iterator[Callable[..., Library]]:
    """Open libraries in this test's folder (or, on the postgres backend, its database); all closed afterwards.

    On PostgreSQL every name opens the same database: a second name stands for another process.
    """
    opened: list[Library] = []
    url = request.getfixturevalue("pg_url") if backend == "postgres" else None

    def opener(name: str = "lib", **kwargs: object) -> Library:
        kwargs.setdefault("seed_default_corpus", False)
        kwargs.setdefault("database_url", url)
        kwargs.setdefault("settings", SETTINGS)
        lib = Library.open(tmp_path / name, **kwargs)  # type: ignore[arg-type]
        opened.append(lib)
        return lib

    yield opener
    for lib in opened:
        lib.close()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[str]]]:
    """``base = await serve(handler[, path])``: a real HTTP server on 127.0.0.1 for this test."""
    pool = ServerPool()
    yield pool.serve
    await pool.close()


# -- PostgreSQL: one server per session, a fresh database per test ----------------------------


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestServer]:
    """A real PostgreSQL 18 + pgvector server on 127.0.0.1, started on first use, stopped at the end."""
    server = TestServer().start()
    yield server
    server.stop()


_databases = iter(range(1, 1_000_000))


@pytest.fixture
def pg_url(pg_server: TestServer) -> str:
    """The URL of a new, empty database on the session's server."""
    return pg_server.create_database(f"test_{next(_databases)}")


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """ "sqlite" unless a test or module parametrizes it indirectly (see ``BACKENDS``)."""
    return getattr(request, "param", "sqlite")


BACKENDS = pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)


@pytest.fixture
def location(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, str | None]:
    """(data folder, database URL) of this test's library on its backend (the URL is None for SQLite)."""
    url = request.getfixturevalue("pg_url") if backend == "postgres" else None
    return tmp_path / "lib", url


@pytest.fixture
def open_store(location: tuple[Path, str | None]) -> Iterator[Callable[[], Storage]]:
    """Open the test's storage (again: each call is a new connection, as another process would have)."""
    opened: list[Storage] = []

    def opener() -> Storage:
        storage = open_storage(*location)
        opened.append(storage)
        return storage

    yield opener
    for storage in opened:
        storage.close()
