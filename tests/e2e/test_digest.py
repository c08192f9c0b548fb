"""``/digest`` and the daily post over the wire, with the live feed served by a local fake API."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.discord_local.discord_rules import EPHEMERAL
from bench.discord_local.fake_discord import MANAGE_GUILD, MEMBER_PERMISSIONS, FakeDiscord, Guild
from bot.state import BotState
from retrieval.storage.sqlite.storage import SqliteStorage
from tests.retrieval.sources.feed_support import api_item, listing

ADMIN = MEMBER_PERMISSIONS | MANAGE_GUILD
FEED_TITLES = ("Tiny Recursive Reasoners Beat Giant Models", "Sparse Attention for Protein Folding at Scale")


def noon_zone() -> tuple[str, datetime]:
    """An Etc/GMT zone where it is about noon now (so the local day cannot roll over during a test)."""
    now = datetime.now(UTC)
    offset = 12 - now.hour  # -11 .. +12; Etc/GMT-N is N hours *ahead* of UTC
    name = "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"
    return name, now.astimezone(ZoneInfo(name))


def seed_schedule(data_dir: Path, guild: Guild, channel_id: int) -> date:
    """A daily post set up two hours ago for an hour ago, local time: due at the bot's first tick."""
    zone, local = noon_zone()
    with contextlib.closing(SqliteStorage(data_dir)) as storage:
        BotState(storage.state).save_settings(
            guild.id,
            channel_id,
            time((local - timedelta(hours=1)).hour, local.minute),
            zone,
            now=datetime.now(UTC) - timedelta(hours=2),
        )
    return local.date()


