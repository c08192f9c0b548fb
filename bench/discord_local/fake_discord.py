"""A local Discord for the end-to-end tests: REST API v10 and the Gateway websocket on 127.0.0.1.

The bot process talks to it exactly as to Discord (``PAPERBOT_DISCORD_API_BASE`` points discord.py's
REST client here; the gateway URL comes from ``GET /gateway/bot``). It is strict where Discord is:
what the bot sends is checked by :mod:`bench.discord_local.discord_rules`, an interaction must be acknowledged
within 3 s (later: ``404 10062 Unknown interaction``), an interaction is acknowledged once, and
after a public defer the first follow-up *edits the public "thinking" message*, its ephemeral flag
ignored, as Discord does. Tests drive it like users: :meth:`FakeDiscord.slash`,
:meth:`FakeDiscord.autocomplete`, :meth:`FakeDiscord.click`, and read what users would see.

Gateway: HELLO, IDENTIFY (token, intents, shard checked), READY, GUILD_CREATE per guild of the
shard, heartbeats, dispatches with sequence numbers kept per session so a RESUME replays what was
missed; ``zlib-stream`` transport compression when the URL asks for it (discord.py does).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
import secrets
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer

from bench.discord_local import discord_rules as rules

log = logging.getLogger(__name__)

DISCORD_EPOCH_MS = 1_420_070_400_000
ACK_WINDOW = 3.0  # seconds Discord gives a bot to acknowledge an interaction
HEARTBEAT_MS = 2000
MANAGE_GUILD, ADMINISTRATOR = 1 << 5, 1 << 3
LOADING = 1 << 7  # message flag of a deferred "is thinking…" response
MEMBER_PERMISSIONS = (1 << 10) | (1 << 11) | (1 << 14) | (1 << 31)  # view, send, embed links, use commands
BOT_PERMISSIONS = MEMBER_PERMISSIONS | (1 << 15) | (1 << 16)
# Gateway opcodes.
DISPATCH, HEARTBEAT, IDENTIFY, RESUME, RECONNECT, INVALID_SESSION, HELLO, HEARTBEAT_ACK = 0, 1, 2, 6, 7, 9, 10, 11


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # Exactly "application/json", as Discord sends it (discord.py compares the header verbatim).
    return web.Response(
        body=json.dumps(body).encode(), status=status, headers={**(headers or {}), "Content-Type": "application/json"}
    )


class Snowflakes:
    """Increasing Discord-style ids (timestamp in the high bits)."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def next(self) -> int:
        return ((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22) | (next(self._counter) & 0x3FFFFF)


def shard_of(guild_id: int, shard_count: int) -> int:
    """Discord's rule: which shard receives a guild's events."""
    return (guild_id >> 22) % shard_count


@dataclass
class Guild:
    id: int
    name: str
    channels: dict[int, str]  # id -> name (text channels)


@dataclass
class Interaction:
    """One interaction sent to the bot and everything the bot did with it."""

    id: int
    token: str
    kind: int
    payload: dict[str, Any]
    created: float
    ack: int | None = None  # callback type once acknowledged
    ack_at: float | None = None
    ephemeral: bool = False  # visibility of the original response
    original_id: int | None = None
    loading: bool = False  # a deferred "thinking" message still waiting for its content
    followups: list[int] = field(default_factory=list)
    choices: list[dict[str, Any]] | None = None  # an autocomplete answer
    errors: list[tuple[int, int]] = field(default_factory=list)  # (HTTP status, Discord code) answered


@dataclass
class Session:
    """A gateway session: survives its websocket so a RESUME can replay what was missed."""

    id: str
    shard: tuple[int, int]
    seq: int = 0
    sent: list[dict[str, Any]] = field(default_factory=list)
    ws: web.WebSocketResponse | None = None
    compressor: Any = None
    resumes: int = 0
    heartbeats: int = 0


class DiscordError(Exception):
    def __init__(self, status: int, code: int, message: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.errors = status, code, message, errors


class FakeDiscord:
    """The server. ``await start()``, hand :attr:`api_base` and :attr:`token` to the bot, ``await close()``."""

    def __init__(self, *, shard_count: int = 1, token: str | None = None) -> None:
        self.ids = Snowflakes()
        self.token = token or f"{'M' * 24}.{'G' * 6}.{secrets.token_urlsafe(27)}"
        self.shard_count = shard_count
        self.app_id = self.ids.next()
        self.bot_user = self.user("paperbot", self.app_id) | {"bot": True, "verified": True, "mfa_enabled": False}
        self.owner = self.user("owner")
        self.guilds: dict[int, Guild] = {}
        self.commands: dict[int | None, list[dict[str, Any]]] = {}  # guild id (None: global) -> commands
        self.messages: dict[int, dict[str, Any]] = {}
        self.interactions: dict[int, Interaction] = {}
        self.sessions: dict[str, Session] = {}
        self.identifies: list[dict[str, Any]] = []
        self.rejected: list[dict[str, Any]] = []  # every 4xx answered: method, path, status, code, errors
        self.requests: list[tuple[float, str, str]] = []  # (time, method, path)
        self.forbidden_channels: set[int] = set()
        self.deleted: list[dict[str, Any]] = []
        self.command_errors: dict[str, str] | None = None  # force a 50035 on command sync
        self.command_sync_status: tuple[int, int] | None = None  # force (status, code) on command sync
        self.refuse_gateway = False  # answer new gateway connections with 503 (an outage on Discord's side)
        self.threads: dict[int, dict[str, Any]] = {}  # thread id -> its channel payload
        self._rate_limits: list[tuple[str, re.Pattern[str], float]] = []
        self._changed = asyncio.Condition()
        self._server: TestServer | None = None
        self.files: dict[int, bytes] = {}  # attachments users upload, served at /attachments/<id>/<name>

    # -- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(middlewares=[self._middleware], client_max_size=16 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/v10/{path:.*}", self._rest)
        app.router.add_get("/attachments/{id}/{name}", self._attachment_file)
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server()

    async def close(self) -> None:
        for session in self.sessions.values():
            if session.ws is not None and not session.ws.closed:
                await session.ws.close(code=1001)
        if self._server is not None:
            await self._server.close()

    @property
    def base(self) -> str:
        assert self._server is not None
        return str(self._server.make_url("")).rstrip("/")

    @property
    def api_base(self) -> str:
        """What ``PAPERBOT_DISCORD_API_BASE`` is set to (discord.py appends nothing; ``/v10`` is added)."""
        return f"{self.base}/api"

    def add_guild(self, name: str = "Test server", channels: tuple[str, ...] = ("general",), shard: int = 0) -> Guild:
        """A server the bot is in, whose id falls on ``shard``."""
        while True:
            guild_id = self.ids.next()
            if shard_of(guild_id, self.shard_count) == shard:
                break
        guild = Guild(guild_id, name, {self.ids.next(): channel for channel in channels})
        self.guilds[guild_id] = guild
        return guild

    # -- what tests wait on and read -----------------------------------------------------

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 20.0, what: str = "") -> Any:
        """Wait until ``predicate()`` is truthy (re-checked on every change); return its value."""

        async def waiter() -> Any:
            async with self._changed:
                while not (value := predicate()):
                    await self._changed.wait()
                return value

        try:
            return await asyncio.wait_for(waiter(), timeout)
        except TimeoutError:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}") from None

    async def wait_connected(self, known: int = 0, timeout: float = 60.0) -> Session:
        """A session beyond the first ``known`` ones, once READY and its shard's GUILD_CREATEs are sent.

        From then on the bot has its servers in cache and answers interactions (discord.py's own
        ``on_ready`` comes about 2 s later, after waiting for more servers).
        """

        def connected() -> Session | None:
            for session in list(self.sessions.values())[known:]:
                guilds = sum(1 for g in self.guilds.values() if shard_of(g.id, self.shard_count) == session.shard[0])
                if session.ws is not None and len(session.sent) >= 1 + guilds:
                    return session
            return None

        return await self.wait_for(connected, timeout, "the bot's gateway session")

    def channel_messages(self, channel_id: int) -> list[dict[str, Any]]:
        """What everyone in the channel sees: public messages, oldest first (ephemeral ones excluded)."""
        return [
            m
            for m in self.messages.values()
            if m["channel_id"] == str(channel_id) and not m["flags"] & (rules.EPHEMERAL | LOADING)
        ]

    def replies(self, interaction: Interaction) -> list[dict[str, Any]]:
        """The original response (once it has content) and the follow-ups of an interaction."""
        ids = ([interaction.original_id] if interaction.original_id else []) + interaction.followups
        return [self.messages[i] for i in ids if i in self.messages and not self.messages[i]["flags"] & LOADING]

    async def wait_reply(self, interaction: Interaction, count: int = 1, timeout: float = 20.0) -> list[dict[str, Any]]:
        """The interaction's first ``count`` visible replies, once they are there."""
        return await self.wait_for(
            lambda: (r := self.replies(interaction)) and len(r) >= count and r, timeout, f"reply to {interaction.id}"
        )

    def guild(self) -> Guild:
        """The first server (most tests have one)."""
        return next(iter(self.guilds.values()))

    def commands_named(self, guild_id: int | None = None) -> dict[str, dict[str, Any]]:
        return {c["name"]: c for c in self.commands.get(guild_id, [])}

    # -- faults a test can arm -----------------------------------------------------------

    def rate_limit_once(self, method: str, path_regex: str, retry_after: float) -> None:
        """Answer the next matching request with 429 and ``Retry-After`` (a per-route bucket)."""
        self._rate_limits.append((method, re.compile(path_regex), retry_after))

    async def drop_gateway(self, shard_id: int = 0, code: int = 4000) -> Session:
        """Close a shard's websocket as Discord does before asking the client to resume."""
        session = next(s for s in self.sessions.values() if s.shard[0] == shard_id and s.ws is not None)
        ws, session.ws = session.ws, None
        assert ws is not None
        await ws.close(code=code, message=b"unknown error")
        await self._notify()
        return session

    # -- users -------------------------------------------------------------------------

    def user(self, name: str = "alice", user_id: int | None = None) -> dict[str, Any]:
        """A user object as Discord sends it."""
        return {
            "id": str(user_id or self.ids.next()),
            "username": name,
            "discriminator": "0",
            "global_name": name,
            "avatar": None,
            "banner": None,
            "accent_color": None,
            "public_flags": 0,
            "flags": 0,
        }

    async def slash(
        self,
        guild: Guild,
        name: str,
        options: list[dict[str, Any]] | None = None,
        *,
        user: dict[str, Any] | None = None,
        permissions: int = MEMBER_PERMISSIONS,
        stale: bool = False,
        resolved: dict[str, Any] | None = None,
        age: float = 0.0,
        channel_id: int | None = None,
    ) -> Interaction:
        """A user runs ``/name`` in the guild's first channel (or ``channel_id``, e.g. a thread).

        ``stale``: a command the bot no longer has (Discord still lists it); ``age``: seconds the
        interaction already spent on its way (a lagging gateway or a busy bot), out of its 3 s.
        """
        command = self.commands_named(guild.id).get(name) or self.commands_named(None).get(name)
        if command is None and not stale:
            raise AssertionError(f"/{name} is not registered; registered: {sorted(self.commands_named(guild.id))}")
        data: dict[str, Any] = {
            "id": command["id"] if command else str(self.ids.next()),
            "name": name,
            "type": rules.CHAT_INPUT,
            "options": options or [],
        }
        if command and command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        if resolved:
            data["resolved"] = resolved
        return await self._interact(guild, 2, data, user=user, permissions=permissions, age=age, channel_id=channel_id)

    def attachment(self, filename: str, data: bytes, content_type: str = "text/plain") -> dict[str, Any]:
        """A file a user uploads with a slash command: its payload (for ``resolved``), served like Discord's CDN."""
        attachment_id = self.ids.next()
        self.files[attachment_id] = data
        url = f"{self.base}/attachments/{attachment_id}/{filename}"
        return {
            "id": str(attachment_id),
            "filename": filename,
            "size": len(data),
            "url": url,
            "proxy_url": url,
            "content_type": content_type,
        }

    async def _attachment_file(self, request: web.Request) -> web.Response:
        data = self.files.get(int(request.match_info["id"]))
        if data is None:
            return web.Response(status=404)
        return web.Response(body=data, content_type="application/octet-stream")

    async def autocomplete(
        self, guild: Guild, name: str, option: str, typed: str, *, user: dict[str, Any] | None = None
    ) -> Interaction:
        """A user types ``typed`` into an autocomplete option."""
        command = self.commands_named(guild.id).get(name) or self.commands_named(None)[name]
        data = {
            "id": command["id"],
            "name": name,
            "type": rules.CHAT_INPUT,
            "options": [{"name": option, "type": 3, "value": typed, "focused": True}],
        }
        return await self._interact(guild, 4, data, user=user)

    async def click(self, guild: Guild, message: dict[str, Any], custom_id: str, **kwargs: Any) -> Interaction:
        """A user clicks the button ``custom_id`` of ``message``."""
        buttons = [
            c["custom_id"] for row in message.get("components", []) for c in row["components"] if "custom_id" in c
        ]
        assert custom_id in buttons, f"{custom_id} not among the message's buttons {buttons}"
        data = {"custom_id": custom_id, "component_type": 2}
        return await self._interact(guild, 3, data, message=message, **kwargs)

    async def _interact(
        self,
        guild: Guild,
        kind: int,
        data: dict[str, Any],
        *,
        user: dict[str, Any] | None = None,
        permissions: int = MEMBER_PERMISSIONS,
        message: dict[str, Any] | None = None,
        age: float = 0.0,
        channel_id: int | None = None,
    ) -> Interaction:
        interaction_id = self.ids.next()
        channel_id = channel_id or next(iter(guild.channels))
        payload: dict[str, Any] = {
            "id": str(interaction_id),
            "application_id": str(self.app_id),
            "type": kind,
            "data": data,
            "guild_id": str(guild.id),
            "channel_id": str(channel_id),
            "channel": self._channel_payload(guild, channel_id),
            "member": {
                "user": user or self.user(),
                "roles": [],
                "joined_at": "2026-01-01T00:00:00+00:00",
                "deaf": False,
                "mute": False,
                "flags": 0,
                "permissions": str(permissions),
            },
            "token": secrets.token_urlsafe(40),
            "version": 1,
            "app_permissions": str(BOT_PERMISSIONS),
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild.id)},
            "context": 0,
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if message is not None:
            payload["message"] = message
        record = Interaction(interaction_id, payload["token"], kind, payload, time.monotonic() - age)
        self.interactions[interaction_id] = record
        await self.dispatch(guild.id, "INTERACTION_CREATE", payload)
        return record

    async def mention(self, guild: Guild, channel_id: int, text: str, *, user: dict[str, Any] | None = None) -> dict:
        """A user posts ``<@bot> text`` in a channel: MESSAGE_CREATE with the content (a mention carries it)."""
        author = user or self.user()
        message = {
            "id": str(self.ids.next()),
            "channel_id": str(channel_id),
            "guild_id": str(guild.id),
            "author": author,
            "member": {"roles": [], "joined_at": "2026-01-01T00:00:00+00:00", "deaf": False, "mute": False, "flags": 0},
            "content": f"<@{self.app_id}> {text}",
            "mentions": [self.bot_user],
            "mention_roles": [],
            "mention_everyone": False,
            "attachments": [],
            "embeds": [],
            "pinned": False,
            "tts": False,
            "type": 0,
            "flags": 0,
            "timestamp": "2026-11-23T12:00:00+00:00",
            "edited_timestamp": None,
        }
        await self.dispatch(guild.id, "MESSAGE_CREATE", message)
        return message

    async def delete_thread(self, guild: Guild, thread_id: int) -> None:
        """A moderator deletes a thread: THREAD_DELETE."""
        thread = self.threads.pop(thread_id)
        guild.channels.pop(thread_id, None)
        await self.dispatch(
            guild.id,
            "THREAD_DELETE",
            {"id": str(thread_id), "guild_id": str(guild.id), "parent_id": thread["parent_id"], "type": 11},
        )

    # -- gateway -----------------------------------------------------------------------

    async def dispatch(self, guild_id: int, event: str, data: dict[str, Any]) -> None:
        """Send an event to the session of the guild's shard (kept for replay when it is disconnected)."""
        shard = shard_of(guild_id, self.shard_count)
        sessions = [s for s in self.sessions.values() if s.shard[0] == shard]
        if not sessions:
            raise AssertionError(f"no gateway session for shard {shard}")
        await self._send_dispatch(sessions[-1], event, data)

    async def _send_dispatch(self, session: Session, event: str, data: dict[str, Any]) -> None:
        session.seq += 1
        message = {"op": DISPATCH, "t": event, "s": session.seq, "d": data}
        session.sent.append(message)
        if session.ws is not None:
            await self._send(session, message)

    async def _send(self, session: Session, message: dict[str, Any]) -> None:
        assert session.ws is not None
        text = json.dumps(message)
        if session.compressor is None:
            await session.ws.send_str(text)
        else:
            await session.ws.send_bytes(
                session.compressor.compress(text.encode()) + session.compressor.flush(zlib.Z_SYNC_FLUSH)
            )

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        if request.query.get("v") != "10" or request.query.get("encoding") != "json":
            raise web.HTTPBadRequest(text="expected v=10&encoding=json")
        if self.refuse_gateway:
            raise web.HTTPServiceUnavailable(text="gateway unavailable")
        compress = request.query.get("compress")
        if compress not in (None, "zlib-stream"):
            raise web.HTTPBadRequest(text=f"unsupported compression {compress}")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        # A session object before IDENTIFY/RESUME only to carry the socket and its compressor.
        pending = Session("", (0, 1), ws=ws, compressor=zlib.compressobj() if compress else None)
        await self._send(pending, {"op": HELLO, "d": {"heartbeat_interval": HEARTBEAT_MS}, "s": None, "t": None})
        session: Session | None = None
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            frame = json.loads(msg.data)
            op, d = frame.get("op"), frame.get("d")
            if op == HEARTBEAT:
                if session is not None:
                    session.heartbeats += 1
                await self._send(session or pending, {"op": HEARTBEAT_ACK, "d": None, "s": None, "t": None})
            elif op == IDENTIFY:
                session = await self._identify(d, pending)
                if session is None:
                    break
            elif op == RESUME:
                session = await self._resume(d, pending)
                if session is None:
                    await self._send(pending, {"op": INVALID_SESSION, "d": False, "s": None, "t": None})
            await self._notify()
        if session is not None and session.ws is ws:
            session.ws = None
        await self._notify()
        return ws

    async def _identify(self, d: dict[str, Any], pending: Session) -> Session | None:
        self.identifies.append(d)
        assert pending.ws is not None
        if d.get("token") != self.token:
            await pending.ws.close(code=4004, message=b"Authentication failed.")
            return None
        shard = tuple(d.get("shard") or (0, 1))
        if shard[1] != self.shard_count or not 0 <= shard[0] < shard[1]:
            code = 4011 if self.shard_count > 1 and shard[1] == 1 else 4010
            await pending.ws.close(code=code, message=b"Invalid shard.")
            return None
        session = Session(secrets.token_hex(16), (shard[0], shard[1]), ws=pending.ws, compressor=pending.compressor)
        self.sessions[session.id] = session
        mine = [g for g in self.guilds.values() if shard_of(g.id, self.shard_count) == shard[0]]
        ready = {
            "v": 10,
            "user": self.bot_user,
            "guilds": [{"id": str(g.id), "unavailable": True} for g in mine],
            "session_id": session.id,
            "resume_gateway_url": f"{self.base.replace('http', 'ws', 1)}/gateway",
            "shard": list(shard),
            "application": {"id": str(self.app_id), "flags": 0},
            "user_settings": {},
            "relationships": [],
            "private_channels": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
        }
        await self._send_dispatch(session, "READY", ready)
        for guild in mine:
            await self._send_dispatch(session, "GUILD_CREATE", self._guild_payload(guild))
        return session

    async def _resume(self, d: dict[str, Any], pending: Session) -> Session | None:
        session = self.sessions.get(d.get("session_id", ""))
        if session is None or d.get("token") != self.token:
            return None
        session.ws, session.compressor = pending.ws, pending.compressor
        session.resumes += 1
        for message in session.sent:
            if message["s"] > (d.get("seq") or 0):
                await self._send(session, message)
        session.seq += 1
        await self._send(session, {"op": DISPATCH, "t": "RESUMED", "s": session.seq, "d": {}})
        return session

    def _channel_payload(self, guild: Guild, channel_id: int) -> dict[str, Any]:
        if channel_id in self.threads:
            return self.threads[channel_id]
        return {
            "id": str(channel_id),
            "type": 0,
            "guild_id": str(guild.id),
            "name": guild.channels[channel_id],
            "position": list(guild.channels).index(channel_id),
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "flags": 0,
        }

    def _guild_payload(self, guild: Guild) -> dict[str, Any]:
        return {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "owner_id": self.owner["id"],
            "roles": [
                {
                    "id": str(guild.id),
                    "name": "@everyone",
                    "permissions": str(BOT_PERMISSIONS),
                    "position": 0,
                    "color": 0,
                    "hoist": False,
                    "managed": False,
                    "mentionable": False,
                    "flags": 0,
                }
            ],
            "channels": [self._channel_payload(guild, cid) for cid in guild.channels if cid not in self.threads],
            "threads": [self.threads[cid] for cid in guild.channels if cid in self.threads],
            "members": [
                {
                    "user": self.bot_user,
                    "roles": [],
                    "joined_at": "2026-01-01T00:00:00+00:00",
                    "deaf": False,
                    "mute": False,
                    "flags": 0,
                }
            ],
            "member_count": 2,
            "emojis": [],
            "stickers": [],
            "features": [],
            "large": False,
            "unavailable": False,
            "joined_at": "2026-01-01T00:00:00+00:00",
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "nsfw_level": 0,
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "system_channel_flags": 0,
        }

    # -- REST ----------------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            return await handler(request)
        except DiscordError as exc:
            body: dict[str, Any] = {"code": exc.code, "message": exc.message}
            if exc.errors:
                body["errors"] = {
                    path: {"_errors": [{"code": "BASE_TYPE", "message": m}]} for path, m in exc.errors.items()
                }
            self.rejected.append(
                {
                    "method": request.method,
                    "path": request.path,
                    "status": exc.status,
                    "code": exc.code,
                    "errors": exc.errors,
                }
            )
            await self._notify()
            return _json(body, status=exc.status)

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"]
        self.requests.append((time.monotonic(), request.method, path))
        for i, (method, pattern, retry_after) in enumerate(self._rate_limits):
            if method == request.method and pattern.fullmatch(path):
                del self._rate_limits[i]
                return self._too_many(request, path, retry_after)
        body = await request.json() if request.can_read_body else None
        for method, pattern, handler, authed in self._routes():
            match = re.fullmatch(pattern, path)
            if method == request.method and match:
                if authed and request.headers.get("Authorization") != f"Bot {self.token}":
                    raise DiscordError(401, 0, "401: Unauthorized")
                result = await handler(request, body, *match.groups())
                await self._notify()
                if result is None:
                    return web.Response(status=204, headers=self._bucket_headers(path))
                return _json(result, headers=self._bucket_headers(path))
        raise DiscordError(404, 0, f"404: Not Found ({request.method} {path})")

    def _routes(self) -> list[tuple[str, str, Any, bool]]:
        app = str(self.app_id)
        return [
            ("GET", r"/users/@me", self._me, True),
            ("GET", r"/oauth2/applications/@me", self._application, True),
            ("GET", r"/gateway/bot", self._gateway_bot, True),
            ("PUT", rf"/applications/{app}/commands", self._put_commands, True),
            ("PUT", rf"/applications/{app}/guilds/(\d+)/commands", self._put_commands, True),
            ("GET", r"/channels/(\d+)", self._get_channel, True),
            ("POST", r"/channels/(\d+)/messages", self._create_message, True),
            ("POST", r"/channels/(\d+)/messages/(\d+)/threads", self._start_thread, True),
            ("POST", r"/interactions/(\d+)/([^/]+)/callback", self._callback, False),
            ("POST", rf"/webhooks/{app}/([^/]+)", self._followup, False),
            ("PATCH", rf"/webhooks/{app}/([^/]+)/messages/(@original|\d+)", self._edit_webhook_message, False),
            ("GET", rf"/webhooks/{app}/([^/]+)/messages/(@original|\d+)", self._get_webhook_message, False),
            ("DELETE", rf"/webhooks/{app}/([^/]+)/messages/(@original|\d+)", self._delete_webhook_message, False),
        ]

    def _bucket_headers(self, path: str) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "4",
            "X-RateLimit-Reset": f"{time.time() + 1:.3f}",
            "X-RateLimit-Reset-After": "1.000",
            "X-RateLimit-Bucket": "bucket-" + re.sub(r"\d+", "id", path),
        }

    def _too_many(self, request: web.Request, path: str, retry_after: float) -> web.Response:
        self.rejected.append({"method": request.method, "path": path, "status": 429, "code": 0, "errors": None})
        headers = self._bucket_headers(path) | {
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset-After": f"{retry_after:.3f}",
            "X-RateLimit-Scope": "user",
            "Retry-After": str(max(1, round(retry_after))),
            "Via": "1.1 google",
        }
        body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": False}
        return _json(body, status=429, headers=headers)

    async def _me(self, request: web.Request, body: Any) -> dict[str, Any]:
        return self.bot_user

    async def _application(self, request: web.Request, body: Any) -> dict[str, Any]:
        return {
            "id": str(self.app_id),
            "name": "paperbot",
            "description": "",
            "icon": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": self.owner,
            "verify_key": "0" * 64,
            "flags": 0,
            "team": None,
            "bot": self.bot_user,
            "interactions_endpoint_url": None,
        }

    async def _gateway_bot(self, request: web.Request, body: Any) -> dict[str, Any]:
        return {
            "url": f"{self.base.replace('http', 'ws', 1)}/gateway",
            "shards": self.shard_count,
            "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1},
        }

    async def _put_commands(self, request: web.Request, body: Any, guild: str | None = None) -> list[dict[str, Any]]:
        if self.command_sync_status is not None:
            status, code = self.command_sync_status
            raise DiscordError(status, code, "Missing Access" if code == 50001 else "Refused")
        errors = rules.check_commands(body)
        if errors or self.command_errors:
            raise DiscordError(400, 50035, "Invalid Form Body", errors or self.command_errors)
        guild_id = int(guild) if guild else None
        if guild_id is not None and guild_id not in self.guilds:
            raise DiscordError(403, 50001, "Missing Access")
        saved = []
        for command in body:
            stored = dict(
                command, id=str(self.ids.next()), application_id=str(self.app_id), version=str(self.ids.next())
            )
            stored.setdefault("type", rules.CHAT_INPUT)
            stored.setdefault("description", "")
            if guild_id is not None:
                stored["guild_id"] = str(guild_id)
            saved.append(stored)
        self.commands[guild_id] = saved
        return saved

    def _guild_of_channel(self, channel_id: int) -> Guild:
        for guild in self.guilds.values():
            if channel_id in guild.channels:
                return guild
        raise DiscordError(404, 10003, "Unknown Channel")

    async def _get_channel(self, request: web.Request, body: Any, channel: str) -> dict[str, Any]:
        guild = self._guild_of_channel(int(channel))
        return self._channel_payload(guild, int(channel))

    def _store_message(
        self, channel_id: int, payload: dict[str, Any], *, flags: int = 0, **extra: Any
    ) -> dict[str, Any]:
        message_id = self.ids.next()
        message = {
            "id": str(message_id),
            "channel_id": str(channel_id),
            "author": self.bot_user,
            "content": payload.get("content") or "",
            "embeds": payload.get("embeds") or [],
            "components": payload.get("components") or [],
            "attachments": [],
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": False,
            "type": 0,
            "flags": flags,
            "timestamp": "2026-11-23T12:00:00+00:00",
            "edited_timestamp": None,
            **extra,
        }
        self.messages[message_id] = message
        return message

    async def _create_message(self, request: web.Request, body: Any, channel: str) -> dict[str, Any]:
        channel_id = int(channel)
        self._guild_of_channel(channel_id)
        if channel_id in self.forbidden_channels:
            raise DiscordError(403, 50013, "Missing Permissions")
        self._check(rules.check_message(body))
        return self._store_message(channel_id, body)

    async def _start_thread(self, request: web.Request, body: Any, channel: str, message: str) -> dict[str, Any]:
        """POST /channels/{id}/messages/{id}/threads: a public thread on a message (one per message)."""
        guild = self._guild_of_channel(int(channel))
        target = self.messages.get(int(message))
        if target is None or int(target["channel_id"]) != int(channel):
            raise DiscordError(404, 10008, "Unknown Message")
        if target.get("thread"):
            raise DiscordError(400, 160004, "A thread has already been created for this message")
        name = (body or {}).get("name") or ""
        if not 1 <= len(name) <= 100:
            self._check({"name": "Must be between 1 and 100 in length."})
        thread_id = int(message)  # Discord: a thread started on a message has the message's id
        payload = {
            "id": str(thread_id),
            "type": 11,
            "guild_id": str(guild.id),
            "parent_id": channel,
            "name": name,
            "owner_id": str(self.app_id),
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "flags": 0,
            "message_count": 0,
            "member_count": 1,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": body.get("auto_archive_duration", 1440),
                "archive_timestamp": "2026-11-23T12:00:00+00:00",
                "locked": False,
            },
        }
        self.threads[thread_id] = payload
        guild.channels[thread_id] = name
        target["thread"] = payload
        await self.dispatch(guild.id, "THREAD_CREATE", payload | {"newly_created": True})
        return payload

    def _check(self, errors: rules.Errors) -> None:
        if errors:
            raise DiscordError(400, 50035, "Invalid Form Body", errors)

    def _interaction(self, interaction_id: int | None = None, token: str | None = None) -> Interaction:
        for record in self.interactions.values():
            if (interaction_id is None or record.id == interaction_id) and (token is None or record.token == token):
                return record
        raise DiscordError(
            404, 10062 if interaction_id else 10015, "Unknown interaction" if interaction_id else "Unknown Webhook"
        )

    def _fail(self, record: Interaction, status: int, code: int, message: str) -> DiscordError:
        record.errors.append((status, code))
        return DiscordError(status, code, message)

    async def _callback(self, request: web.Request, body: dict[str, Any], interaction: str, token: str) -> Any:
        record = self._interaction(int(interaction), token)
        now = time.monotonic()
        if record.ack is not None:
            raise self._fail(record, 400, 40060, "Interaction has already been acknowledged.")
        if now - record.created > ACK_WINDOW:
            raise self._fail(record, 404, 10062, "Unknown interaction")
        kind, data = body["type"], body.get("data") or {}
        flags = data.get("flags") or 0
        channel_id = int(record.payload["channel_id"])
        if kind == 8:  # autocomplete result
            if record.kind != 4:
                raise self._fail(record, 400, 50035, "Invalid Form Body")
            self._check(rules.check_choices(data.get("choices") or []))
            record.choices = data.get("choices") or []
        elif kind == 4:  # a message now
            self._check(rules.check_message(data))
            record.ephemeral = bool(flags & rules.EPHEMERAL)
            message = self._store_message(
                channel_id, data, flags=flags & rules.EPHEMERAL, interaction_id=str(record.id)
            )
            record.original_id = int(message["id"])
        elif kind == 5:  # deferred: a "thinking" message, its visibility fixed now
            record.ephemeral = bool(flags & rules.EPHEMERAL)
            message = self._store_message(
                channel_id, {}, flags=(flags & rules.EPHEMERAL) | LOADING, interaction_id=str(record.id)
            )
            record.original_id, record.loading = int(message["id"]), True
        elif kind == 6:  # deferred update of the component's message
            pass
        elif kind == 7:  # update the component's message
            self._check(rules.check_message(data, edit=True))
            target = self.messages[int(record.payload["message"]["id"])]
            target.update({k: v for k, v in data.items() if k in ("content", "embeds", "components")})
        else:
            raise self._fail(record, 400, 50035, f"Unsupported interaction callback type {kind}")
        record.ack, record.ack_at = kind, now
        if "with_response" in request.query:
            resource: dict[str, Any] = {"type": kind}
            if record.original_id:
                resource["message"] = self.messages[record.original_id]
            return {
                "interaction": {
                    "id": str(record.id),
                    "type": record.kind,
                    "response_message_id": str(record.original_id) if record.original_id else None,
                    "response_message_loading": kind == 5,
                    "response_message_ephemeral": record.ephemeral,
                },
                "resource": resource if kind in (4, 5, 7) else None,
            }
        return None

    async def _followup(self, request: web.Request, body: dict[str, Any], token: str) -> Any:
        record = self._interaction(token=token)
        if record.ack is None:
            raise self._fail(record, 404, 10015, "Unknown Webhook")
        self._check(rules.check_message(body))
        if record.loading and record.original_id is not None:
            # Discord: the first follow-up after a defer *is* the deferred response; its flags are ignored.
            message = self.messages[record.original_id]
            message.update(
                content=body.get("content") or "",
                embeds=body.get("embeds") or [],
                components=body.get("components") or [],
            )
            message["flags"] &= ~LOADING
            record.loading = False
        else:
            flags = (body.get("flags") or 0) & rules.EPHEMERAL
            message = self._store_message(
                int(record.payload["channel_id"]), body, flags=flags, interaction_id=str(record.id)
            )
            record.followups.append(int(message["id"]))
        return message if request.query.get("wait") in ("true", "1", "True") else None

    def _webhook_message(self, token: str, which: str) -> tuple[Interaction, dict[str, Any]]:
        record = self._interaction(token=token)
        message_id = record.original_id if which == "@original" else int(which)
        if message_id is None or message_id not in self.messages:
            raise DiscordError(404, 10008, "Unknown Message")
        return record, self.messages[message_id]

    async def _edit_webhook_message(self, request: web.Request, body: dict[str, Any], token: str, which: str) -> Any:
        record, message = self._webhook_message(token, which)
        self._check(rules.check_message(body, edit=True))
        message.update({k: v for k, v in body.items() if k in ("content", "embeds", "components")})
        if message["flags"] & LOADING:
            message["flags"] &= ~LOADING
            record.loading = False
        return message

    async def _get_webhook_message(self, request: web.Request, body: Any, token: str, which: str) -> Any:
        return self._webhook_message(token, which)[1]

    async def _delete_webhook_message(self, request: web.Request, body: Any, token: str, which: str) -> None:
        record, message = self._webhook_message(token, which)
        del self.messages[int(message["id"])]
        if int(message["id"]) == record.original_id:
            record.loading = False  # the next follow-up is a message of its own
        self.deleted.append(message)
