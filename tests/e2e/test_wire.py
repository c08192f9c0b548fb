"""What the network does to the bot: a 429 with Retry-After, a dropped gateway resumed."""

from __future__ import annotations


async def test_a_429_is_waited_out_and_the_reply_sent_once(discord_server, launch, no_rejections):
    bot = await launch(discord_server)
    discord_server.rate_limit_once("POST", r"/webhooks/\d+/[^/]+", retry_after=0.8)
    question = [{"name": "question", "type": 3, "value": "how does speculative decoding speed up inference?"}]
    interaction = await discord_server.slash(discord_server.guild(), "ask", question)
    [answer] = await discord_server.wait_reply(interaction)
    posts = [t for t, method, path in discord_server.requests if method == "POST" and path.startswith("/webhooks/")]
    assert len(posts) == 2 and posts[1] - posts[0] >= 0.8  # refused once, retried after Retry-After
    assert [r["status"] for r in discord_server.rejected] == [429]
    assert answer["embeds"] and len(discord_server.replies(interaction)) == 1
    await bot.wait_log(r"rate limited")


async def test_a_dropped_gateway_is_resumed_and_missed_events_delivered(discord_server, launch, no_rejections):
    await launch(discord_server)
    session = await discord_server.drop_gateway(code=4000)
    # Sent while the bot is away: Discord keeps it for the session and replays it on RESUME.
    interaction = await discord_server.slash(discord_server.guild(), "help")
    await discord_server.wait_reply(interaction)
    assert session.resumes == 1 and len(discord_server.identifies) == 1
    assert session.ws is not None
    # The resumed connection is kept alive (HELLO asked for a heartbeat every 2 s).
    beats = session.heartbeats
    await discord_server.wait_for(lambda: session.heartbeats > beats, timeout=10, what="a heartbeat")
