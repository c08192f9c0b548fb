"""Follows: the rules over the backend's follow state (who follows what, the DMs sent, closed DMs).

Two rules make the DMs safe to retry from any process: a user gets at most one DM per UTC day (the
(user, day) DM row is claimed before sending), and never the same paper twice (a paper is claimed
for the user with the day, in the same transaction, and released again only when the DM could not
be sent). A user whose DMs are closed is marked and skipped until they use ``/follow`` again. The
atomic parts are the backend's (:class:`retrieval.storage.protocol.FollowStateStore`, on SQLite or
PostgreSQL); validation, limits and when a failed DM is retried are decided here, once.

Everything here is blocking; the cogs call it through ``asyncio.to_thread``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from bot.clock import utcnow
from retrieval.models import Follow
from retrieval.query.follows import MAX_FOLLOWS, FollowError, parse_follow
from retrieval.storage.protocol import DmStatus, FollowStateStore

__all__ = ["RETRY_FAILED_AFTER", "DmStatus", "FollowStore"]

RETRY_FAILED_AFTER = timedelta(minutes=30)


def may_retake(status: str, claimed_at: datetime, now: datetime) -> bool:
    """Whether a day's DM row may be claimed again: only a failed DM, after :data:`RETRY_FAILED_AFTER`."""
    return status == DmStatus.FAILED and now - claimed_at >= RETRY_FAILED_AFTER


class FollowStore:
    """Follows, the per-day DM log, the papers sent, and users whose DMs are closed."""

    def __init__(self, store: FollowStateStore) -> None:
        self.store = store

    # follows

    def add(self, user_id: int, kind: str, text: str) -> Follow:
        """Follow a topic or author; raises :class:`FollowError` when invalid, a duplicate, or over the limit."""
        value, norm = parse_follow(kind, text)
        added = self.store.add_follow(user_id, kind, value, norm, MAX_FOLLOWS)
        if added == "duplicate":
            raise FollowError(f"You already follow the {kind} “{value}”.")
        if added == "limit":
            raise FollowError(f"You follow {MAX_FOLLOWS} things already, the most allowed; remove one first.")
        assert isinstance(added, Follow)
        return added

    def of_user(self, user_id: int) -> list[Follow]:
        """A user's follows, oldest first."""
        return self.store.follows_of(user_id)

    def remove(self, user_id: int, follow_id: int) -> Follow | None:
        """Stop one follow of this user; None when the user has no such follow."""
        return self.store.remove_follow(user_id, follow_id)

    def active(self) -> list[Follow]:
        """Every follow of users whose DMs are not known to be closed."""
        return self.store.active_follows()

    # closed DMs

    def mark_closed(self, user_id: int, reason: str, now: datetime | None = None) -> None:
        """Remember that this user cannot be sent DMs; they are skipped until :meth:`reopen`."""
        self.store.mark_closed(user_id, reason, now or utcnow())

    def reopen(self, user_id: int) -> bool:
        """Try DMs again for this user (they used ``/follow``); True when they were marked closed."""
        return self.store.reopen(user_id)

    def closed_since(self, user_id: int) -> datetime | None:
        """When this user's DMs were found closed, or None."""
        return self.store.closed_since(user_id)

    # what was sent

    def unsent(self, user_id: int, paper_ids: Sequence[int]) -> list[int]:
        """The ids, in order, of papers this user was never sent (a preview; claims nothing)."""
        sent = self.store.sent_papers(user_id)
        return [pid for pid in paper_ids if pid not in sent]

    def claim(self, user_id: int, day: date, paper_ids: Sequence[int], now: datetime, limit: int = 10) -> list[int]:
        """Take the right to DM this user today about up to ``limit`` papers never sent to them.

        Returns the claimed paper ids (in the order given); empty when today's DM is already sent or
        claimed elsewhere, or no paper is new to the user (then nothing is recorded).
        """
        return self.store.claim_dm(
            user_id, day, paper_ids, now, limit, lambda status, claimed_at: may_retake(status, claimed_at, now)
        )

    def finish(self, user_id: int, day: date, status: str, paper_ids: Sequence[int] = ()) -> None:
        """Record how a claimed DM ended; unless it was sent, its papers are released for a later DM."""
        self.store.finish_dm(user_id, day, status, () if status == DmStatus.SENT else paper_ids)

    def dm_status(self, user_id: int, day: date) -> str | None:
        """The status of this user's DM of ``day``, if one was claimed."""
        return self.store.dm_status(user_id, day)
