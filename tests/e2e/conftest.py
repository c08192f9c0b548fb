"""The end-to-end launcher: a local Discord per test, and ``paperbot run`` as a real subprocess.

The bundled library is built once per session; a test that writes to it (digest settings, votes,
the daily feed) gets its own copy of the folder, so no bot process ever rebuilds the index.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from bench.discord_local.fake_discord import FakeDiscord

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0


@pytest.fixture(scope="session")
def built_library(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A snapshot of the session's bundled-corpus library (embedded once for the whole test session).

    ``PAPERBOT_E2E_LIBRARY=<folder of a built library>`` reuses one instead (running the e2e tests
    alone while developing, without the build). SQLite's backup API copies a consistent database
    even while the session library is open.
    """
    reuse = os.environ.get("PAPERBOT_E2E_LIBRARY")
    if reuse:
        source = Path(reuse)
    else:
        request.getfixturevalue("library")
        source = request.getfixturevalue("library_dir")
    folder = tmp_path_factory.mktemp("e2e-library") / "library"
    folder.mkdir()
    for item in source.iterdir():
        if item.is_dir():
            shutil.copytree(item, folder / item.name)
        elif item.suffix == ".sqlite3":
            with (
                contextlib.closing(sqlite3.connect(item)) as src,
                contextlib.closing(sqlite3.connect(folder / item.name)) as dst,
            ):
                src.backup(dst)
        elif not item.name.endswith(("-wal", "-shm", "-journal")):  # the backup holds what these did
            shutil.copy2(item, folder / item.name)
    return folder


@pytest.fixture
def data_dir(built_library: Path, tmp_path: Path) -> Path:
    """This test's own copy of the built library (a bot process may write to it)."""
    target = tmp_path / "library"
    shutil.copytree(built_library, target)
    return target


class BotProcess:
    """A running ``python -m bot run``: its log lines as they come, and a clean stop."""

    def __init__(self, proc: asyncio.subprocess.Process, name: str) -> None:
        self.proc = proc
        self.name = name
        self.lines: list[str] = []
        self._new_line = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stderr is not None
        async for raw in self.proc.stderr:
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))
            self._new_line.set()
        self._new_line.set()

    @property
    def log(self) -> str:
        return "\n".join(self.lines)

    async def wait_log(self, pattern: str, timeout: float = START_TIMEOUT) -> re.Match[str]:
        """The first log line matching ``pattern`` (fails with the whole log if it never comes)."""
        regex = re.compile(pattern)
        seen = 0
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for line in self.lines[seen:]:
                if match := regex.search(line):
                    return match
            seen = len(self.lines)
            if self._reader.done():
                raise AssertionError(f"{self.name} exited ({self.proc.returncode}) before {pattern!r}:\n{self.log}")
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"{self.name}: no log line {pattern!r} in {timeout} s:\n{self.log}")
            self._new_line.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_line.wait(), remaining)

    async def wait_exit(self, timeout: float = START_TIMEOUT) -> int:
        code = await asyncio.wait_for(self.proc.wait(), timeout)
        await self._reader
        return code

    async def stop(self) -> None:
        """Ctrl-C, as an operator would; killed if it does not stop within 15 s."""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._reader, 5)


Launcher = Callable[..., Awaitable[BotProcess]]


@pytest.fixture
async def discord_server() -> AsyncIterator[FakeDiscord]:
    """A local Discord with one server ("Test server", channel #general), on 127.0.0.1."""
    server = FakeDiscord()
    server.add_guild()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
def bot_env(data_dir: Path) -> dict[str, str]:
    """The environment every bot process starts with (a test may change it before launching)."""
    return {
        "PAPERBOT_DATA_DIR": str(data_dir),
        "PAPERBOT_LOG_LEVEL": "INFO",
        "PAPERBOT_ASK_COOLDOWN": "0",
        # Nothing listens on port 9: a daily post a test did not plan for cannot reach the internet.
        "PAPERBOT_HF_BASE": "http://127.0.0.1:9",
        "PAPERBOT_ARXIV_BASE": "off",
    }


@pytest.fixture
async def launch(bot_env: dict[str, str], tmp_path: Path) -> AsyncIterator[Launcher]:
    """``bot = await launch(server)``: ``paperbot run`` against ``server``; stopped after the test."""
    started: list[BotProcess] = []

    async def launcher(server: FakeDiscord, *, ready: bool = True, **overrides: str) -> BotProcess:
        """Start a bot process; with ``ready``, return once its gateway session has its servers."""
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DISCORD_", "PAPERBOT_")) and key != "PYTHONPATH"
        }
        env |= {
            "PYTHONPATH": str(ROOT),
            "HF_HUB_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
            "DISCORD_TOKEN": server.token,
            "PAPERBOT_DISCORD_API_BASE": server.api_base,
        }
        env |= bot_env | overrides
        known = len(server.sessions)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            cwd=tmp_path,  # no .env of the developer's checkout
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        bot = BotProcess(proc, f"bot#{len(started)}")
        started.append(bot)
        if ready:
            waiting = asyncio.ensure_future(server.wait_connected(known, START_TIMEOUT))
            exited = asyncio.ensure_future(proc.wait())
            await asyncio.wait({waiting, exited}, return_when=asyncio.FIRST_COMPLETED)
            exited.cancel()
            if not waiting.done():
                waiting.cancel()
                await bot.stop()
                raise AssertionError(f"{bot.name} exited ({proc.returncode}) before connecting:\n{bot.log}")
            waiting.result()
        return bot

    yield launcher
    for bot in started:
        await bot.stop()


@pytest.fixture
def no_rejections(discord_server: FakeDiscord) -> Iterator[FakeDiscord]:
    """The server, checked after the test: Discord refused nothing the bot sent (other than armed faults)."""
    yield discord_server
    unexpected = [r for r in discord_server.rejected if r["status"] != 429]
    assert not unexpected, f"Discord refused: {unexpected}"
