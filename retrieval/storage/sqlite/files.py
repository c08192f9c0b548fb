"""The index folder's files: atomic, fsynced writes, checksums, and what a failed save leaves behind."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

# The files of one index generation (their sha256 are in the manifest).
FILES = ("papers.faiss", "paper_ids.npy", "sent_vecs.npy", "sent_offsets.npy")


class IndexCorrupt(RuntimeError):
    """The index files are missing, unreadable or inconsistent."""


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file, fsynced, then ``os.replace``d."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_file(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Create ``path`` with what ``write`` writes, fsynced (a full disk fails here, not later)."""
    with open(path, "wb") as fh:
        write(fh)
        fh.flush()
        os.fsync(fh.fileno())


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def remove_leftovers(directory: Path) -> list[str]:
    """Delete what an interrupted or failed save left: ``.gen-*.tmp`` folders, ``.manifest.json.*.tmp`` files."""
    removed = []
    for leftover in directory.glob(".*.tmp"):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                leftover.unlink()
        removed.append(leftover.name)
    return removed


def is_writable(directory: Path) -> bool:
    """Whether files can be created in ``directory`` (False on a read-only mount or without permission).

    A full disk does not make a folder read-only: its writes fail later, each with its own clear error.
    """
    probe = directory / f".write-probe.{os.getpid()}.tmp"
    try:
        probe.touch()
    except OSError as exc:
        return exc.errno not in (errno.EROFS, errno.EACCES, errno.EPERM)
    with contextlib.suppress(OSError):
        probe.unlink()
    return True


def verify_files(manifest: dict[str, object], gen_dir: Path) -> None:
    """Raise IndexCorrupt unless every index file has the sha256 the manifest lists."""
    sums = manifest.get("sha256")
    if not isinstance(sums, dict) or set(sums) != set(FILES):
        raise IndexCorrupt("the manifest lists no checksums")
    for name in FILES:
        try:
            actual = file_sha256(gen_dir / name)
        except OSError as exc:
            raise IndexCorrupt(f"cannot read {name}: {exc.strerror or exc}") from exc
        if actual != sums[name]:
            raise IndexCorrupt(f"{name} does not match its checksum (changed on disk)")
