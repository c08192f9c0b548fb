"""Does ``/ask`` block the gateway? Many concurrent invocations through the real cog and library.

No Discord connection is involved: each invocation gets an autospecced :class:`discord.Interaction`
whose ``defer`` and ``followup.send`` are async mocks, and goes through the real cog callback (which
runs the library in ``asyncio.to_thread``). Meanwhile a probe sleeps 5 ms at a time and records how
late it wakes up: that lateness is the event-loop lag the gateway heartbeat would suffer.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import TYPE_CHECKING

from bot.fake_interaction import mock_interaction
from retrieval.settings import Settings

if TYPE_CHECKING:
    from retrieval.library import Library

PROBE_INTERVAL = 0.005
QUESTIONS = (
    "how does speculative decoding speed up inference?",
    "what is a mixture of experts?",
    "how are diffusion models trained?",
    "which methods reduce hallucination in language models?",
    "how can robots learn from demonstrations?",
    "what is retrieval augmented generation?",
    "how do vision transformers process images?",
    "how is reinforcement learning from human feedback done?",
)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def bench_concurrent_ask(library: Library, n: int = 50, top_k: int = 5) -> dict[str, float]:
    """Run ``n`` concurrent ``/ask`` through the real cog; report loop lag (p50/p99 ms) and answers/s."""
    from bot.app import PaperBot
    from bot.cogs.ask import AskCog

    bot = PaperBot(Settings(ask_cooldown=0), library=library)
    cog = AskCog(bot)
    lags: list[float] = []
    done = asyncio.Event()

    async def probe() -> None:
        loop = asyncio.get_running_loop()
        while not done.is_set():
            start = loop.time()
            await asyncio.sleep(PROBE_INTERVAL)
            lags.append(max(0.0, loop.time() - start - PROBE_INTERVAL) * 1000)

    interactions = [mock_interaction(bot, user_id=i + 1) for i in range(n)]
    probe_task = asyncio.create_task(probe())
    await asyncio.sleep(PROBE_INTERVAL * 4)  # baseline samples before the burst
    started = time.perf_counter()
    try:
        await asyncio.gather(
            *(
                cog.ask.callback(cog, interaction, QUESTIONS[i % len(QUESTIONS)], top_k, False)  # type: ignore[arg-type]
                for i, interaction in enumerate(interactions)
            )
        )
    finally:
        wall = time.perf_counter() - started
        done.set()
        await probe_task
    answered = sum(1 for interaction in interactions if interaction.followup.send.await_count == 1)
    return {
        "concurrent": float(n),
        "answered": float(answered),
        "loop_lag_p50_ms": round(statistics.median(lags) if lags else 0.0, 3),
        "loop_lag_p99_ms": round(_percentile(lags, 0.99), 3),
        "loop_lag_max_ms": round(max(lags, default=0.0), 3),
        "answers_per_second": round(answered / wall, 2) if wall > 0 else 0.0,
        "wall_s": round(wall, 3),
    }
