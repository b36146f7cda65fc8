"""Settings, read once from the environment and an optional `.env` file.

`load_settings()` is called by `main.py` and `manage.py`; every other module
receives a `Settings` (or the pieces it needs) as an argument and never reads
the environment itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from starlette.config import Config
from starlette.datastructures import CommaSeparatedStrings, Secret

PROJECT_DIR = Path(__file__).resolve().parent

# Only good for development: production refuses to start with it.
DEV_JWT_SECRET = "homer-development-secret-do-not-use-in-production"


class SettingsError(RuntimeError):
    """The configuration is unsafe or inconsistent; the app refuses to start."""


@dataclass(frozen=True)
class LoginLimits:
    """Failed logins allowed per window before answering 429.

    Five wrong passwords for one account is more than a person mistypes; a
    shared address (an office, a mobile carrier's NAT) gets more room.
    """

    window_seconds: int = 15 * 60
    per_account: int = 5
    per_address: int = 30


@dataclass(frozen=True)
class Settings:
    database_url: str = f"sqlite+aiosqlite:///{PROJECT_DIR / 'homer.db'}"
    broadcast_url: str = "memory://"
    jwt_secret: Secret = Secret(DEV_JWT_SECRET)
    jwt_expiry_hours: int = 24
    cors_origins: tuple[str, ...] = ("http://localhost:3000", "http://localhost:5173")
    upload_dir: Path = PROJECT_DIR / "uploads"
    razorpay_key_id: str = ""
    razorpay_key_secret: Secret = Secret("")
    razorpay_webhook_secret: Secret = Secret("")
    app_env: str = "development"
    # 12 is bcrypt's own default: about 250 ms a hash on one core here.
    bcrypt_rounds: int = 12
    login_limits: LoginLimits = field(default_factory=LoginLimits)
    # Events a WebSocket may fall behind before it is closed with 1013. Events are shared
    # between the sockets of a channel, so a full backlog costs about 8 bytes an event.
    ws_backlog: int = 1024
    # Sends a second one WebSocket may make before it is refused with rate_limited (REALTIME.md: 20).
    # A policy against one runaway client, not a throughput control: the server's capacity is shared.
    ws_sends_per_second: int = 20
    # How often each process reads whether its sockets' tokens were revoked without it hearing
    # (realtime/token_watch.py): the longest a socket outlives a logout whose process died mid-way.
    ws_token_recheck_seconds: float = 60.0

    @property
    def is_production(self) -> bool:
        return self.app_env == "production"

    def check(self) -> Settings:
        """Refuse settings that would be unsafe in production."""
        secret = str(self.jwt_secret)
        if self.is_production and (not secret or secret == DEV_JWT_SECRET):
            raise SettingsError(
                "JWT_SECRET must be set to a private random value when APP_ENV=production "
                "(for example: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        if self.is_production and len(secret) < 32:
            raise SettingsError("JWT_SECRET must be at least 32 characters when APP_ENV=production")
        if not 4 <= self.bcrypt_rounds <= 31:
            raise SettingsError("BCRYPT_ROUNDS must be between 4 and 31")
        if self.ws_backlog < 16:
            raise SettingsError("WS_BACKLOG must be at least 16")
        if not 1 <= self.ws_sends_per_second <= 1000:
            raise SettingsError("WS_SENDS_PER_SECOND must be between 1 and 1000")
        if not 1 <= self.ws_token_recheck_seconds <= 3600:
            raise SettingsError("WS_TOKEN_RECHECK_SECONDS must be between 1 and 3600")
        if "*" in self.cors_origins:
            # CORS would take it as any origin and the WebSocket check as a literal: they would disagree,
            # and any origin is not a setting for a service whose users trust it with their chats.
            raise SettingsError("CORS_ORIGINS must list the frontend's origins; '*' is not accepted")
        return self


def load_settings(env_file: str | Path | None = PROJECT_DIR / ".env") -> Settings:
    try:
        return _read(Config(env_file if env_file and Path(env_file).is_file() else None)).check()
    except ValueError as exc:  # a number that is not one: Starlette's message names the setting and its value
        raise SettingsError(str(exc)) from None


def _read(config: Config) -> Settings:
    defaults = Settings()
    return Settings(
        database_url=config("DATABASE_URL", default=defaults.database_url),
        broadcast_url=config("BROADCAST_URL", default=defaults.broadcast_url),
        jwt_secret=Secret(config("JWT_SECRET", default=DEV_JWT_SECRET)),
        jwt_expiry_hours=config("JWT_EXPIRY_HOURS", cast=int, default=defaults.jwt_expiry_hours),
        cors_origins=tuple(config("CORS_ORIGINS", cast=CommaSeparatedStrings, default=",".join(defaults.cors_origins))),
        upload_dir=config("UPLOAD_DIR", cast=Path, default=defaults.upload_dir),
        razorpay_key_id=config("RAZORPAY_KEY_ID", default=""),
        razorpay_key_secret=Secret(config("RAZORPAY_KEY_SECRET", default="")),
        razorpay_webhook_secret=Secret(config("RAZORPAY_WEBHOOK_SECRET", default="")),
        app_env=config("APP_ENV", default=defaults.app_env),
        bcrypt_rounds=config("BCRYPT_ROUNDS", cast=int, default=defaults.bcrypt_rounds),
        ws_backlog=config("WS_BACKLOG", cast=int, default=defaults.ws_backlog),
        ws_sends_per_second=config("WS_SENDS_PER_SECOND", cast=int, default=defaults.ws_sends_per_second),
        ws_token_recheck_seconds=config(
            "WS_TOKEN_RECHECK_SECONDS", cast=float, default=defaults.ws_token_recheck_seconds
        ),
    )
