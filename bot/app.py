"""The Discord bot: setup, the central error handler, and :func:`run_bot` for ``paperbot run``."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.ext import commands

from bot.health import HealthServer, gateway_states
from bot.interactions import reply
from bot.metrics import BotMetrics, shard_label
from bot.state import BotState
from retrieval.errors import UserFacingError
from retrieval.settings import ConfigError, Settings, on_shards

if TYPE_CHECKING:
    from retrieval.library import Library

log = logging.getLogger("paperbot")

LibraryFactory = Callable[[], "Library"]

# Exit codes of run_bot.
EXIT_OK, EXIT_CONFIG, EXIT_LOGIN, EXIT_UNREACHABLE, EXIT_LIBRARY, EXIT_COMMANDS = 0, 2, 3, 4, 5, 6
# The cogs, loaded as extensions by name (each module's ``setup`` adds its cog).
EXTENSIONS = (
    "bot.cogs.ask",
    "bot.cogs.paper",
    "bot.cogs.today",
    "bot.cogs.digest",
    "bot.cogs.help",
    "bot.cogs.find",
    "bot.cogs.library",
    "bot.cogs.follow",
    "bot.cogs.threads",
)
# Discord's JSON error codes the bot reacts to.
UNKNOWN_INTERACTION, MISSING_ACCESS, INVALID_FORM_BODY = 10062, 50001, 50035


class LibraryOpenError(RuntimeError):
    """The paper library could not be opened at startup."""


class MetricsPortError(RuntimeError):
    """``PAPERBOT_METRICS_PORT`` cannot be listened on (in use, not allowed)."""


class CommandSyncError(RuntimeError):
    """Discord rejected the slash command definitions themselves: the bot would run without commands."""


def use_api_base(config: Settings) -> None:
    """Point discord.py's REST client (and so interaction callbacks and webhooks) at ``PAPERBOT_DISCORD_API_BASE``.

    Process-wide on purpose: discord.py keeps the base URL on its ``Route`` class.
    """
    if config.api_url:
        discord.http.Route.BASE = config.api_url
        log.info("Discord API base: %s", config.api_url)


def is_expired(error: BaseException) -> bool:
    """Whether Discord said the interaction is unknown: not acknowledged within its 3 s, or answered twice."""
    return isinstance(error, discord.NotFound) and error.code == UNKNOWN_INTERACTION


def error_message(error: app_commands.AppCommandError) -> tuple[str, bool]:
    """What to tell the user about a failed command, and whether it was unexpected (log a traceback)."""
    original = getattr(error, "original", error)
    if isinstance(original, UserFacingError):
        return str(original), False
    if isinstance(error, app_commands.CommandNotFound):
        return "That command no longer exists (Discord may still list it for a while); see `/help`.", False
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Easy! You can ask again in {max(1, round(error.retry_after))} s.", False
    if isinstance(error, app_commands.MissingPermissions):
        return "You need the **Manage Server** permission for this.", False
    if isinstance(error, app_commands.BotMissingPermissions):
        return f"I am missing permissions here: {', '.join(error.missing_permissions)}.", False
    if isinstance(error, app_commands.NoPrivateMessage):
        return "This command only works in a server.", False
    if isinstance(error, app_commands.CheckFailure):
        return "You can't use this command here.", False
    if isinstance(error, app_commands.TransformerError):
        return "I could not understand one of the options; please check it and try again.", False
    return "Sorry, something went wrong on my side. It has been logged.", True


class PaperBot(commands.Bot):
    """The bot: one shared library, state in its database, cogs for the commands and the daily post."""

    def __init__(
        self,
        config: Settings,
        library_factory: LibraryFactory | None = None,
        *,
        library: Library | None = None,
        **kwargs: object,
    ) -> None:
        if isinstance(self, commands.AutoShardedBot) and config.shard_count:
            kwargs.setdefault("shard_count", config.shard_count)
            kwargs.setdefault("shard_ids", list(config.shard_ids) if config.shard_ids is not None else None)
        intents = discord.Intents.none()
        intents.guilds = True  # Channels and our own permissions; no privileged intents.
        # Messages in servers: those that mention the bot carry their content (follow-ups in threads).
        intents.guild_messages = True
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            help_command=None,
            allowed_mentions=discord.AllowedMentions.none(),
            **kwargs,  # type: ignore[arg-type]
        )
        self.config = config
        self._library_factory = library_factory
        self.library: Library = library  # type: ignore[assignment]  # set in setup_hook when None
        self.state: BotState = BotState(library.storage.state) if library is not None else None  # type: ignore[assignment]
        self.tree.error(self.on_app_command_error)
        # One registry per process (several bots may share a test process), labelled with its shards.
        self.metrics = BotMetrics(shard_label(config.shard_ids, config.shard_count))
        self.metrics.watch(lambda: gateway_states(self), lambda: self.library)
        self.health: HealthServer | None = None
        self._lag_probe: asyncio.Task[None] | None = None

    async def start_health(self) -> None:
        """Serve /healthz, /readyz and /metrics when ``PAPERBOT_METRICS_PORT`` is set; probe event-loop lag."""
        if self.config.metrics_port is None or self.health is not None:
            return
        self.health = HealthServer(self, self.metrics, self.config.metrics_host, self.config.metrics_port)
        try:
            await self.health.start()
        except OSError as exc:
            self.health = None
            where = f"{self.config.metrics_host}:{self.config.metrics_port}"
            raise MetricsPortError(
                f"cannot serve metrics on {where} ({exc.strerror or exc}); check PAPERBOT_METRICS_PORT"
            ) from None
        self._lag_probe = asyncio.create_task(self.metrics.probe_loop_lag(), name="paperbot-loop-lag")

    async def close(self) -> None:
        """Stop the health server and the lag probe, then disconnect."""
        if self._lag_probe is not None:
            self._lag_probe.cancel()
        if self.health is not None:
            await self.health.close()
            self.health = None
        await super().close()

    async def setup_hook(self) -> None:
        """Serve health and metrics, open the library (off the event loop), load the cogs, sync commands."""
        await self.start_health()  # /healthz and /readyz answer (503) while the library loads
        if self.config.api_url:
            await self.use_gateway_from_api()
        if self.library is None:
            if self._library_factory is None:
                raise RuntimeError("PaperBot needs a library or a library_factory")
            log.info("opening the paper library…")
            try:
                self.library = await asyncio.to_thread(self._library_factory)
            except Exception as exc:
                raise LibraryOpenError(f"cannot open the paper library: {exc}") from exc
            self.state = BotState(self.library.storage.state)
        await self.load_extensions()
        await self.sync_commands()

    async def load_extensions(self) -> None:
        """Load every cog extension by name (:data:`EXTENSIONS`)."""
        for name in EXTENSIONS:
            await self.load_extension(name)

    async def use_gateway_from_api(self) -> None:
        """Connect to the gateway the configured API names (``GET /gateway/bot``), not the built-in Discord URL."""
        _, url, _ = await self.http.get_bot_gateway()
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)
        log.info("gateway: %s", url)

    async def sync_commands(self) -> None:
        """Sync slash commands to ``DISCORD_GUILD_ID`` (instant) or globally (may take up to an hour).

        Raises :class:`CommandSyncError` when Discord rejects the definitions (400, 50035): running
        without working commands would only hide the problem. Other failures are logged with what
        Discord said; commands synced earlier keep working.
        """
        try:
            if self.config.guild_id:
                guild = discord.Object(id=self.config.guild_id)
                self.tree.copy_global_to(guild=guild)
                synced = await self.tree.sync(guild=guild)
                log.info("synced %d commands to guild %s", len(synced), self.config.guild_id)
            else:
                synced = await self.tree.sync()
                log.info("synced %d global commands", len(synced))
        except discord.HTTPException as exc:
            said = f"{exc.status} {exc.code}: {exc.text}".replace("\n", "; ")
            if exc.status == 400 or exc.code == INVALID_FORM_BODY:
                raise CommandSyncError(f"Discord rejected the slash command definitions ({said})") from None
            if self.config.guild_id and (exc.status == 403 or exc.code == MISSING_ACCESS):
                log.error(
                    "could not sync slash commands to guild %s (%s); check DISCORD_GUILD_ID and that the bot "
                    "was invited to that server with the applications.commands scope",
                    self.config.guild_id,
                    said,
                )
            else:
                log.error("could not sync slash commands (%s); commands synced earlier keep working", said)

    def serves_guild(self, guild_id: int) -> bool:
        """Whether this process's shards receive ``guild_id`` (Discord: shard = (guild_id >> 22) % shard_count)."""
        return on_shards(guild_id, self.shard_count, getattr(self, "shard_ids", None))

    async def on_ready(self) -> None:
        """Log who we are and where."""
        log.info("connected as %s to %d server(s)", self.user, len(self.guilds))

    async def on_app_command_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        """The one error handler: a brief private reply to the user, the details in the log."""
        name = interaction.command.qualified_name if interaction.command else _command_name(interaction)
        original = getattr(error, "original", error)
        if is_expired(original):
            # Nothing can reach the user any more; a traceback would only say what this line says.
            log.warning("/%s: the interaction expired before I answered (Discord allows 3 s to acknowledge)", name)
            return
        message, unexpected = error_message(error)
        if isinstance(error, app_commands.CommandNotFound):
            log.warning("unknown command /%s (removed or renamed; Discord may list it until it syncs)", name)
        elif unexpected:
            self.metrics.command_failed(name)
            log.error("command /%s failed", name, exc_info=(type(original), original, original.__traceback__))
        else:
            log.info("command /%s refused for user %s: %s", name, interaction.user.id, type(error).__name__)
        await reply(interaction, message)


