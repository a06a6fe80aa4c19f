"""Settings, read once from the environment.

This is the only module that reads the environment for the gateway, and the
action server and knowledge base import it too, so it stays free of web
framework imports: standard library only.

    from bot.settings import get_settings
    settings = get_settings()

Tests build their own with `load_settings({...})` and pass them explicitly.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from common.settings import secrets_dir

REPO_ROOT = Path(__file__).resolve().parent.parent
ENVIRONMENTS = ("development", "production")
TOKEN_FILE_NAME = "rasa_token"


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    bot_host: str
    bot_port: int
    rasa_url: str
    rasa_token: str
    data_dir: Path
    app_database_url: str
    kb_database_url: str
    max_message_chars: int
    bot_env: str
    # Escalation and the counsellor console (bot/cases, bot/console).
    # Fernet keys, newest first; empty = generated into DATA_DIR/secrets on first start.
    case_encryption_keys: tuple[str, ...] = ()
    # Seconds a case may wait before counsellors are alerted again, by risk level.
    wait_limit_imminent_seconds: int = 120
    wait_limit_high_seconds: int = 600
    wait_limit_concern_seconds: int = 1800
    # When counsellors answer in the chat, e.g. "07:00-22:00" or "always" (hotline 111 is 24/7).
    staffed_hours: str = "07:00-22:00"
    staffed_timezone: str = "Asia/Ho_Chi_Minh"
    queue_check_seconds: int = 15
    console_session_minutes: int = 480
    console_idle_minutes: int = 60
    # Push channels (bot/channels); None when not configured. See the README,
    # "Connecting Telegram and Zalo".
    telegram: TelegramSettings | None = None
    zalo: ZaloSettings | None = None
    # How long a gateway process may hold an incoming update or an outgoing
    # message before another process (or itself, after a restart) takes it over.
    channel_lease_seconds: float = 60.0
    # Privacy (bot/privacy, docs/data-inventory.md): how long what is kept, and where Rasa keeps it.
    # Rasa's tracker database (its `events` table), as a SQLAlchemy URL; "" = no tracker to purge.
    rasa_tracker_url: str = ""
    retention_conversation_days: int = 30  # conversations without a case
    retention_case_days: int = 365  # closed cases, counted from closing; then anonymous counts
    retention_check_seconds: int = 3600
    # Development only: log what people write (refused when BOT_ENV=production).
    log_message_text: bool = False
    # Per-person limit on every channel: a burst, then this many messages a minute.
    rate_limit_burst: int = 8
    rate_limit_per_minute: int = 20
    # Scale-out (docs/architecture.md, "Several processes"): every Rasa server the gateway
    # may use (rasa_url is the first), and the Redis shared by the gateway's workers.
    rasa_urls: tuple[str, ...] = ()
    redis_url: str = ""  # "" = one process: rate limits, live feed and turn locks in memory
    redis_key_prefix: str = "tre-em:"
    # Admission control (bot/admission.py): Rasa calls at once per gateway worker, and how
    # long a turn may take before the child is told it is busy (with 111) while it goes on.
    rasa_max_in_flight: int = 8
    rasa_reply_deadline_seconds: float = 4.0
    # The action server checks the knowledge base's serving version at most this often and
    # rebuilds its index when an editor published a card (actions/knowledge_base/editing.py).
    kb_reload_seconds: int = 20

    def __post_init__(self) -> None:
        if not self.rasa_urls:  # built directly (tests) with one rasa_url
            object.__setattr__(self, "rasa_urls", (self.rasa_url,))

    @property
    def is_production(self) -> bool:
        return self.bot_env == "production"

    def __repr__(self) -> str:  # keep the token out of logs and tracebacks
        return (
            f"Settings(bot_host={self.bot_host!r}, bot_port={self.bot_port}, "
            f"rasa_urls={self.rasa_urls!r}, rasa_token='***', data_dir={str(self.data_dir)!r}, "
            f"app_database_url={_hide_password(self.app_database_url)!r}, "
            f"kb_database_url={_hide_password(self.kb_database_url)!r}, "
            f"max_message_chars={self.max_message_chars}, bot_env={self.bot_env!r}, "
            f"case_encryption_keys='***', staffed_hours={self.staffed_hours!r}, "
            f"wait_limits=({self.wait_limit_imminent_seconds}, {self.wait_limit_high_seconds}, "
            f"{self.wait_limit_concern_seconds}), telegram={self.telegram!r}, zalo={self.zalo!r}, "
            f"redis_url={_hide_password(self.redis_url)!r}, redis_key_prefix={self.redis_key_prefix!r})"
        )


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build settings from `environ` (default: os.environ). May create the token file."""
    env = os.environ if environ is None else environ

    data_dir = Path(_get(env, "DATA_DIR") or REPO_ROOT / "var").expanduser().resolve()
    bot_env = _get(env, "BOT_ENV") or "development"
    if bot_env not in ENVIRONMENTS:
        raise SettingsError(f"BOT_ENV must be one of {', '.join(ENVIRONMENTS)}, not {bot_env!r}")

    if bot_env == "production":
        _require_production_secrets(env)
    rasa_urls = _rasa_urls(env)

    return Settings(
        bot_host=_get(env, "BOT_HOST") or "127.0.0.1",
        bot_port=_int(env, "BOT_PORT", 8000, minimum=1, maximum=65535),
        rasa_url=rasa_urls[0],
        rasa_urls=rasa_urls,
        rasa_token=_get(env, "RASA_TOKEN") or read_or_create_token(data_dir),
        data_dir=data_dir,
        app_database_url=_get(env, "APP_DATABASE_URL") or f"sqlite:///{data_dir / 'app.db'}",
        kb_database_url=_get(env, "KB_DATABASE_URL") or f"sqlite:///{data_dir / 'kb.db'}",
        kb_reload_seconds=_int(env, "KB_RELOAD_SECONDS", 20, minimum=1, maximum=3600),
        max_message_chars=_int(env, "MAX_MESSAGE_CHARS", 2000, minimum=1, maximum=100_000),
        bot_env=bot_env,
        case_encryption_keys=tuple(
            k.strip() for k in _get(env, "CASE_ENCRYPTION_KEYS").split(",") if k.strip()
        ),
        wait_limit_imminent_seconds=_int(env, "WAIT_LIMIT_IMMINENT_SECONDS", 120, minimum=1, maximum=86_400),
        wait_limit_high_seconds=_int(env, "WAIT_LIMIT_HIGH_SECONDS", 600, minimum=1, maximum=86_400),
        wait_limit_concern_seconds=_int(env, "WAIT_LIMIT_CONCERN_SECONDS", 1800, minimum=1, maximum=86_400),
        staffed_hours=_staffed_hours(env),
        staffed_timezone=_get(env, "STAFFED_TIMEZONE") or "Asia/Ho_Chi_Minh",
        queue_check_seconds=_int(env, "QUEUE_CHECK_SECONDS", 15, minimum=1, maximum=3600),
        console_session_minutes=_int(env, "CONSOLE_SESSION_MINUTES", 480, minimum=1, maximum=7 * 24 * 60),
        console_idle_minutes=_int(env, "CONSOLE_IDLE_MINUTES", 60, minimum=1, maximum=7 * 24 * 60),
        telegram=_telegram(env, data_dir),
        zalo=_zalo(env),
        channel_lease_seconds=_float(env, "CHANNEL_LEASE_SECONDS", 60.0, minimum=0.5, maximum=3600),
        rasa_tracker_url=_tracker_url(env, data_dir),
        retention_conversation_days=_int(env, "RETENTION_CONVERSATION_DAYS", 30, minimum=1, maximum=3650),
        retention_case_days=_int(env, "RETENTION_CASE_DAYS", 365, minimum=1, maximum=3650),
        retention_check_seconds=_int(env, "RETENTION_CHECK_SECONDS", 3600, minimum=1, maximum=86_400),
        log_message_text=_log_message_text(env, bot_env),
        rate_limit_burst=_int(env, "RATE_LIMIT_BURST", 8, minimum=1, maximum=10_000),
        rate_limit_per_minute=_int(env, "RATE_LIMIT_PER_MINUTE", 20, minimum=1, maximum=60_000),
        redis_url=_redis_url(env),
        redis_key_prefix=_redis_key_prefix(env),
        rasa_max_in_flight=_int(env, "RASA_MAX_IN_FLIGHT", 8, minimum=1, maximum=1000),
        rasa_reply_deadline_seconds=_float(env, "RASA_REPLY_DEADLINE_SECONDS", 4.0, minimum=0.1, maximum=600),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return load_settings()


def read_or_create_token(data_dir: Path, name: str = TOKEN_FILE_NAME) -> str:
    """A generated secret kept in `$DATA_DIR/secrets/<name>` (mode 0600); the Rasa API token by default.

    Generated on first use so a development setup needs no manual step; every
    process of one stack shares the same DATA_DIR and so the same token.
    """
    directory = secrets_dir(data_dir)
    path = directory / name
    if not path.exists():
        # Written under a temporary name, then linked into place (atomic, fails if the
        # file exists): when two processes start at once exactly one token wins, and
        # nobody reads a half-written file.
        temporary = directory / f".{name}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(secrets.token_urlsafe(32) + "\n")
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
    token = path.read_text(encoding="utf-8").strip()
    if not token:
        raise SettingsError(f"{path} is empty; delete it or set RASA_TOKEN")
    return token


def _get(env: Mapping[str, str], name: str) -> str:
    return (env.get(name) or "").strip()


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int, maximum: int) -> int:
    raw = _get(env, name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from None
    if not minimum <= value <= maximum:
        raise SettingsError(f"{name} must be between {minimum} and {maximum}, not {value}")
    return value


def _staffed_hours(env: Mapping[str, str]) -> str:
    raw = _get(env, "STAFFED_HOURS") or "07:00-22:00"
    if raw == "always" or re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d", raw):
        return raw
    raise SettingsError(f"STAFFED_HOURS must be 'HH:MM-HH:MM' or 'always', not {raw!r}")


# Values that are examples or test fixtures, never secrets.
PLACEHOLDER_SECRETS = frozenset({"changeme", "change-me", "secret", "token", "password", "test", "dev",
                                 "development", "fake-rasa-token", "rasa-token", "xxx"})
MIN_PRODUCTION_TOKEN_CHARS = 32


def _require_production_secrets(env: Mapping[str, str]) -> None:
    """BOT_ENV=production: no generated, default or example secrets; each must be configured."""
    problems = []
    token = _get(env, "RASA_TOKEN")
    if not token:
        problems.append("RASA_TOKEN is not set (production does not generate one)")
    elif token.lower() in PLACEHOLDER_SECRETS or len(token) < MIN_PRODUCTION_TOKEN_CHARS:
        problems.append(f"RASA_TOKEN must be a random value of at least {MIN_PRODUCTION_TOKEN_CHARS} characters")
    if not _get(env, "CASE_ENCRYPTION_KEYS"):
        problems.append("CASE_ENCRYPTION_KEYS is not set (production does not generate keys)")
    if _get(env, "TELEGRAM_WEBHOOK_URL") and not _get(env, "TELEGRAM_WEBHOOK_SECRET"):
        problems.append("TELEGRAM_WEBHOOK_SECRET is not set")
    for name in ("TELEGRAM_WEBHOOK_SECRET", "ZALO_OA_SECRET_KEY", "ZALO_APP_SECRET"):
        value = _get(env, name)
        if value and value.lower() in PLACEHOLDER_SECRETS:
            problems.append(f"{name} is an example value")
    if problems:
        raise SettingsError("BOT_ENV=production refuses to start: " + "; ".join(problems))


def _tracker_url(env: Mapping[str, str], data_dir: Path) -> str:
    """RASA_TRACKER_URL, else the SQLite file devtools/stack.py gives Rasa (RASA_TRACKER_DB)."""
    url = _get(env, "RASA_TRACKER_URL")
    if url:
        if "://" not in url:
            raise SettingsError("RASA_TRACKER_URL must be a database URL, e.g. sqlite:////srv/bot/rasa_tracker.db")
        return url
    db = _get(env, "RASA_TRACKER_DB")
    return f"sqlite:///{Path(db).expanduser().resolve() if db else data_dir / 'rasa_tracker.db'}"


def _rasa_urls(env: Mapping[str, str]) -> tuple[str, ...]:
    """RASA_URLS (comma-separated) if set, else RASA_URL, else the default address."""
    name = "RASA_URLS" if _get(env, "RASA_URLS") else "RASA_URL"
    raw = _get(env, name) or "http://127.0.0.1:5005"
    urls: list[str] = []
    for part in raw.split(","):
        url = part.strip().rstrip("/")
        if not url:
            raise SettingsError(f"{name} has an empty entry: {raw!r}")
        if not re.fullmatch(r"https?://[^/\s?#]+(/[^\s?#]*)?", url):
            raise SettingsError(f"{name} must list http(s) URLs, not {url!r}")
        if url in urls:
            raise SettingsError(f"{name} lists {url!r} twice")
        urls.append(url)
    return tuple(urls)


REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def _redis_url(env: Mapping[str, str]) -> str:
    url = _get(env, "REDIS_URL")
    if url and not url.startswith(REDIS_SCHEMES):
        raise SettingsError(f"REDIS_URL must start with {', '.join(REDIS_SCHEMES)}, e.g. redis://127.0.0.1:6379/0")
    return url


def _redis_key_prefix(env: Mapping[str, str]) -> str:
    # Not _get: an explicitly empty prefix is allowed (a Redis of its own).
    raw = env.get("REDIS_KEY_PREFIX")
    prefix = "tre-em:" if raw is None else raw.strip()
    if not re.fullmatch(r"[A-Za-z0-9_.:-]{0,64}", prefix):
        raise SettingsError(f"REDIS_KEY_PREFIX must be up to 64 characters of A-Z a-z 0-9 _ . : -, not {prefix!r}")
    return prefix


def _log_message_text(env: Mapping[str, str], bot_env: str) -> bool:
    raw = _get(env, "LOG_MESSAGE_TEXT").lower()
    if raw not in ("", "0", "false", "no", "1", "true", "yes"):
        raise SettingsError(f"LOG_MESSAGE_TEXT must be true or false, not {raw!r}")
    enabled = raw in ("1", "true", "yes")
    if enabled and bot_env == "production":
        raise SettingsError("LOG_MESSAGE_TEXT is for development only: refused when BOT_ENV=production")
    return enabled


def _hide_password(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in credentials:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


# ---- push channels (bot/channels) -----------------------------------------------------


@dataclass(frozen=True)
class TelegramSettings:
    bot_token: str
    # Public HTTPS URL Telegram posts updates to; empty = polling (a laptop).
    webhook_url: str
    # Echoed by Telegram in X-Telegram-Bot-Api-Secret-Token on every webhook call.
    webhook_secret: str
    api_base: str  # https://api.telegram.org/bot ; tests and the demo point it at devtools/
    file_base: str

    @property
    def uses_webhook(self) -> bool:
        return bool(self.webhook_url)

    def __repr__(self) -> str:
        return (
            f"TelegramSettings(bot_token='***', webhook_url={self.webhook_url!r}, "
            f"webhook_secret='***', api_base={self.api_base!r})"
        )


@dataclass(frozen=True)
class ZaloSettings:
    """One Official Account; the gateway keys accounts by `oa_id`, so more can be added."""

    app_id: str
    app_secret: str  # the app's secret: OAuth token endpoint (`secret_key` header)
    oa_id: str
    oa_secret_key: str  # the OA secret key: webhook signatures (not the app secret)
    access_token: str  # the first pair; the database keeps the current one
    refresh_token: str
    api_base: str  # https://openapi.zalo.me
    oauth_base: str  # https://oauth.zaloapp.com

    def __repr__(self) -> str:
        return (
            f"ZaloSettings(app_id={self.app_id!r}, oa_id={self.oa_id!r}, app_secret='***', "
            f"oa_secret_key='***', access_token='***', refresh_token='***', "
            f"api_base={self.api_base!r}, oauth_base={self.oauth_base!r})"
        )


TELEGRAM_SECRET_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,256}")
ZALO_REQUIRED = ("ZALO_APP_ID", "ZALO_APP_SECRET", "ZALO_OA_ID", "ZALO_OA_SECRET_KEY", "ZALO_REFRESH_TOKEN")


def _telegram(env: Mapping[str, str], data_dir: Path) -> TelegramSettings | None:
    token = _get(env, "TELEGRAM_BOT_TOKEN")
    if not token:
        return None
    if not re.fullmatch(r"\d+:[A-Za-z0-9_-]+", token):
        raise SettingsError("TELEGRAM_BOT_TOKEN must look like 123456:ABC-DEF... (from @BotFather)")
    webhook_url = _get(env, "TELEGRAM_WEBHOOK_URL")
    if webhook_url and not webhook_url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise SettingsError("TELEGRAM_WEBHOOK_URL must be an https:// URL")
    secret = _get(env, "TELEGRAM_WEBHOOK_SECRET")
    if webhook_url and not secret:
        # The gateway registers the webhook itself, so a generated secret will do.
        secret = read_or_create_token(data_dir, "telegram_webhook_secret")
    if secret and not TELEGRAM_SECRET_PATTERN.fullmatch(secret):
        raise SettingsError("TELEGRAM_WEBHOOK_SECRET must be 1-256 characters of A-Z a-z 0-9 _ -")
    return TelegramSettings(
        bot_token=token,
        webhook_url=webhook_url,
        webhook_secret=secret,
        api_base=_url(env, "TELEGRAM_API_BASE", "https://api.telegram.org/bot"),
        file_base=_url(env, "TELEGRAM_FILE_BASE", "https://api.telegram.org/file/bot"),
    )


def _zalo(env: Mapping[str, str]) -> ZaloSettings | None:
    if not _get(env, "ZALO_APP_ID"):
        return None
    missing = [name for name in ZALO_REQUIRED if not _get(env, name)]
    if missing:
        raise SettingsError(f"Zalo is configured (ZALO_APP_ID) but {', '.join(missing)} missing")
    return ZaloSettings(
        app_id=_get(env, "ZALO_APP_ID"),
        app_secret=_get(env, "ZALO_APP_SECRET"),
        oa_id=_get(env, "ZALO_OA_ID"),
        oa_secret_key=_get(env, "ZALO_OA_SECRET_KEY"),
        access_token=_get(env, "ZALO_ACCESS_TOKEN"),
        refresh_token=_get(env, "ZALO_REFRESH_TOKEN"),
        api_base=_url(env, "ZALO_API_BASE", "https://openapi.zalo.me"),
        oauth_base=_url(env, "ZALO_OAUTH_BASE", "https://oauth.zaloapp.com"),
    )


def _url(env: Mapping[str, str], name: str, default: str) -> str:
    value = (_get(env, name) or default).rstrip("/")
    if not value.startswith(("http://", "https://")):
        raise SettingsError(f"{name} must be an http(s) URL, not {value!r}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, *, minimum: float, maximum: float) -> float:
    raw = _get(env, name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, not {raw!r}") from None
    if not minimum <= value <= maximum:
        raise SettingsError(f"{name} must be between {minimum} and {maximum}, not {value}")
    return value
