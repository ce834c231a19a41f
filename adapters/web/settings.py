"""Configuration of the web channel, from the environment and an optional ``.env``."""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    # Answers through an open link (website, newsletter) from one address per hour.
    open_link_per_hour: int = Field(
        10,
        ge=1,
        validation_alias=AliasChoices("ALIGNMENT_OPEN_LINK_PER_HOUR", "open_link_per_hour"),
    )
    # Signs the forms' CSRF tokens. Unset: a random secret kept in the database, shared by
    # every worker and replica.
    web_secret: SecretStr | None = Field(
        None, validation_alias=AliasChoices("ALIGNMENT_WEB_SECRET", "web_secret")
    )
