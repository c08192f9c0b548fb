"""Bot settings from the environment and ``.env`` (the environment wins)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dotenv import find_dotenv, load_dotenv

# Three dot-separated base64url parts: user id, timestamp, HMAC.
_TOKEN = re.compile(r"^[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{20,}$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

# (name, default, comment): the source of .env.example and the README table.
ENV_VARS: tuple[tuple[str, str, str], ...] = (
    ("DISCORD_TOKEN", "", "Bot token from the Discord developer portal (Bot → Reset Token). Required for `run`."),
    ("DISCORD_GUILD_ID", "", "Sync slash commands to this one server only (instant; for development). Empty: global."),
    ("PAPERBOT_SHARDED", "false", "Use AutoShardedBot: advisable past ~1,000 servers, required by Discord at 2,500."),
    ("PAPERBOT_ASK_COOLDOWN", "10", "Seconds a user waits between two /ask (0 disables the cooldown)."),
    ("PAPERBOT_DIGEST_SIZE", "10", "Papers per digest post and per /today (1-25)."),
    ("PAPERBOT_DATA_DIR", "", "Library folder (SQLite + index). Empty: the per-user data folder."),
    ("PAPERBOT_MODEL", "", "Sentence-transformers model name or path. Empty: the bundled all-MiniLM-L6-v2."),
    ("PAPERBOT_HF_BASE", "https://huggingface.co", "Base URL of the Hugging Face daily papers API (the live feed)."),
    ("PAPERBOT_LOG_LEVEL", "INFO", "Logging level: DEBUG, INFO, WARNING, ERROR."),
)


class ConfigError(ValueError):
    """A setting is missing or malformed; the message is one line meant for the operator."""


@dataclass(frozen=True)
class BotConfig:
    """Everything the Discord adapter reads from the environment."""

    token: str = ""
    guild_id: int | None = None
    sharded: bool = False
    ask_cooldown: float = 10.0
    digest_size: int = 10
    data_dir: Path | None = None
    model: str | None = None
    hf_base: str | None = None
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, dotenv: bool = True) -> BotConfig:
        """Read the settings from ``env`` (default: ``os.environ`` after loading ``.env``)."""
        if env is None:
            if dotenv:
                # .env of the working directory (or a parent); values already in the environment win.
                load_dotenv(find_dotenv(usecwd=True), override=False)
            env = os.environ
        data_dir = env.get("PAPERBOT_DATA_DIR", "").strip()
        return cls(
            token=env.get("DISCORD_TOKEN", "").strip(),
            guild_id=_int(env, "DISCORD_GUILD_ID", None, minimum=1),
            sharded=_bool(env, "PAPERBOT_SHARDED", False),
            ask_cooldown=_float(env, "PAPERBOT_ASK_COOLDOWN", 10.0),
            digest_size=_int(env, "PAPERBOT_DIGEST_SIZE", 10, minimum=1, maximum=25) or 10,
            data_dir=Path(data_dir).expanduser() if data_dir else None,
            model=env.get("PAPERBOT_MODEL", "").strip() or None,
            hf_base=env.get("PAPERBOT_HF_BASE", "").strip().rstrip("/") or None,
            log_level=env.get("PAPERBOT_LOG_LEVEL", "INFO").strip().upper() or "INFO",
        )

    def check_token(self) -> None:
        """Raise :class:`ConfigError` with one clear line when the token is missing or malformed."""
        if not self.token:
            raise ConfigError("DISCORD_TOKEN is not set; put the bot token in the environment or in .env")
        if self.token.lower().startswith("bot "):
            raise ConfigError("DISCORD_TOKEN must be the bare token, without the 'Bot ' prefix")
        if not _TOKEN.match(self.token):
            raise ConfigError(
                "DISCORD_TOKEN is malformed: expected three dot-separated parts as shown by the developer portal"
            )


def _int(
    env: Mapping[str, str], name: str, default: int | None, minimum: int = 0, maximum: int | None = None
) -> int | None:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw[:40]!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f"{minimum}..{maximum}" if maximum is not None else f">= {minimum}"
        raise ConfigError(f"{name} must be {bounds}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw[:40]!r}") from None
    if value < 0 or value != value:
        raise ConfigError(f"{name} must be >= 0, got {raw[:40]!r}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw[:40]!r}")
