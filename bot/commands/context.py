"""What a command handler may use of the running core.

The core (``bot.runtime.core.AlignmentCore``) calls the handlers, so the handlers cannot import
it back; they see it through this narrow protocol, which also lists everything they touch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Protocol

from bot.model.domain import UserRef
from bot.model.events import CommandResult
from bot.model.ports import ChatPort
from bot.model.records import WorkspaceInfo
from bot.model.settings import CoreSettings
from bot.model.store import Store
from bot.rounds.dashboard import DashboardService
from bot.rounds.mirror import MirrorService
from bot.rounds.service import RoundService


class CoreServices(Protocol):
    @property
    def store(self) -> Store: ...

    @property
    def rounds(self) -> RoundService: ...

    @property
    def mirror(self) -> MirrorService: ...

    @property
    def dashboard(self) -> DashboardService: ...

    @property
    def settings(self) -> CoreSettings: ...

    @property
    def ports(self) -> Mapping[str, ChatPort]: ...

    @property
    def clock(self) -> Callable[[], datetime]: ...

    @property
    def schedules_changed(self) -> Callable[[], None]: ...

    def forget_cached(self, user: UserRef) -> None: ...

    async def import_research(
        self,
        workspace: WorkspaceInfo,
        text: str,
        *,
        filename: str | None,
        segment: str | None,
        source: str | None,
        actor: str,
    ) -> CommandResult: ...