async def recorded_error(data_dir: Path, guild: Guild, timeout: float = 10.0) -> str:
    """The server's recorded posting problem, once the bot process has stored it."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        with contextlib.closing(sqlite3.connect(data_dir / "library.sqlite3")) as conn:
            row = conn.execute("SELECT last_error FROM guild_settings WHERE guild_id = ?", (guild.id,)).fetchone()
        if row and row[0]:
            return row[0]
        assert asyncio.get_running_loop().time() < deadline, "no posting problem recorded"
        await asyncio.sleep(0.05)


async def feed_for(serve, day: date) -> str:
    items = [api_item(f"2611.{i:05d}", title, upvotes=10 - i) for i, title in enumerate(FEED_TITLES)]
    handler, _ = listing({day.isoformat(): items})
    return await serve(handler)


def digest_posts(server: FakeDiscord, channel_id: int) -> list[dict]:
    return [m for m in server.channel_messages(channel_id) if m["embeds"]]


def sub(name, *options):
    return [{"type": 1, "name": name, "options": list(options)}]


def opt(name, value, kind=3):
    return {"name": name, "type": kind, "value": value}


async def test_digest_set_show_off(discord_server, launch, no_rejections):
    await launch(discord_server)
    guild = discord_server.guild()
    channel_id = next(iter(guild.channels))
    resolved = {
        "channels": {str(channel_id): {"id": str(channel_id), "name": "general", "type": 0, "permissions": str(ADMIN)}}
    }
    options = sub("set", opt("channel", str(channel_id), 7), opt("time", "09:30"), opt("timezone", "Europe/Paris"))
    set_ = await discord_server.slash(guild, "digest", options, permissions=ADMIN, resolved=resolved)
    [saved] = await discord_server.wait_reply(set_)
    assert saved["flags"] & EPHEMERAL
    fields = {f["name"]: f["value"] for f in saved["embeds"][0]["fields"]}
    assert fields["Channel"] == f"<#{channel_id}>" and fields["Time"] == "09:30 Europe/Paris"

    shown = await discord_server.slash(guild, "digest", sub("show"), permissions=ADMIN)
    [show] = await discord_server.wait_reply(shown)
    assert {f["name"]: f["value"] for f in show["embeds"][0]["fields"]}["Status"] == "on"

    off = await discord_server.slash(guild, "digest", sub("off"), permissions=ADMIN)
    [done] = await discord_server.wait_reply(off)
    assert done["content"] == "Digest switched off." and done["flags"] & EPHEMERAL

    refused = await discord_server.slash(guild, "digest", sub("show"))  # no Manage Server
    [no] = await discord_server.wait_reply(refused)
    assert "Manage Server" in no["content"] and no["flags"] & EPHEMERAL
    assert discord_server.channel_messages(channel_id) == []


async def test_the_daily_post_pulls_the_feed_and_posts_once(discord_server, launch, data_dir, serve, no_rejections):
    guild = discord_server.guild()
    channel_id = next(iter(guild.channels))
    day = seed_schedule(data_dir, guild, channel_id)
    bot = await launch(discord_server, PAPERBOT_HF_BASE=await feed_for(serve, day), PAPERBOT_DIGEST_TICK="0.5")
    [post] = await discord_server.wait_for(lambda: digest_posts(discord_server, channel_id), what="the daily post")
    text = str(post["embeds"])
    assert all(title in text for title in FEED_TITLES)
    await bot.wait_log(rf"posted the {day} digest to channel {channel_id}")
    await bot.stop()  # several more ticks have run by now; a second post would be there
    assert len(digest_posts(discord_server, channel_id)) == 1


async def test_a_channel_that_refuses_the_post_is_reported_in_digest_show(discord_server, launch, data_dir, serve):
    guild = discord_server.guild()
    channel_id = next(iter(guild.channels))
    discord_server.forbidden_channels.add(channel_id)
    day = seed_schedule(data_dir, guild, channel_id)
    bot = await launch(discord_server, PAPERBOT_HF_BASE=await feed_for(serve, day), PAPERBOT_DIGEST_TICK="0.5")
    await bot.wait_log(r"could not post in")
    await recorded_error(data_dir, guild)  # written just after that log line
    assert [(r["status"], r["code"]) for r in discord_server.rejected] == [(403, 50013)]
    shown = await discord_server.slash(guild, "digest", sub("show"), permissions=ADMIN)
    [show] = await discord_server.wait_reply(shown)
    fields = {f["name"]: f["value"] for f in show["embeds"][0]["fields"]}
    assert "could not post in" in fields["⚠️ Last problem"] and "403 Missing Permissions" in fields["⚠️ Last problem"]
    assert "skipped" in fields["Last post"]


async def test_two_shard_processes_on_one_library_post_each_digest_once(launch, data_dir, serve):
    server = FakeDiscord(shard_count=2)
    guilds = [server.add_guild(f"Server {shard}", shard=shard) for shard in (0, 1)]
    await server.start()
    try:
        channels = [next(iter(g.channels)) for g in guilds]
        days = {seed_schedule(data_dir, g, c) for g, c in zip(guilds, channels, strict=True)}
        feed = await feed_for(serve, days.pop())
        common = {"PAPERBOT_HF_BASE": feed, "PAPERBOT_DIGEST_TICK": "0.5", "PAPERBOT_SHARD_COUNT": "2"}
        bots = [await launch(server, **common, PAPERBOT_SHARD_IDS=str(shard)) for shard in (0, 1)]
        for shard, bot in enumerate(bots):
            await bot.wait_log(rf"posted the .* digest to channel {channels[shard]} \(guild {guilds[shard].id}\)")
        for bot in bots:
            await bot.stop()
        assert sorted(tuple(i["shard"]) for i in server.identifies) == [(0, 2), (1, 2)]
        assert [len(digest_posts(server, c)) for c in channels] == [1, 1]
        for shard, bot in enumerate(bots):
            assert f"(guild {guilds[shard].id})" in bot.log
            assert f"(guild {guilds[1 - shard].id})" not in bot.log  # the other shard's server is not its own
        assert not [r for r in server.rejected if r["status"] != 429]
    finally:
        await server.close()
