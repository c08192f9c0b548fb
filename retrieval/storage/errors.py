"""Errors every backend raises alike (the callers above storage catch these, never a driver's own)."""

from __future__ import annotations


class StorageError(RuntimeError):
    """The library's storage cannot be opened or used (bad file, unreachable server, newer schema)."""


class MissingVectors(RuntimeError):
    """An upsert would leave papers without vectors (their text hashes are in ``text_hashes``)."""

    def __init__(self, text_hashes: set[str]) -> None:
        super().__init__(f"{len(text_hashes)} paper text(s) have no vectors")
        self.text_hashes = text_hashes
