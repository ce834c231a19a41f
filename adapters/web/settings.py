"""Configuration of the web channel, from the environment and an optional ``.env``."""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network, ip_network

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Network = IPv4Network | IPv6Network


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
    # Reverse proxies whose X-Forwarded-For is believed (comma-separated addresses or
    # networks). Empty: the header is ignored, as anyone can send it.
    trusted_proxies: str = Field(
        "", validation_alias=AliasChoices("ALIGNMENT_TRUSTED_PROXIES", "trusted_proxies")
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _networks_parse(cls, value: str) -> str:
        proxy_networks(value)
        return value

    def proxies(self) -> tuple[Network, ...]:
        return proxy_networks(self.trusted_proxies)


def proxy_networks(text: str) -> tuple[Network, ...]:
    networks = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            networks.append(ip_network(part, strict=False))
        except ValueError:
            raise ValueError(
                f"ALIGNMENT_TRUSTED_PROXIES: {part!r} is not an IP address or network "
                "(for example 10.0.0.5 or 10.0.0.0/8)"
            ) from None
    return tuple(networks)
