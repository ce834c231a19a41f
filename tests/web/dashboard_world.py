"""A live server with two closed rounds, three teams (one too small to show), research for two
customer segments and a second workspace, for the dashboard's HTTP and browser tests."""

from __future__ import annotations

import re
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web

from adapters.console.port import LOCAL_WORKSPACE, ConsolePort
from adapters.console.session import ConsoleSession
from bot.model.domain import UserRef, WorkspaceRef
from bot.model.events import CommandInvoked, PersonSeen
from bot.model.records import RoundInfo, WorkspaceInfo
from bot.model.settings import CoreSettings
from bot.runtime.app import App, build_app
from tests.core.conftest import EXAMPLES, Clock

ADMIN = "boss"
LINK = re.compile(r"(https?://\S+/dashboard/open\?token=\S+)")
SALES = [f"sales{i}" for i in range(10)]
SUPPORT = [f"support{i}" for i in range(8)]
OPS = [f"ops{i}" for i in range(5)]
LEGAL = SALES[:2]  # a team of two inside sales: always "too few answers"
# Poll numbers: 1 price, 2 product quality, 3 reliability, 4 delivery speed,
# 5 customer support, 6 ease of use, 7 innovation, 8 relationship/trust.
PICKS = {
    1: {"sales": [(1, 2, 4), (1, 6, 2)], "support": [(5, 8, 6)], "ops": [(1, 4, 2), (2, 1, 7)]},
    2: {"sales": [(1, 2, 3), (1, 6, 2)], "support": [(5, 8, 3)], "ops": [(3, 1, 2), (2, 1, 7)]},
}
OTHER = WorkspaceRef("console", "other-company")


@dataclass
class Board:
    app: App
    base: str
    clock: Clock
    port: ConsolePort
    rounds: list[RoundInfo] = field(default_factory=list)
    other_round: RoundInfo | None = None

    def session(self, user: str) -> ConsoleSession:
        return ConsoleSession(core=self.app.core, port=self.port, user_id=user)

    async def run(self, user: str, line: str) -> str:
        out = await self.session(user).handle_line(line)
        await self.app.core.idle()
        return out

    async def workspace(self) -> WorkspaceInfo:
        return await self.app.core.workspace(LOCAL_WORKSPACE)

    async def link(self, user: str = ADMIN) -> str:
        out = await self.run(user, "/alignment dashboard")
        found = LINK.search(out)
        assert found is not None, out
        return found.group(1)


async def _round(board: Board, number: int) -> RoundInfo:
    out = await board.run(ADMIN, "/alignment poll now window:2h")
    assert "on its way" in out, out
    workspace = await board.workspace()
    [open_round] = await board.app.store.list_rounds(workspace.id, limit=1)
    for team, people in (("sales", SALES), ("support", SUPPORT), ("ops", OPS)):
        choices = PICKS[number][team]
        for index, person in enumerate(people):
            picks = " ".join(map(str, choices[index % len(choices)]))
            out = await board.run(person, f"answer {open_round.id} {picks}")
            assert "recorded" in out, out
    board.clock.advance(timedelta(hours=2))
    assert "is closed" in await board.run(ADMIN, f"/alignment poll close round:{open_round.id}")
    closed = await board.app.store.get_round(workspace.id, open_round.id)
    assert closed is not None
    board.clock.advance(timedelta(days=7))
    return closed


async def _other_workspace_round(board: Board) -> RoundInfo:
    """A closed round of another company on the same server."""
    core = board.app.core
    people = [UserRef(OTHER, f"o{i}") for i in range(6)]
    for person in people:
        await core.person_seen(PersonSeen(person))
    boss = UserRef(OTHER, ADMIN)
    await core.handle_command(CommandInvoked("", boss, "poll now window:1h"))
    workspace = await core.workspace(OTHER)
    [open_round] = await core.store.list_rounds(workspace.id, limit=1)
    attributes = [a.id for a in await core.store.list_attributes(workspace.id)]
    for person in people:
        await core.store.record_answer(
            workspace.id,
            person.user_id,
            open_round.id,
            attributes[:3],
            at=board.clock(),
            event_id=f"other:{person.user_id}",
        )
    board.clock.advance(timedelta(hours=1))
    await core.handle_command(CommandInvoked("", boss, f"poll close round:{open_round.id}"))
    await core.idle()
    closed = await core.store.get_round(workspace.id, open_round.id)
    assert closed is not None
    return closed


async def populate(board: Board) -> None:
    out = await board.run(ADMIN, f"/alignment research import {EXAMPLES / 'research_top3.csv'}")
    assert out.startswith("Imported"), out
    for person in SALES + SUPPORT + OPS:
        await board.session(person).join()
    for team, people in (("sales", SALES), ("support", SUPPORT), ("ops", OPS), ("legal", LEGAL)):
        await board.run(ADMIN, f"/alignment teams add {team}")
        await board.run(ADMIN, f"/alignment teams members {team} add {' '.join(people)}")
    board.rounds = [await _round(board, 1), await _round(board, 2)]
    board.other_round = await _other_workspace_round(board)


@pytest.fixture
async def board(database_url: str, tmp_path: Path) -> AsyncIterator[Board]:
    clock = Clock()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = await build_app(
        CoreSettings(database_url=database_url, public_url=base, admins=(ADMIN,)),
        clock=clock,
        chart_dir=tmp_path / "charts",
        with_chat_adapters=False,
    )
    runner: web.AppRunner | None = None
    try:
        # As `alignment serve` runs it: aiohttp's own access log off, ours on.
        runner = web.AppRunner(app.web_app(), access_log=None)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        port = app.core.ports["console"]
        assert isinstance(port, ConsolePort)
        board = Board(app, base, clock, port)
        await populate(board)
        yield board
    finally:
        if runner is not None:
            await runner.cleanup()
        await app.close()
