"""Installations and OAuth states kept in the core's PlatformRecords (JSON), so they survive
restarts and every replica sees the same installs."""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any, Final

from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore

from bot.model.ports import PlatformRecords

PLATFORM: Final = "slack"
KIND_BOT: Final = "bot"
KIND_INSTALLATION: Final = "installation"
KIND_STATE: Final = "oauth_state"
LATEST: Final = "latest"  # the installation that holds the current bot token
STATE_TTL_SECONDS: Final = 600

_log = logging.getLogger(__name__)


def workspace_key(enterprise_id: str | None, team_id: str | None) -> str:
    # "-" stands for "none": an org-wide install has no team, a plain workspace no enterprise.
    return f"{enterprise_id or '-'}:{team_id or '-'}"


def _json_fields(model: Installation | Bot) -> dict[str, Any]:
    # The SDK's own file store persists __dict__ and rebuilds with Model(**data); do the same.
    return {k: v for k, v in vars(model).items() if not k.startswith("_")}


class RecordsInstallationStore(AsyncInstallationStore):
    def __init__(self, records: PlatformRecords) -> None:
        self._records = records

    @property
    def logger(self) -> logging.Logger:
        return _log

    async def async_save(self, installation: Installation) -> None:
        base = workspace_key(installation.enterprise_id, installation.team_id)
        data = _json_fields(installation)
        await self._records.put(PLATFORM, KIND_INSTALLATION, f"{base}:{LATEST}", data)
        if installation.user_id:
            user_key = f"{base}:{installation.user_id}"
            await self._records.put(PLATFORM, KIND_INSTALLATION, user_key, data)
        await self.async_save_bot(installation.to_bot())

    async def async_save_bot(self, bot: Bot) -> None:
        key = workspace_key(bot.enterprise_id, bot.team_id)
        await self._records.put(PLATFORM, KIND_BOT, key, _json_fields(bot))

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        team = None if is_enterprise_install else team_id
        data = await self._records.get(PLATFORM, KIND_BOT, workspace_key(enterprise_id, team))
        return Bot(**data) if data else None

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        team = None if is_enterprise_install else team_id
        key = f"{workspace_key(enterprise_id, team)}:{user_id or LATEST}"
        data = await self._records.get(PLATFORM, KIND_INSTALLATION, key)
        return Installation(**data) if data else None

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self._records.delete(PLATFORM, KIND_BOT, workspace_key(enterprise_id, team_id))

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        base = workspace_key(enterprise_id, team_id)
        await self._records.delete(PLATFORM, KIND_INSTALLATION, f"{base}:{user_id or LATEST}")

    async def async_delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        base = workspace_key(enterprise_id, team_id)
        for key, _ in await self._records.find(PLATFORM, KIND_INSTALLATION, prefix=f"{base}:"):
            await self._records.delete(PLATFORM, KIND_INSTALLATION, key)
        await self.async_delete_bot(enterprise_id=enterprise_id, team_id=team_id)


class RecordsOAuthStateStore(AsyncOAuthStateStore):
    """One-time OAuth ``state`` values; a database row rather than bolt's default local file,
    so the install can start on one replica and finish on another."""

    def __init__(self, records: PlatformRecords, ttl_seconds: int = STATE_TTL_SECONDS) -> None:
        self._records = records
        self._ttl = ttl_seconds

    @property
    def logger(self) -> logging.Logger:
        return _log

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        state = secrets.token_urlsafe(24)
        expires = time.time() + self._ttl
        await self._records.put(PLATFORM, KIND_STATE, state, {"expires_at": expires})
        return state

    async def async_consume(self, state: str) -> bool:
        data = await self._records.get(PLATFORM, KIND_STATE, state)
        if data is None:
            return False
        await self._records.delete(PLATFORM, KIND_STATE, state)
        return float(data.get("expires_at", 0)) > time.time()
