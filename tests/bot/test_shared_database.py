"""Several bot processes on one database: each digest posted once, one feed refresher at a time."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, date, datetime, time
from unittest.mock import MagicMock

import pytest

from bot.app import PaperBot, make_bot
from bot.daily import DailyPoster
from bot.state import PostStatus
from tests.bot.cogs.test_digest import make_channel
from tests.conftest import BACKENDS

DAY = date(2026, 11, 12)
AT_NINE = datetime(2026, 11, 12, 9, 0, tzinfo=UTC)
GUILDS = {(n << 22) + n: 100 + n for n in range(6)}  # guild id -> channel id; shard = (guild >> 22) % 2


def shard_bot(library, open_state, config, shard_id: int, channels: dict[int, MagicMock]) -> PaperBot:
    """A process running shard ``shard_id`` of 2 (PAPERBOT_SHARD_COUNT=2, PAPERBOT_SHARD_IDS=<id>), with its
    own connection to the shared database."""
    sharded = replace(config, sharded=True, shard_count=2, shard_ids=(shard_id,))
    bot = make_bot(sharded, library=library)
    bot.state = open_state()
    bot.get_channel = MagicMock(side_effect=channels.get)
    return bot


def plain_bot(library, open_state, config, channels: dict[int, MagicMock]) -> PaperBot:
    """An unsharded process with its own connection to the shared database."""
    bot = PaperBot(config, library=library)
    bot.state = open_state()
    bot.get_channel = MagicMock(side_effect=channels.get)
    return bot


@pytest.mark.parametrize("backend", ["postgres", "sqlite"], indirect=True)
async def test_two_shard_processes_on_one_database_post_each_digest_exactly_once(library, open_state, config):
    channels = {channel_id: make_channel(channel_id) for channel_id in GUILDS.values()}
    setup = open_state()
    for guild_id, channel_id in GUILDS.items():
        setup.save_settings(guild_id, channel_id, time(9), "UTC", now=datetime(2026, 11, 1, tzinfo=UTC))
    bots = [shard_bot(library, open_state, config, shard, channels) for shard in (0, 1)]

    async def no_refresh(days: object) -> None:
        return None

    posters = [DailyPoster(bot, refresh=no_refresh) for bot in bots]
    # Both processes tick at the same moment, then again after a restart-like delay and with clock skew.
    rounds = [await asyncio.gather(*(p.tick(AT_NINE) for p in posters))]
    rounds.append(await asyncio.gather(posters[0].tick(AT_NINE.replace(minute=7)), posters[1].tick(AT_NINE)))
    posted = [
        (shard, guild, outcome)
        for ticks in rounds
        for shard, result in enumerate(ticks)
        for guild, _, outcome in result
    ]
    assert sorted(guild for _, guild, outcome in posted if outcome == PostStatus.POSTED) == sorted(GUILDS)
    # Each process posted exactly the servers on its own shard.
    assert all((guild >> 22) % 2 == shard for shard, guild, _ in posted)
    for channel in channels.values():
        channel.send.assert_awaited_once()
    assert all(setup.log_entry(c, DAY).status == PostStatus.POSTED for c in GUILDS.values())


@BACKENDS
async def test_only_one_process_refreshes_from_the_feed_at_a_time(library, open_state, config):
    channel = make_channel(100)
    open_state().save_settings(1, 100, time(9), "UTC", now=datetime(2026, 11, 1, tzinfo=UTC))
    calls: list[int] = []

    def refresher(n: int):
        async def refresh(days: object) -> None:
            calls.append(n)
            await asyncio.sleep(0.3)  # the other process ticks while this one is still fetching

        return refresh

    posters = [
        DailyPoster(shard_bot(library, open_state, config, n, {100: channel}), refresh=refresher(n)) for n in (0, 1)
    ]
    await asyncio.gather(*(p.tick(AT_NINE) for p in posters))
    assert len(calls) == 1
    channel.send.assert_awaited_once()
