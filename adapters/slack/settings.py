"""Configuration of the Slack adapter, read from the environment and an optional ``.env``."""

from __future__ import annotations

from pydantic import SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from adapters.slack.pacing import Distribution


class SlackSettings(BaseSettings):
    """Names match the variables Slack's own docs and bolt use, so one ``.env`` serves both."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=True)

    SLACK_BOT_TOKEN: SecretStr | None = None  # single-workspace install
    SLACK_SIGNING_SECRET: SecretStr | None = None  # HTTP mode request verification
    SLACK_APP_TOKEN: SecretStr | None = None  # Socket Mode instead of public HTTP
    SLACK_API_URL: str = "https://slack.com/api/"
    SLACK_CLIENT_ID: str | None = None  # OAuth multi-workspace install
    SLACK_CLIENT_SECRET: SecretStr | None = None
    # How the app is distributed decides conversations.history's rate limits (see pacing.py):
    # internal or Marketplace-approved apps get Tier 3, other distributed apps 1 call a minute.
    # Unset: an OAuth (multi-workspace) install counts as distributed, a single token as internal.
    SLACK_APP_DISTRIBUTION: Distribution | None = None

    @field_validator("SLACK_BOT_TOKEN")
    @classmethod
    def _bot_token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        return _check_prefix(value, "xoxb-", "SLACK_BOT_TOKEN", "a bot token")

    @field_validator("SLACK_APP_TOKEN")
    @classmethod
    def _app_token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        return _check_prefix(value, "xapp-", "SLACK_APP_TOKEN", "an app-level token")

    @field_validator("SLACK_API_URL")
    @classmethod
    def _api_url_shape(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"SLACK_API_URL must be an http(s) URL, got {value!r}")
        # slack-sdk joins method names onto the base URL, so it must end with a slash.
        return value if value.endswith("/") else value + "/"

    @model_validator(mode="after")
    def _oauth_pair(self) -> SlackSettings:
        if bool(self.SLACK_CLIENT_ID) != bool(self.SLACK_CLIENT_SECRET):
            raise ValueError(
                "SLACK_CLIENT_ID and SLACK_CLIENT_SECRET must be set together (OAuth install)"
            )
        return self

    @property
    def oauth_enabled(self) -> bool:
        return bool(self.SLACK_CLIENT_ID and self.SLACK_CLIENT_SECRET)

    @property
    def distribution(self) -> Distribution:
        if self.SLACK_APP_DISTRIBUTION is not None:
            return self.SLACK_APP_DISTRIBUTION
        return "non_marketplace" if self.oauth_enabled else "internal"

    @property
    def socket_mode(self) -> bool:
        return self.SLACK_APP_TOKEN is not None

    @property
    def missing(self) -> list[str]:
        """What still has to be set before the adapter can run, for a clear startup error."""
        needed: list[str] = []
        if self.SLACK_BOT_TOKEN is None and not self.oauth_enabled:
            needed.append("SLACK_BOT_TOKEN (or SLACK_CLIENT_ID + SLACK_CLIENT_SECRET)")
        if self.SLACK_SIGNING_SECRET is None and not self.socket_mode:
            needed.append("SLACK_SIGNING_SECRET (or SLACK_APP_TOKEN for Socket Mode)")
        return needed

    @property
    def configured(self) -> bool:
        return not self.missing


def secret(value: SecretStr | None) -> str:
    """The plain value of an optional secret ("" when unset)."""
    return value.get_secret_value() if value is not None else ""


def _check_prefix(value: SecretStr | None, prefix: str, name: str, what: str) -> SecretStr | None:
    if value is None or value.get_secret_value() == "":
        return None
    if not value.get_secret_value().startswith(prefix):
        # Never echo the value: it is a credential.
        raise ValueError(f"{name} must be {what} starting with {prefix!r}")
    return value
