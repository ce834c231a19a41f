"""The Bot Framework SDK on first use.

botbuilder, with msrest, requests, azure-core, msal, PyJWT and cryptography under it, adds
about 24 MiB to a process; a server whose Teams endpoint has not been called yet does not
need it. ``LazyBridge`` has ``BotBridge``'s methods and imports ``adapters.teams.sdk`` (and
with it the SDK) the first time one is called: the first Teams request, or the first message
the bot sends to Teams, pays the import once per process (seconds on a busy machine).

What the SDK would refuse when it is built (a single-tenant or managed-identity app without
the ids it needs) is checked here when the adapter starts, so a misconfigured server still
fails at start-up with one clear line instead of at its first Teams request.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from adapters.teams.settings import TeamsSettings

if TYPE_CHECKING:
    from adapters.teams.sdk import BotBridge, Inbound, Turn

Json = dict[str, Any]
T = TypeVar("T")


class Unauthorized(Exception):
    """The request's token is missing or invalid (answered with 401)."""


class BadActivity(ValueError):
    """The SDK could not read the activity (answered with 400)."""


def check_sdk_settings(settings: TeamsSettings) -> None:
    """Raise ValueError for what the SDK's credential factory refuses on construction."""
    missing: list[str] = []
    if settings.app_type == "UserAssignedMSI":
        if not settings.app_id:
            missing.append("MicrosoftAppId")
        if not settings.app_tenant_id:
            missing.append("MicrosoftAppTenantId")
    elif settings.app_type == "SingleTenant":
        if not settings.app_id:
            missing.append("MicrosoftAppId")
        if not settings.app_password.get_secret_value():
            missing.append("MicrosoftAppPassword")
        if not settings.app_tenant_id:
            missing.append("MicrosoftAppTenantId")
    if missing:
        raise ValueError(f"Teams app type {settings.app_type} needs {', '.join(missing)}")


class LazyBridge:
    """``adapters.teams.sdk.BotBridge``, built on its first use."""

    def __init__(self, settings: TeamsSettings) -> None:
        check_sdk_settings(settings)
        self._settings = settings
        self._bridge: BotBridge | None = None
        self._loading = asyncio.Lock()

    @property
    def loaded(self) -> bool:
        return self._bridge is not None

    async def _get(self) -> BotBridge:
        if self._bridge is None:
            async with self._loading:
                if self._bridge is None:
                    # Imported in a thread: the import takes a second or more, and the event
                    # loop must go on answering meanwhile (Slack wants its acks within 3 s).
                    sdk = await asyncio.to_thread(importlib.import_module, "adapters.teams.sdk")
                    self._bridge = sdk.BotBridge(self._settings)
        return self._bridge

    async def authenticate(self, body: Json, auth_header: str) -> Inbound:
        return await (await self._get()).authenticate(body, auth_header)

    async def process(
        self, inbound: Inbound, handler: Callable[[Turn], Awaitable[None]]
    ) -> tuple[int, Any] | None:
        return await (await self._get()).process(inbound, handler)

    async def continue_conversation(
        self, reference: Json, work: Callable[[Turn], Awaitable[T]]
    ) -> T:
        return await (await self._get()).continue_conversation(reference, work)

    async def create_personal_conversation(
        self, *, service_url: str, tenant_id: str, bot_id: str, member_id: str
    ) -> Json:
        return await (await self._get()).create_personal_conversation(
            service_url=service_url, tenant_id=tenant_id, bot_id=bot_id, member_id=member_id
        )
