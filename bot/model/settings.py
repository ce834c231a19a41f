"""Core settings, from the environment and an optional `.env` file.

Platform settings (SLACK_*, MicrosoftApp*) belong to their adapters; this class holds what
every deployment shares.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///alignment.db"


class SettingsError(ValueError):
    """A setting is wrong; the message names it and says why, on one line."""


class CoreSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    database_url: str = Field(
        DEFAULT_DATABASE_URL, validation_alias=AliasChoices("DATABASE_URL", "database_url")
    )
    host: str = Field("127.0.0.1", validation_alias=AliasChoices("ALIGNMENT_HOST", "host"))
    port: int = Field(3000, ge=0, le=65535, validation_alias=AliasChoices("ALIGNMENT_PORT", "port"))
    admins: Annotated[tuple[str, ...], NoDecode] = Field(
        (), validation_alias=AliasChoices("ALIGNMENT_ADMINS", "admins")
    )
    time_zone: str = Field("UTC", validation_alias=AliasChoices("ALIGNMENT_TIME_ZONE", "time_zone"))
    top_k: int = Field(3, ge=1, le=10, validation_alias=AliasChoices("ALIGNMENT_TOP_K", "top_k"))
    min_group_size: int = Field(
        5, ge=1, validation_alias=AliasChoices("ALIGNMENT_MIN_GROUP_SIZE", "min_group_size")
    )
    alpha: float = Field(
        0.05, gt=0, lt=1, validation_alias=AliasChoices("ALIGNMENT_ALPHA", "alpha")
    )
    min_gap: float = Field(
        0.15, ge=0, le=1, validation_alias=AliasChoices("ALIGNMENT_MIN_GAP", "min_gap")
    )
    answer_window_hours: float = Field(
        72,
        gt=0,
        validation_alias=AliasChoices("ALIGNMENT_ANSWER_WINDOW_HOURS", "answer_window_hours"),
    )
    workers: int = Field(
        1, ge=1, le=64, validation_alias=AliasChoices("ALIGNMENT_WORKERS", "workers")
    )
    send_rate: float = Field(
        0, ge=0, validation_alias=AliasChoices("ALIGNMENT_SEND_RATE", "send_rate")
    )
    send_concurrency: int = Field(
        8,
        ge=1,
        le=256,
        validation_alias=AliasChoices("ALIGNMENT_SEND_CONCURRENCY", "send_concurrency"),
    )
    missed_run_grace_hours: float | None = Field(
        None,
        gt=0,
        validation_alias=AliasChoices("ALIGNMENT_MISSED_RUN_GRACE_HOURS", "missed_run_grace_hours"),
    )
    outbox_lease_seconds: float = Field(
        30,
        gt=0,
        validation_alias=AliasChoices("ALIGNMENT_OUTBOX_LEASE_SECONDS", "outbox_lease_seconds"),
    )
    scheduler_tick_seconds: float = Field(
        15,
        gt=0,
        validation_alias=AliasChoices("ALIGNMENT_SCHEDULER_TICK_SECONDS", "scheduler_tick_seconds"),
    )
    public_url: str = Field(
        "http://127.0.0.1:3000",
        pattern=r"^https?://[^\s/]+(/[^\s]*)?$",
        validation_alias=AliasChoices("ALIGNMENT_PUBLIC_URL", "public_url"),
    )
    # How long a `/alignment dashboard` link (and the browser session it opens) stays good.
    dashboard_link_minutes: int = Field(
        60,
        ge=1,
        le=7 * 24 * 60,
        validation_alias=AliasChoices("ALIGNMENT_DASHBOARD_LINK_MINUTES", "dashboard_link_minutes"),
    )
    log_level: str = Field("INFO", validation_alias=AliasChoices("LOG_LEVEL", "log_level"))
    log_json: bool = Field(False, validation_alias=AliasChoices("LOG_JSON", "log_json"))

    @field_validator("admins", mode="before")
    @classmethod
    def _split_admins(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"'{value}' is not an IANA time zone such as Europe/Berlin") from exc
        return value

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "use sqlite+aiosqlite:///FILE or postgresql+asyncpg://USER@HOST/DB "
                f"(got '{value.split('://')[0]}://…')"
            )
        return value

    @property
    def answer_window(self) -> timedelta:
        return timedelta(hours=self.answer_window_hours)


def load_settings() -> CoreSettings:
    try:
        return CoreSettings()
    except ValidationError as exc:
        raise SettingsError(one_line(exc)) from exc


def one_line(exc: ValidationError) -> str:
    """The first problem as 'SETTING: why', the way a person reading a log wants it."""
    error = exc.errors()[0]
    name = str(error["loc"][0]) if error["loc"] else "settings"
    names = {
        "database_url": "DATABASE_URL",
        "host": "ALIGNMENT_HOST",
        "port": "ALIGNMENT_PORT",
        "admins": "ALIGNMENT_ADMINS",
        "time_zone": "ALIGNMENT_TIME_ZONE",
        "top_k": "ALIGNMENT_TOP_K",
        "min_group_size": "ALIGNMENT_MIN_GROUP_SIZE",
        "alpha": "ALIGNMENT_ALPHA",
        "min_gap": "ALIGNMENT_MIN_GAP",
        "answer_window_hours": "ALIGNMENT_ANSWER_WINDOW_HOURS",
        "send_rate": "ALIGNMENT_SEND_RATE",
        "send_concurrency": "ALIGNMENT_SEND_CONCURRENCY",
        "missed_run_grace_hours": "ALIGNMENT_MISSED_RUN_GRACE_HOURS",
        "scheduler_tick_seconds": "ALIGNMENT_SCHEDULER_TICK_SECONDS",
        "outbox_lease_seconds": "ALIGNMENT_OUTBOX_LEASE_SECONDS",
        "public_url": "ALIGNMENT_PUBLIC_URL",
        "dashboard_link_minutes": "ALIGNMENT_DASHBOARD_LINK_MINUTES",
    }
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"bad setting {names.get(name, name)}: {message}"
