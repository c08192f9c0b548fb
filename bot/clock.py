"""The bot's clock: one place that says what time it is (and one place to patch in tests)."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current aware UTC time."""
    return datetime.now(UTC)
