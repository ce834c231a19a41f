"""Settings of the Teams adapter, read from the environment and `.env`.

The Azure Bot registration's names are accepted as they appear in the Bot Framework samples
(``MicrosoftAppId`` …) and in upper snake case (``MICROSOFT_APP_ID`` …).

Whether Teams runs at all (``configured``): ``TEAMS_ENABLED`` decides when it is set;
otherwise Teams is on exactly when an app id is configured. With ``TEAMS_ENABLED=true`` and no
app id the bot accepts unauthenticated requests, as the Bot Framework does for its emulator:
use that for local testing only, never on a public address.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

AppType = Literal["MultiTenant", "SingleTenant", "UserAssignedMSI"]


class TeamsSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", populate_by_name=True, case_sensitive=False
    )

    app_id: str = Field(
        default="", validation_alias=AliasChoices("MicrosoftAppId", "MICROSOFT_APP_ID", "app_id")
    )
    app_password: SecretStr = Field(
        default=SecretStr(""),
        validation_alias=AliasChoices(
            "MicrosoftAppPassword", "MICROSOFT_APP_PASSWORD", "app_password"
        ),
    )
    app_type: AppType = Field(
        default="MultiTenant",
        validation_alias=AliasChoices("MicrosoftAppType", "MICROSOFT_APP_TYPE", "app_type"),
    )
    app_tenant_id: str = Field(
        default="",
        validation_alias=AliasChoices(
            "MicrosoftAppTenantId", "MICROSOFT_APP_TENANT_ID", "app_tenant_id"
        ),
    )
    enabled: bool | None = Field(
        default=None, validation_alias=AliasChoices("TEAMS_ENABLED", "enabled")
    )
    # Where the Bot Framework's signing keys are published. Only sovereign clouds and tests
    # need to change it; the default is the public cloud's.
    openid_metadata_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("TEAMS_OPENID_METADATA_URL", "openid_metadata_url"),
    )
    # A 429 from the connector is waited out this many times, each wait at most this long;
    # beyond that the send fails as retryable so the outbox can try later.
    max_send_attempts: int = Field(
        default=4, validation_alias=AliasChoices("TEAMS_MAX_SEND_ATTEMPTS", "max_send_attempts")
    )
    max_retry_wait: float = Field(
        default=30.0, validation_alias=AliasChoices("TEAMS_MAX_RETRY_WAIT", "max_retry_wait")
    )

    # The bot's public https address (e.g. https://bot.example.com). With it, report charts
    # are served from /teams/charts/… at signed URLs that expire after chart_ttl_days; without
    # it a chart goes inside the card only when it can be shrunk to fit the message.
    public_url: str = Field(
        default="", validation_alias=AliasChoices("TEAMS_PUBLIC_URL", "public_url")
    )
    chart_ttl_days: float = Field(
        default=30.0, gt=0, validation_alias=AliasChoices("TEAMS_CHART_TTL_DAYS", "chart_ttl_days")
    )

    @property
    def configured(self) -> bool:
        if self.enabled is not None:
            return self.enabled
        return bool(self.app_id)

    @property
    def authenticated(self) -> bool:
        """Without an app id inbound requests are not authenticated (local testing only)."""
        return bool(self.app_id)
