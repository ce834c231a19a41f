"""`alignment demo`: a simulated organisation runs two rounds through the console adapter.

Forty-two people in four teams answer from their team's own beliefs (sampled, seeded, so
teams really disagree); the bundled research says what customers value. Between the rounds
the organisation "learns" a little, so the second report shows a trend. During the second
round thirty simulated enterprise customers answer a mirror survey through the real web form
(HTTP on a loopback port), so its report also shows how much those customers agree.
"""

from __future__ import annotations

import html
import re
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import numpy as np
from aiohttp import web

from adapters.console.port import ConsolePort
from adapters.console.session import ConsoleSession
from bot.model.domain import WorkspaceRef
from bot.model.records import RoundInfo, RoundState
from bot.model.views import ReportView
from bot.runtime.app import App
from bot.runtime.outputs import write_report_folder

DEMO_WORKSPACE = WorkspaceRef("console", "demo")
# The admin who runs the demo's commands is one of the 42 (a leadership member), so the poll
# to everyone reaches exactly the simulated organisation and everyone answers: "42 of 42".
ADMIN = "leadership-01"

# How strongly each team believes customers value each attribute (Plackett-Luce weights),
# in the order of bot.model.defaults.DEFAULT_ATTRIBUTES. Sales thinks price; support, support;
# engineering, product; leadership, a bit of everything.
TEAM_BELIEFS: dict[str, tuple[int, tuple[float, ...]]] = {
    "sales": (12, (9.0, 2.0, 2.0, 5.0, 1.5, 1.0, 1.0, 4.0)),
    "support": (12, (2.0, 2.0, 4.0, 2.0, 9.0, 3.0, 0.5, 3.0)),
    "engineering": (12, (1.0, 8.0, 6.0, 1.0, 1.0, 3.0, 6.0, 0.5)),
    "leadership": (6, (4.0, 4.0, 3.0, 2.0, 2.0, 1.5, 4.0, 3.0)),
}
# What the research says customers value, as weights: the organisation drifts toward it.
CUSTOMER_PULL = (2.0, 3.0, 8.0, 2.0, 7.0, 2.0, 0.5, 6.0)
MIRROR_SEGMENT = "enterprise"  # the bundled research's headline segment
MIRROR_CUSTOMERS = 30
_CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')
_FIRST_SELECT = re.compile(r'<select id="rank1".*?</select>', re.DOTALL)
_OPTION = re.compile(r'<option value="(\d+)"')


@dataclass(frozen=True, slots=True)
class DemoResult:
    first: ReportView
    second: ReportView
    out: Path
    people: int


class DemoClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


async def run_demo(
    app: App,
    clock: DemoClock,
    examples: Path,
    out: Path,
    *,
    seed: int = 7,
    progress: Callable[[str, int, int], None] | None = None,
) -> DemoResult:
    port = app.core.ports["console"]
    assert isinstance(port, ConsolePort)
    rng = np.random.default_rng(seed)
    admin = ConsoleSession(core=app.core, port=port, user_id=ADMIN, workspace=DEMO_WORKSPACE)
    await _expect(admin, f"/alignment research import {examples / 'research_top3.csv'}", "Imported")
    people = await _build_organisation(app, port, admin)
    reports = []
    for round_number, learning in enumerate((0.0, 0.45), start=1):
        round_info = await _open_round(app, admin)
        await _answer_all(app, round_info, people, rng, learning, progress, round_number)
        if round_number == 2:
            await _mirror_survey(app, admin, rng, progress)
        clock.now += timedelta(days=3)
        reports.append(await _close(app, admin, round_info, out, round_number == 2))
        clock.now += timedelta(days=25)
    return DemoResult(reports[0], reports[1], out, len(people))


async def dashboard_link(app: App, clock: DemoClock) -> str:
    """A dashboard link for the demo's admin that works while `alignment serve` runs on the
    demo database: the role is stored there (not only in this run's ALIGNMENT_ADMINS), and
    the link's hour is counted from the real time, not the simulated one."""
    port = app.core.ports["console"]
    assert isinstance(port, ConsolePort)
    admin = ConsoleSession(core=app.core, port=port, user_id=ADMIN, workspace=DEMO_WORKSPACE)
    await _expect(admin, f"/alignment admins add {ADMIN}", ADMIN)
    clock.now = datetime.now(UTC)
    answer = await _expect(admin, "/alignment dashboard", "/dashboard/open?token=")
    return next(line for line in answer.splitlines() if "/dashboard/open?token=" in line)


async def _build_organisation(
    app: App, port: ConsolePort, admin: ConsoleSession
) -> list[tuple[ConsoleSession, str]]:
    people: list[tuple[ConsoleSession, str]] = []
    for team, (size, _) in TEAM_BELIEFS.items():
        await _expect(admin, f"/alignment teams add {team}", "Added team")
        names = [f"{team}-{i:02d}" for i in range(1, size + 1)]
        for name in names:
            session = ConsoleSession(
                core=app.core, port=port, user_id=name, workspace=DEMO_WORKSPACE
            )
            await session.join()
            people.append((session, team))
        await _expect(admin, f"/alignment teams members {team} add {' '.join(names)}", "Team")
    return people


