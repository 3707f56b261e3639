"""Settings: every setting has an environment variable and a default (``.env`` supported).

The variable names are a public contract, documented in the README.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SLACK_API_URL = "https://slack.com/api/"


class ConfigError(Exception):
    """Invalid configuration; the message names each bad variable."""


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, name.lower())


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    slack_bot_token: SecretStr | None = Field(
        default=None, validation_alias=_env("SLACK_BOT_TOKEN")
    )
    slack_signing_secret: SecretStr | None = Field(
        default=None, validation_alias=_env("SLACK_SIGNING_SECRET")
    )
    slack_app_token: SecretStr | None = Field(
        default=None, validation_alias=_env("SLACK_APP_TOKEN")
    )
    slack_api_url: str = Field(
        default=DEFAULT_SLACK_API_URL, validation_alias=_env("SLACK_API_URL")
    )
    database_url: str = Field(
        default="sqlite+aiosqlite:///./epbot.db", validation_alias=_env("EPBOT_DATABASE_URL")
    )
    playbooks_dir: Path = Field(
        default=Path("./playbooks"), validation_alias=_env("EPBOT_PLAYBOOKS_DIR")
    )
    matrix: Path = Field(
        default=Path("./playbooks/matrix.yaml"), validation_alias=_env("EPBOT_MATRIX")
    )
    locale: Literal["zh-CN", "en"] = Field(default="zh-CN", validation_alias=_env("EPBOT_LOCALE"))
    timezone: str = Field(default="Asia/Shanghai", validation_alias=_env("EPBOT_TIMEZONE"))
    host: str = Field(default="127.0.0.1", validation_alias=_env("EPBOT_HOST"))
    port: int = Field(default=3000, ge=0, le=65535, validation_alias=_env("EPBOT_PORT"))
    incidents_channel: str | None = Field(
        default=None, validation_alias=_env("EPBOT_INCIDENTS_CHANNEL")
    )
    # Scale-out: how often a process not running the timers tries to take them over
    # (PostgreSQL advisory lock); at most 10 s keeps takeover after a crash within 15 s.
    leader_retry_seconds: float = Field(
        default=3.0, gt=0, le=10, validation_alias=_env("EPBOT_LEADER_RETRY_SECONDS")
    )
    # Delivery: how many Slack conversations are served at once (each in order), and
    # whether calls are paced by Slack's rate tiers before Slack has to answer 429.
    delivery_workers: int = Field(
        default=32, ge=1, le=128, validation_alias=_env("EPBOT_DELIVERY_WORKERS")
    )
    slack_pacing: bool = Field(default=True, validation_alias=_env("EPBOT_SLACK_PACING"))
    # Graceful shutdown (SIGTERM): how long to wait for requests and their work to finish.
    shutdown_timeout: float = Field(
        default=20.0, ge=0, le=300, validation_alias=_env("EPBOT_SHUTDOWN_TIMEOUT")
    )
    # Early warning (Art. 4): bearer tokens of the alert webhooks, "token" or "name=token"
    # (the name becomes the source), comma-separated; none set: the endpoints refuse all.
    alert_tokens: SecretStr | None = Field(
        default=None, validation_alias=_env("EPBOT_ALERT_TOKENS")
    )
    alerts_channel: str | None = Field(
        default=None, validation_alias=_env("EPBOT_ALERTS_CHANNEL")
    )
    # At most this many alerts per source per window (OnCall's default: 300 per 5 minutes).
    alert_rate_limit: int = Field(
        default=300, ge=1, validation_alias=_env("EPBOT_ALERT_RATE_LIMIT")
    )
    alert_rate_window: float = Field(
        default=300.0, gt=0, validation_alias=_env("EPBOT_ALERT_RATE_WINDOW")
    )
    log_format: Literal["text", "json"] = Field(
        default="text", validation_alias=_env("EPBOT_LOG_FORMAT")
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", validation_alias=_env("EPBOT_LOG_LEVEL")
    )

    @field_validator(
        "slack_bot_token",
        "slack_app_token",
        "slack_signing_secret",
        "incidents_channel",
        "alert_tokens",
        "alerts_channel",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # Compose and Kubernetes often pass VAR= for "not set"; an empty app token must not
        # switch on Socket Mode.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, value: SecretStr | None) -> SecretStr | None:
        # A bot token here makes Slack refuse every connection, retried forever: say so now.
        if value is not None and not value.get_secret_value().startswith("xapp-"):
            raise ValueError(
                "must be an app-level token (xapp-..., scope connections:write) "
                "for Socket Mode; leave it unset to serve HTTP"
            )
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("slack_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL such as https://slack.com/api/")
        return value if value.endswith("/") else value + "/"

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "must start with sqlite+aiosqlite:// or postgresql+asyncpg:// "
                "(epbot talks to its database asynchronously)"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from exc
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def alert_channel(self) -> str | None:
        """Where warnings go: ``EPBOT_ALERTS_CHANNEL``, else the incidents channel."""
        return self.alerts_channel or self.incidents_channel

    def alert_token_map(self) -> dict[str, str]:
        """Accepted alert tokens -> source name (``None`` name: the endpoint's kind)."""
        return parse_alert_tokens(
            self.alert_tokens.get_secret_value() if self.alert_tokens else ""
        )

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None


def parse_alert_tokens(value: str) -> dict[str, str]:
    """``"a=tok1, tok2"`` -> ``{"tok1": "a", "tok2": ""}`` (token -> source name or "")."""
    tokens: dict[str, str] = {}
    for entry in value.split(","):
        entry = entry.strip()
        if not entry:
            continue
        name, sep, token = entry.partition("=")
        if sep and name.strip() and token.strip():
            tokens[token.strip()] = name.strip()
        else:
            tokens[entry] = ""
    return tokens


_FIELD_TO_ENV = {
    name: (
        str(field.validation_alias.choices[0])
        if isinstance(field.validation_alias, AliasChoices)
        else name.upper()
    )
    for name, field in Settings.model_fields.items()
}


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment and ``.env``; raise ConfigError naming bad variables."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "?"
            env = _FIELD_TO_ENV.get(field, field)
            value = err.get("input")
            shown = "" if "TOKEN" in env or "SECRET" in env else f" (got {value!r})"
            lines.append(f"{env}: {err['msg']}{shown}")
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines)) from None


def require_slack(settings: Settings) -> None:
    """Refuse to talk to Slack without credentials, with the variables to set."""
    missing = [
        env
        for env, value in (
            ("SLACK_BOT_TOKEN", settings.slack_bot_token),
            ("SLACK_SIGNING_SECRET", settings.slack_signing_secret),
        )
        if value is None or not value.get_secret_value()
    ]
    if missing:
        raise ConfigError(
            "set " + " and ".join(missing) + " (from your Slack app's settings) to connect to "
            "Slack (see the README's configuration table)"
        )
