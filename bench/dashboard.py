"""How long the dashboard's overview and heat map take with 20 closed rounds of 100,000
respondents each, 12 attributes and 30 teams.

Data: each round's answers are drawn (seeded, Plackett–Luce per team) and run through the real
close path's figures: ``bot.analytics.analyse`` with the unanimity guard, then
``bot.reports.disclosure.decide``/``apply``, frozen with the store's ``freeze_round`` on a
round opened and closed through the store, exactly as ``RoundService.published`` freezes it.
The answer rows themselves are not inserted: the dashboard never reads them, only the frozen
snapshots (two top-3 studies, ``enterprise`` and ``smb``, are imported as research).

Timed: GET /dashboard and GET /dashboard/heatmap over HTTP on 127.0.0.1 against the real
composition root's aiohttp app (one process, the benchmark's client in the same event loop),
with a session cookie from a signed link. The first request of each page is printed apart
(it decodes the 20 snapshots, which the process then keeps); then the median of
``--repeats`` requests.

    python bench/dashboard.py                  # 20 rounds x 100,000 respondents, SQLite
    python bench/dashboard.py --quick          # 20 rounds x 10,000 respondents
    python bench/dashboard.py --postgres       # on a temporary PostgreSQL database
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import aiohttp
import numpy as np
from _common import create_pg_database, drop_pg_database, median, print_machine, verdict
from aiohttp import web
from numpy.typing import NDArray

from bot.analytics import Settings, analyse
from bot.model.defaults import DEFAULT_ATTRIBUTES
from bot.model.domain import WorkspaceRef
from bot.model.research import ResearchForm, ResearchRow, ResearchStudy
from bot.model.settings import CoreSettings
from bot.reports import disclosure, snapshot
from bot.runtime.app import App, build_app

EXTRA = ("sustainability", "security", "integrations", "local presence")
TEAMS = tuple(f"team-{i:02d}" for i in range(1, 31))
SEGMENTS = {"enterprise": 400, "smb": 250}
K = 3
MINIMUM = 5
TARGET_MS = 300.0
WORKSPACE = WorkspaceRef("console", "bench")
ADMIN = "bench-admin"
DEFAULT_ATTRIBUTES_NAMES = tuple(name for name, _ in DEFAULT_ATTRIBUTES)


class BenchClock:
    def __init__(self) -> None:
        self.now = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _top_k(rng: np.random.Generator, weights: NDArray[np.float64]) -> NDArray[np.intp]:
    keys = np.log(weights) + rng.gumbel(size=weights.shape)  # Gumbel-max = Plackett-Luce
    return np.argsort(-keys, axis=1)[:, :K]


def _answers(
    attributes: tuple[str, ...], size: int, rng: np.random.Generator
) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    n = len(attributes)
    shared = rng.gamma(2.0, 1.0, n)
    beliefs = shared * rng.gamma(3.0, 1.0 / 3.0, (len(TEAMS), n))
    team = rng.integers(0, len(TEAMS), size)
    picks = _top_k(rng, beliefs[team] * rng.gamma(4.0, 0.25, (size, n)))
    return [
        (f"U{i:07d}", (TEAMS[t],), tuple(attributes[j] for j in row))
        for i, (t, row) in enumerate(zip(team.tolist(), picks.tolist(), strict=True))
    ]


def _studies(attributes: tuple[str, ...], rng: np.random.Generator) -> list[ResearchStudy]:
    found = []
    for segment, asked in SEGMENTS.items():
        weights = np.tile(rng.gamma(1.5, 1.0, len(attributes)), (asked, 1))
        counts = np.bincount(_top_k(rng, weights).ravel(), minlength=len(attributes))
        rows = tuple(
            ResearchRow(a, top3_count=int(c)) for a, c in zip(attributes, counts, strict=True)
        )
        found.append(
            ResearchStudy(
                source=f"synthetic {segment} survey",
                form=ResearchForm.TOP3,
                rows=rows,
                conducted_on=date(2024, 11, 30),
                segment=segment,
                sample_size=asked,
            )
        )
    return found


async def populate(app: App, clock: BenchClock, rounds: int, size: int, seed: int) -> float:
    """Research, then ``rounds`` closed rounds with frozen figures; returns seconds taken."""
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    store = app.store
    workspace = await app.core.workspace(WORKSPACE)
    for name in EXTRA:
        await store.add_attribute(workspace.id, name, "", actor="bench")
    attributes = tuple(DEFAULT_ATTRIBUTES_NAMES) + EXTRA
    studies = _studies(attributes, rng)
    await store.save_studies(workspace.id, studies, actor="bench")
    research = {s.segment: s for s in studies}
    admin = await store.ensure_person(workspace.id, ADMIN)
    settings = Settings(min_group_size=MINIMUM, unanimity_guard=True)
    for number in range(1, rounds + 1):
        clock.now += timedelta(days=7)
        opened = await store.open_round(
            workspace.id,
            question="bench",
            top_k=K,
            audience="everyone",
            opened_at=clock.now,
            deadline=clock.now + timedelta(days=3),
            opened_by="bench",
            person_ids=[admin.id],
        )
        assert opened is not None
        rows = _answers(attributes, size, rng)
        analysis = analyse(attributes, rows, research, k=K, settings=settings)
        verdicts = disclosure.decide({who: teams for who, teams, _ in rows}, MINIMUM)
        frozen = snapshot.Published(disclosure.apply(analysis, verdicts), verdicts, size)
        clock.now += timedelta(days=3)
        await store.close_round(workspace.id, opened.id, clock.now, actor="bench")
        await store.freeze_round(opened.id, snapshot.encode(frozen), clock.now)
        print(f"  round {number:2d}/{rounds} frozen ({time.perf_counter() - started:5.1f} s)")
    return time.perf_counter() - started


@contextlib.asynccontextmanager
async def served(app: App) -> AsyncIterator[str]:
    runner = web.AppRunner(app.web_app(), access_log=None)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    try:
        await web.SockSite(runner, sock).start()
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        await runner.cleanup()


async def _timed(client: aiohttp.ClientSession, url: str) -> float:
    started = time.perf_counter()
    async with client.get(url) as response:
        body = await response.read()
        if response.status != 200:
            raise RuntimeError(f"{url}: {response.status} {body[:300]!r}")
    return (time.perf_counter() - started) * 1000


async def measure(app: App, clock: BenchClock, repeats: int) -> dict[str, tuple[float, float]]:
    workspace = await app.core.workspace(WORKSPACE)
    person = await app.store.ensure_person(workspace.id, ADMIN)
    clock.now = datetime.now(UTC)
    results: dict[str, tuple[float, float]] = {}
    async with served(app) as base:
        link = await app.core.dashboard.link(workspace, person, platform_admin=False)
        link = base + link[link.index("/dashboard/open") :]
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as client:
            async with client.get(link) as opened:
                assert opened.status == 200, await opened.text()
            for name, path in (("overview", "/dashboard"), ("heat map", "/dashboard/heatmap")):
                first = await _timed(client, base + path)
                times = [await _timed(client, base + path) for _ in range(repeats)]
                results[name] = (first, median(times))
    return results


async def run(args: argparse.Namespace) -> None:
    size = 10_000 if args.quick else args.respondents
    pg_name = f"bench_dash_{uuid.uuid4().hex[:8]}" if args.postgres else None
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as folder:
        url = (
            await create_pg_database(pg_name)
            if pg_name
            else f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        )
        clock = BenchClock()
        settings = CoreSettings(database_url=url, admins=(ADMIN,), min_group_size=MINIMUM)
        app = await build_app(settings, clock=clock, with_chat_adapters=False)
        try:
            print(
                f"data    : {args.rounds} rounds x {size:,} respondents, "
                f"{len(DEFAULT_ATTRIBUTES_NAMES) + len(EXTRA)} attributes, {len(TEAMS)} teams, "
                f"{'PostgreSQL' if pg_name else 'SQLite'}"
            )
            spent = await populate(app, clock, args.rounds, size, args.seed)
            print(f"          generated and frozen in {spent:.1f} s")
            results = await measure(app, clock, args.repeats)
        finally:
            await app.close()
            if pg_name:
                await drop_pg_database(pg_name)
    print_machine()
    for name, (first, typical) in results.items():
        print(
            f"{name:9s}: median {typical:6.1f} ms over {args.repeats} requests "
            f"(first request {first:6.1f} ms, which decodes the snapshots)"
        )
    worst = max(typical for _, typical in results.values())
    print(f"target  : median page time < {TARGET_MS:.0f} ms: {verdict(worst < TARGET_MS)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--respondents", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--quick", action="store_true", help="10,000 respondents a round")
    parser.add_argument("--postgres", action="store_true", help="a temporary PostgreSQL database")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
