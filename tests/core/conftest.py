"""A real core on a real database, driven through the console adapter."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.console.port import ConsolePort
from adapters.console.session import ConsoleSession
from bot.model.settings import CoreSettings
from bot.runtime.app import App, build_app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class World:
    app: App
    clock: Clock
    port: ConsolePort

    def session(self, user: str) -> ConsoleSession:
        return ConsoleSession(core=self.app.core, port=self.port, user_id=user)

    async def run(self, user: str, line: str) -> str:
        return await self.session(user).handle_line(line)


@pytest.fixture
async def world(database_url: str, tmp_path: Path) -> AsyncIterator[World]:
    async for world in make_world(database_url, tmp_path):
        yield world


async def make_world(
    database_url: str, tmp_path: Path, **settings_overrides: object
) -> AsyncIterator[World]:
    clock = Clock()
    settings = CoreSettings(
        database_url=database_url,
        admins=("boss",),
        **settings_overrides,  # type: ignore[arg-type]
    )
    app = await build_app(
        settings, clock=clock, chart_dir=tmp_path / "charts", with_chat_adapters=False
    )
    port = app.core.ports["console"]
    assert isinstance(port, ConsolePort)
    try:
        yield World(app, clock, port)
    finally:
        await app.close()