def _command_name(interaction: discord.Interaction) -> str:
    data = interaction.data or {}
    return str(data.get("name", "?"))


class ShardedPaperBot(PaperBot, commands.AutoShardedBot):
    """:class:`PaperBot` with sharding (``PAPERBOT_SHARD_COUNT``/``PAPERBOT_SHARD_IDS``), for large deployments."""


def make_bot(config: Settings, library_factory: LibraryFactory | None = None, **kwargs: object) -> PaperBot:
    """A bot of the kind the config asks for (sharded or not)."""
    cls = ShardedPaperBot if config.sharded else PaperBot
    return cls(config, library_factory, **kwargs)


def _default_factory(config: Settings) -> LibraryFactory:
    def open_library() -> Library:
        from retrieval.library import Library

        return Library.open(settings=config)

    return open_library


def _fail(code: int, message: str) -> int:
    log.error(message)
    if not logging.getLogger().handlers and not log.handlers:
        print(f"error: {message}", file=sys.stderr)  # noqa: T201  # Logging not configured: still one line.
    return code


def apply_log_level(config: Settings, verbose: bool = False) -> None:
    """``PAPERBOT_LOG_LEVEL`` for the whole process (``-v`` lowers it to INFO when it is higher)."""
    level = logging.getLevelName(config.log_level)
    if verbose:
        level = min(level, logging.INFO)
    logging.getLogger().setLevel(level)


