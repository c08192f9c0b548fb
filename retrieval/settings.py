"""Every setting of paperbot, read once from the environment and ``.env`` (the environment wins).

:class:`Settings` is built by the entry points (``paperbot``, the bot) and passed down: the
library, storage, encoder and cogs take what they need from it, and nothing else reads the
environment. :data:`ENV_VARS` is the one list of variables (``.env.example`` and the README table
are checked against it).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
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
    (
        "PAPERBOT_SHARD_COUNT",
        "",
        "Shards in the whole deployment (AutoShardedBot; needed by Discord from 2,500 servers). Empty: not sharded.",
    ),
    ("PAPERBOT_SHARD_IDS", "", "This process's shards, e.g. 0,1 (empty: all of them). Needs PAPERBOT_SHARD_COUNT."),
    ("PAPERBOT_SHARDED", "false", "Older switch: true = AutoShardedBot with the shard count Discord recommends."),
    ("PAPERBOT_ASK_COOLDOWN", "10", "Seconds a user waits between two /ask (0 disables the cooldown)."),
    ("PAPERBOT_DIGEST_SIZE", "10", "Papers per digest post and per /today (1-25)."),
    ("PAPERBOT_DATA_DIR", "", "Library folder (SQLite + index). Empty: the per-user data folder."),
    (
        "PAPERBOT_DATABASE_URL",
        "",
        "PostgreSQL + pgvector instead of the SQLite library, shared by every bot process, e.g. "
        "postgresql://paperbot:secret@db.example.org:5432/paperbot. Empty: the SQLite library in PAPERBOT_DATA_DIR.",
    ),
    ("PAPERBOT_MODEL", "", "Sentence-transformers model name or path. Empty: the bundled all-MiniLM-L6-v2."),
    (
        "PAPERBOT_CACHE_DIR",
        "",
        "Where ONNX exports of embedding models are cached (one per model, shared by all libraries). "
        "Empty: the per-user cache folder.",
    ),
    (
        "PAPERBOT_ENCODER_THREADS",
        "",
        "Advanced: onnxruntime threads of one forward pass. Empty: 2 (1 on a 1-core machine).",
    ),
    ("PAPERBOT_HF_BASE", "https://huggingface.co", "Base URL of the Hugging Face daily papers API (the live feed)."),
    (
        "PAPERBOT_ARXIV_BASE",
        "https://arxiv.org",
        "Base URL full texts are fetched from ({base}/html/<id>, then {base}/pdf/<id>); off: never fetch full texts.",
    ),
    (
        "PAPERBOT_ARXIV_INTERVAL",
        "3",
        "Advanced: seconds between two requests to the full-text host (arXiv asks for 3; 0 only for local tests).",
    ),
    ("PAPERBOT_LOG_LEVEL", "INFO", "Logging level: DEBUG, INFO, WARNING, ERROR."),
    (
        "PAPERBOT_DISCORD_API_BASE",
        "",
        "Discord-API-compatible base URL, e.g. an HTTP proxy such as nirn-proxy (http://proxy:8080/api). Empty: Discord.",
    ),
    ("PAPERBOT_DIGEST_TICK", "60", "Seconds between two checks for due daily posts."),
    (
        "PAPERBOT_FUSION_WEIGHTS",
        "",
        "Advanced: score-fusion weights of paper cosine, sentence cosine, BM25 and IDF-weighted term coverage "
        "(default 1,1,0.5,0.5).",
    ),
    (
        "PAPERBOT_DEVICE",
        "cpu",
        "Where `paperbot index` encodes: cpu, or cuda (ONNX Runtime's CUDA provider: pip install 'paperbot[gpu]').",
    ),
    (
        "PAPERBOT_METRICS_PORT",
        "",
        "Serve /healthz, /readyz and /metrics (Prometheus) on this port, or host:port (default host 0.0.0.0; "
        "0: any free port, logged). Empty: off.",
    ),
    (
        "PAPERBOT_HNSW_THRESHOLD",
        "20000",
        "Advanced: from this many papers the dense index uses HNSW instead of exact search.",
    ),
)
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigError(ValueError):
    """A setting is missing or malformed; the message is one line meant for the operator."""


@dataclass(frozen=True)
class Settings:
    """Every setting (see :data:`ENV_VARS`); the defaults are those of an empty environment."""

    token: str = ""
    guild_id: int | None = None
    sharded: bool = False
    ask_cooldown: float = 10.0
    digest_size: int = 10
    data_dir: Path | None = None
    model: str | None = None
    hf_base: str | None = None
    log_level: str = "INFO"
    api_base: str | None = None
    shard_count: int | None = None
    shard_ids: tuple[int, ...] | None = None
    digest_tick: float = 60.0
    database_url: str | None = None
    cache_dir: Path | None = None
    encoder_threads: int | None = None
    fusion_weights: tuple[float, float, float, float] | None = None
    hnsw_threshold: int = 20_000
    device: str = "cpu"
    metrics_host: str = "0.0.0.0"
    metrics_port: int | None = None  # None: no health/metrics server
    # None: full texts are never fetched (PAPERBOT_ARXIV_BASE=off).
    arxiv_base: str | None = "https://arxiv.org"
    arxiv_interval: float = 3.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, dotenv: bool = True) -> Settings:
        """Read the settings from ``env`` (default: ``os.environ`` after loading ``.env``)."""
        if env is None:
            if dotenv:
                # .env of the working directory (or a parent); values already in the environment win.
                load_dotenv(find_dotenv(usecwd=True), override=False)
            env = os.environ
        log_level = env.get("PAPERBOT_LOG_LEVEL", "INFO").strip().upper() or "INFO"
        if log_level not in _LEVELS:
            raise ConfigError(f"PAPERBOT_LOG_LEVEL must be one of {', '.join(_LEVELS)}, got {log_level[:40]!r}")
        shard_count = _int(env, "PAPERBOT_SHARD_COUNT", None, minimum=1)
        shard_ids = _shard_ids(env, shard_count)
        tick = _float(env, "PAPERBOT_DIGEST_TICK", 60.0)
        if not 0.1 <= tick <= 3600:
            raise ConfigError(f"PAPERBOT_DIGEST_TICK must be 0.1..3600 seconds, got {tick}")
        metrics_host, metrics_port = _metrics_address(env)
        device = env.get("PAPERBOT_DEVICE", "").strip().lower() or "cpu"
        if device not in ("cpu", "cuda"):
            raise ConfigError(f"PAPERBOT_DEVICE must be cpu or cuda, got {device[:40]!r}")
        return cls(
            device=device,
            metrics_host=metrics_host,
            metrics_port=metrics_port,
            token=env.get("DISCORD_TOKEN", "").strip(),
            guild_id=_int(env, "DISCORD_GUILD_ID", None, minimum=1),
            sharded=_bool(env, "PAPERBOT_SHARDED", False) or shard_count is not None,
            ask_cooldown=_float(env, "PAPERBOT_ASK_COOLDOWN", 10.0),
            digest_size=_int(env, "PAPERBOT_DIGEST_SIZE", 10, minimum=1, maximum=25) or 10,
            data_dir=_path(env, "PAPERBOT_DATA_DIR"),
            model=env.get("PAPERBOT_MODEL", "").strip() or None,
            hf_base=env.get("PAPERBOT_HF_BASE", "").strip().rstrip("/") or None,
            log_level=log_level,
            api_base=_api_base(env),
            shard_count=shard_count,
            shard_ids=shard_ids,
            digest_tick=tick,
            database_url=_database_url(env),
            cache_dir=_path(env, "PAPERBOT_CACHE_DIR"),
            encoder_threads=_int(env, "PAPERBOT_ENCODER_THREADS", None, minimum=1),
            fusion_weights=_weights(env),
            hnsw_threshold=_int(env, "PAPERBOT_HNSW_THRESHOLD", 20_000, minimum=1) or 20_000,
            arxiv_base=_arxiv_base(env),
            arxiv_interval=_float(env, "PAPERBOT_ARXIV_INTERVAL", 3.0),
        )

    @property
    def api_url(self) -> str | None:
        """The versioned REST base discord.py should use (``…/api/v10``), or None for Discord itself."""
        if not self.api_base:
            return None
        return self.api_base if re.search(r"/v\d+$", self.api_base) else f"{self.api_base}/v10"

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


def on_shards(guild_id: int, shard_count: int | None, shard_ids: Sequence[int] | None) -> bool:
    """Whether ``guild_id`` is on one of ``shard_ids`` (Discord's rule: shard = (guild_id >> 22) % shard_count).

    No shard count or no shard list: every server is ours.
    """
    if not shard_count or shard_ids is None:
        return True
    return (guild_id >> 22) % shard_count in shard_ids


def _path(env: Mapping[str, str], name: str) -> Path | None:
    raw = env.get(name, "").strip()
    return Path(raw).expanduser() if raw else None


def _database_url(env: Mapping[str, str]) -> str | None:
    # Checked where it is opened (retrieval.storage.factory), as a --database-url is.
    return env.get("PAPERBOT_DATABASE_URL", "").strip() or None


def _arxiv_base(env: Mapping[str, str]) -> str | None:
    raw = env.get("PAPERBOT_ARXIV_BASE", "").strip().rstrip("/")
    if raw.lower() == "off":
        return None
    if not raw:
        return "https://arxiv.org"
    if not re.match(r"^https?://[^/\s]+(/\S*)?$", raw):
        raise ConfigError(f"PAPERBOT_ARXIV_BASE must be an http(s) URL or off, got {raw[:60]!r}")
    return raw


def _weights(env: Mapping[str, str]) -> tuple[float, float, float, float] | None:
    raw = env.get("PAPERBOT_FUSION_WEIGHTS", "").strip()
    if not raw:
        return None
    try:
        values = tuple(float(x) for x in raw.split(","))
    except ValueError:
        values = ()
    if len(values) != 4:
        raise ConfigError(f"PAPERBOT_FUSION_WEIGHTS must be four comma-separated numbers, got {raw[:40]!r}")
    return values  # type: ignore[return-value]


def _metrics_address(env: Mapping[str, str]) -> tuple[str, int | None]:
    raw = env.get("PAPERBOT_METRICS_PORT", "").strip()
    if not raw:
        return "0.0.0.0", None
    host, _, port = raw.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"
    if not port.isdigit() or int(port) > 65535:
        raise ConfigError(f"PAPERBOT_METRICS_PORT must be a port (0-65535) or host:port, got {raw[:60]!r}")
    return host, int(port)


def _api_base(env: Mapping[str, str]) -> str | None:
    raw = env.get("PAPERBOT_DISCORD_API_BASE", "").strip().rstrip("/")
    if not raw:
        return None
    if not re.match(r"^https?://[^/\s]+(/\S*)?$", raw):
        raise ConfigError(f"PAPERBOT_DISCORD_API_BASE must be an http(s) URL, got {raw[:60]!r}")
    return raw


def _shard_ids(env: Mapping[str, str], shard_count: int | None) -> tuple[int, ...] | None:
    raw = env.get("PAPERBOT_SHARD_IDS", "").strip()
    if not raw:
        return None
    if shard_count is None:
        raise ConfigError("PAPERBOT_SHARD_IDS needs PAPERBOT_SHARD_COUNT (the number of shards in the deployment)")
    try:
        ids = tuple(sorted({int(part) for part in raw.split(",") if part.strip()}))
    except ValueError:
        raise ConfigError(f"PAPERBOT_SHARD_IDS must be comma-separated integers, got {raw[:40]!r}") from None
    if not ids or ids[0] < 0 or ids[-1] >= shard_count:
        raise ConfigError(f"PAPERBOT_SHARD_IDS must be between 0 and {shard_count - 1}, got {raw[:40]!r}")
    return ids


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
