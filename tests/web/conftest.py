"""A real server (the composition root's aiohttp app) on an ephemeral port, and a browser-like
client that keeps cookies, for the mirror survey's web form."""

from __future__ import annotations

import re
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from adapters.console.port import LOCAL_WORKSPACE
from bot.model.mirror import MirrorInfo
from bot.model.records import WorkspaceInfo
from bot.model.settings import CoreSettings
from bot.runtime.app import App, build_app
from tests.core.conftest import Clock

CSRF_FIELD = re.compile(r'name="csrf" value="([0-9a-f]+)"')


@dataclass
class Site:
    app: App
    base: str
    clock: Clock

    async def workspace(self) -> WorkspaceInfo:
        return await self.app.core.workspace(LOCAL_WORKSPACE)

    async def survey(self, *, k: int | None = None, segment: str = "smb") -> MirrorInfo:
        return await self.app.core.mirror.create(
            await self.workspace(),
            segment=segment,
            top_k=k,
            closes_at=None,
            name=None,
            actor="test",
        )

    async def links(self, mirror_id: int, count: int) -> list[str]:
        return await self.app.core.mirror.links(await self.workspace(), mirror_id, count)

    async def attribute_ids(self) -> dict[str, str]:
        workspace = await self.workspace()
        attributes = await self.app.core.store.list_attributes(workspace.id)
        return {a.name: str(a.id) for a in attributes}

    async def stored(self, mirror_id: int) -> list[tuple[int, ...]]:
        return await self.app.core.store.mirror_rankings(mirror_id)


def browser() -> aiohttp.ClientSession:
    # unsafe=True: keep cookies for an IP-address host such as 127.0.0.1.
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


def csrf_of(page: str) -> str:
    found = CSRF_FIELD.search(page)
    assert found is not None, page
    return found.group(1)


@pytest.fixture
async def site(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Site]:
    monkeypatch.setenv("ALIGNMENT_OPEN_LINK_PER_HOUR", "2")
    async for site in _serve(database_url, tmp_path):
        yield site


@pytest.fixture
async def site_behind_proxy(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Site]:
    """The same, with the test client's address (127.0.0.1) as a trusted reverse proxy."""
    monkeypatch.setenv("ALIGNMENT_OPEN_LINK_PER_HOUR", "2")
    monkeypatch.setenv("ALIGNMENT_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1")
    async for site in _serve(database_url, tmp_path):
        yield site


async def _serve(database_url: str, tmp_path: Path) -> AsyncIterator[Site]:
    clock = Clock()
    runner: web.AppRunner | None = None
    # The socket is bound first, so the links the core makes name the port really used.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = await build_app(
        CoreSettings(database_url=database_url, public_url=base),
        clock=clock,
        chart_dir=tmp_path / "charts",
        with_chat_adapters=False,
    )
    try:
        runner = web.AppRunner(app.web_app())
        await runner.setup()
        await web.SockSite(runner, sock).start()
        yield Site(app, base, clock)
    finally:
        if runner is not None:
            await runner.cleanup()
        await app.close()


# The dashboard's live server with closed rounds (tests/web/dashboard_world.py).
from tests.web.dashboard_world import board  # noqa: E402, F401