def run_bot(
    config: Settings | None = None, library_factory: LibraryFactory | None = None, *, verbose: bool = False
) -> int:
    """Run the bot until stopped; returns the process exit code.

    Misconfiguration and connection problems give one clear log line and a non-zero code (no
    traceback): 2 missing or malformed settings/token or a metrics port that cannot be listened on,
    3 token rejected by Discord, 4 Discord unreachable, 5 library cannot be opened, 6 Discord
    rejected the slash command definitions.
    """
    try:
        config = config or Settings.from_env()
        config.check_token()
    except ConfigError as exc:
        return _fail(EXIT_CONFIG, str(exc))
    apply_log_level(config, verbose)
    use_api_base(config)
    bot = make_bot(config, library_factory or _default_factory(config))

    async def main() -> None:
        async with bot:
            await bot.start(config.token)

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        log.info("stopped")
    except LibraryOpenError as exc:
        return _fail(EXIT_LIBRARY, str(exc))
    except CommandSyncError as exc:
        return _fail(EXIT_COMMANDS, str(exc))
    except MetricsPortError as exc:
        return _fail(EXIT_CONFIG, str(exc))
    except discord.LoginFailure:
        return _fail(
            EXIT_LOGIN, "Discord rejected DISCORD_TOKEN (login failed); reset the token in the developer portal"
        )
    except discord.PrivilegedIntentsRequired:
        return _fail(EXIT_LOGIN, "Discord refused the gateway intents requested by the bot")
    except (aiohttp.ClientConnectorError, discord.GatewayNotFound, aiohttp.ClientError, OSError, TimeoutError) as exc:
        return _fail(EXIT_UNREACHABLE, f"cannot reach Discord ({type(exc).__name__}: {exc}); check the network")
    return EXIT_OK