async def _open_round(app: App, admin: ConsoleSession) -> RoundInfo:
    await _expect(admin, "/alignment poll now window:3d", "is open")
    await app.core.idle()
    workspace = await app.core.workspace(DEMO_WORKSPACE)
    rounds = await app.store.list_rounds(workspace.id, state=RoundState.OPEN, limit=1)
    return rounds[0]


async def _answer_all(
    app: App,
    round_info: RoundInfo,
    people: Sequence[tuple[ConsoleSession, str]],
    rng: np.random.Generator,
    learning: float,
    progress: Callable[[str, int, int], None] | None,
    round_number: int,
) -> None:
    for done, (session, team) in enumerate(people, start=1):
        poll = await app.core.poll_for(session.user, round_info.id)
        assert poll is not None
        weights = _beliefs(team, learning)
        picks = _sample_top_k(rng, weights, poll.k)
        await _expect(session, f"answer {round_info.id} {' '.join(map(str, picks))}", "recorded")
        if progress:
            progress(f"round {round_number}: answers", done, len(people))


def _beliefs(team: str, learning: float) -> np.ndarray:
    own = np.asarray(TEAM_BELIEFS[team][1], dtype=float)
    pull = np.asarray(CUSTOMER_PULL, dtype=float)
    mixed: np.ndarray = (1 - learning) * own / own.sum() + learning * pull / pull.sum()
    return mixed


def _sample_top_k(rng: np.random.Generator, weights: np.ndarray, k: int) -> list[int]:
    """Plackett-Luce draw: the first pick by weight, then the next among the rest."""
    # Gumbel-max gives exactly the Plackett-Luce order in one vectorised step.
    keys = np.log(weights) + rng.gumbel(size=weights.size)
    return [int(i) + 1 for i in np.argsort(-keys)[:k]]  # poll options are numbered from 1


async def _mirror_survey(
    app: App,
    admin: ConsoleSession,
    rng: np.random.Generator,
    progress: Callable[[str, int, int], None] | None,
) -> None:
    """Customers of the headline segment answer the web form; the survey becomes research."""
    created = await _expect(
        admin,
        f"/alignment mirror create segment:{MIRROR_SEGMENT} name:'Enterprise customers'",
        "open",
    )
    mirror_id = int(created.split("#", 1)[1].split(" ", 1)[0])
    links = await _expect(
        admin, f"/alignment mirror links {mirror_id} count:{MIRROR_CUSTOMERS}", "one-time"
    )
    paths = [urlsplit(line).path for line in links.splitlines() if "/m/" in line]
    weights = np.asarray(CUSTOMER_PULL, dtype=float)
    async with (
        _served(app) as base,
        aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client,
    ):
        for done, path in enumerate(paths, start=1):
            await _customer_answers(client, base + path, _sample_top_k(rng, weights, 3))
            if progress:
                progress("mirror survey: customers", done, len(paths))
    await _expect(admin, f"/alignment mirror close {mirror_id}", "now research")


@asynccontextmanager
async def _served(app: App) -> AsyncIterator[str]:
    """The real server app on a loopback port for as long as the customers answer."""
    runner = web.AppRunner(app.web_app())
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # any free port; nothing outside this machine is involved
    try:
        await web.SockSite(runner, sock).start()
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        await runner.cleanup()


async def _customer_answers(client: aiohttp.ClientSession, url: str, places: Sequence[int]) -> None:
    """What a customer's browser does: load the form, choose, send."""
    async with client.get(url) as response:
        page = await response.text()
    csrf = _CSRF.search(page)
    select = _FIRST_SELECT.search(page)
    if csrf is None or select is None:
        raise RuntimeError(f"demo: the mirror form did not load ({response.status})")
    options = _OPTION.findall(select.group(0))  # attribute ids in catalogue order
    fields = {"csrf": html.unescape(csrf.group(1))}
    fields |= {f"rank{i}": options[place - 1] for i, place in enumerate(places, start=1)}
    async with client.post(url, data=fields) as response:
        if "Your answer is recorded" not in await response.text():
            raise RuntimeError(f"demo: a customer's answer was refused ({response.status})")


async def _close(
    app: App, admin: ConsoleSession, round_info: RoundInfo, out: Path, write_files: bool
) -> ReportView:
    await _expect(admin, f"/alignment poll close round:{round_info.id}", "is closed")
    workspace = await app.core.workspace(DEMO_WORKSPACE)
    closed = await app.store.get_round(workspace.id, round_info.id)
    assert closed is not None
    if write_files:
        return await write_report_folder(
            app.core.rounds, workspace, closed, out, min_group_size=app.core.settings.min_group_size
        )
    return await app.core.rounds.report(workspace, closed, with_chart=False)


async def _expect(session: ConsoleSession, line: str, needle: str) -> str:
    answer = await session.handle_line(line)
    if needle not in answer:
        raise RuntimeError(f"demo step '{line}' failed: {answer}")
    return answer


def demo_start() -> datetime:
    """Round one opened four weeks ago, so round two closes about now."""
    return datetime.now(UTC).replace(microsecond=0) - timedelta(days=31)
