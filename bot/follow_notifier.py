"""The follow DMs: after the feed brings papers, DM each follower once a day about new matches.

The matching (library) and bookkeeping (:class:`bot.follow_state.FollowStore`) are elsewhere; this
module sequences them and turns Discord's answers into statuses: a DM refused because the user's DMs
are closed (403 / 50007) or the user is unknown (404) marks the user closed, so they are not retried
until they use ``/follow`` again; any other failure releases the papers for a retry later.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

import discord

from bot.clock import utcnow
from bot.daily import Refresher
from bot.render.follows import follow_dm
from retrieval.models import FollowMatch
from retrieval.storage.protocol import DmStatus

if TYPE_CHECKING:
    from bot.app import PaperBot

log = logging.getLogger(__name__)

# Papers listed on the last WINDOW_DAYS UTC days are candidates (a DM missed while the bot was down
# is made up); the sent log keeps any paper from being sent twice.
WINDOW_DAYS = 3
REFRESH_EVERY = timedelta(hours=1)
MAX_PER_DM = 10


class FollowNotifier:
    """Sends each follower at most one DM a day listing papers never sent to them before."""

    def __init__(self, bot: PaperBot, refresh: Refresher | None = None) -> None:
        self.bot = bot
        self._refresh = refresh
        self._last_refresh: datetime | None = None

    def candidates(self, now: datetime) -> dict[int, list[FollowMatch]]:
        """Each active follower's matches among the papers of the window ending today (blocking)."""
        follows = self.bot.state.follows.active()
        if not follows:
            return {}
        today = now.date()
        papers = self.bot.library.papers_listed(today - timedelta(days=WINDOW_DAYS - 1), today)
        return self.bot.library.follow_matches(papers, follows) if papers else {}

    async def tick(self, now: datetime | None = None) -> dict[int, str]:
        """Refresh the feed (at most hourly) when anyone follows anything, then DM; returns outcomes per user."""
        now = now or utcnow()
        due = self._refresh is not None and (self._last_refresh is None or now - self._last_refresh >= REFRESH_EVERY)
        if due and self._refresh is not None and await asyncio.to_thread(self.bot.state.follows.active):
            self._last_refresh = now
            try:
                await self._refresh([now.date()])
            except Exception:
                log.exception("feed refresh for follows raised; matching the library as is")
        per_user = await asyncio.to_thread(self.candidates, now)
        outcomes = {}
        for user_id, matches in per_user.items():
            outcomes[user_id] = await self.notify(user_id, matches, now.date(), now)
        return outcomes

    async def notify(self, user_id: int, matches: list[FollowMatch], day: date, now: datetime) -> str:
        """Claim and send one user's DM of ``day``; returns ``sent``, ``nothing``, ``closed`` or ``failed``."""
        store = self.bot.state.follows
        ids = [m.paper.id for m in matches if m.paper.id is not None]
        claimed = await asyncio.to_thread(store.claim, user_id, day, ids, now, MAX_PER_DM)
        if not claimed:
            return "nothing"
        chosen = [m for m in matches if m.paper.id in set(claimed)]
        content, embed = follow_dm(chosen, day, user_id)
        status = DmStatus.FAILED
        try:
            user = self.bot.get_user(user_id) or await self.bot.fetch_user(user_id)
            # The follower is meant to be pinged in their own DM; nobody else ever is.
            await user.send(
                content=content,
                embed=embed,
                allowed_mentions=discord.AllowedMentions(everyone=False, roles=False, users=[discord.Object(user_id)]),
            )
            status = DmStatus.SENT
            log.info("follow DM with %d paper(s) sent to user %s", len(chosen), user_id)
        except (discord.Forbidden, discord.NotFound) as exc:
            status = DmStatus.CLOSED
            why = f"{exc.status} {exc.code} {exc.text}".strip()
            log.info("user %s cannot be sent DMs (%s); not retried until they use /follow", user_id, why)
            await asyncio.to_thread(store.mark_closed, user_id, why, now)
        except (discord.HTTPException, OSError, TimeoutError) as exc:
            log.warning("follow DM to user %s failed (%s: %s); retried later", user_id, type(exc).__name__, exc)
        except Exception:
            log.exception("follow DM to user %s failed unexpectedly", user_id)
        finally:
            self.bot.metrics.follow_dm(status)
            await asyncio.to_thread(store.finish, user_id, day, status, claimed)
        return status
