"""A closed round's figures and report, read from the database: 1k / 10k / 100k / 1M respondents.

Synthetic, seeded data: 12 attributes, 10 teams, each respondent's top 3 drawn from a
Plackett–Luce model of their team's beliefs; customer research for two segments in the top-3
form (counts and sample size), so every attribute gets a two-proportion test with
Benjamini–Hochberg across segments, for the organisation and for every team.

Set-up (not timed, cached): per size a SQLite file (or, with ``--database postgresql``, a
scratch PostgreSQL database, dropped at the end) migrated to the current schema, holding one
workspace, its attributes, teams and research, N people with their team memberships, and one
closed round that invited and was answered by all N. Databases are filled by a child process
(so its memory does not count here); SQLite files are kept in ``--cache-dir`` for the next run.

Timed per size (median of ``--repeats`` runs, after one warm-up), with the round's frozen
snapshot deleted before each run so that the figures are computed again:
  total    ``RoundService.report()`` of the closed round: the counted read of the answers
           (``answer_groups``), ``analyse_counts``, disclosure control, freezing the snapshot
           and reading it back, the research, and ``build_report`` with the PNG chart
and, from separate calls of the same parts, where the time goes:
  read     ``SqlStore.answer_groups`` (one GROUP BY in the database)
  analyse  ``bot.analytics.analyse_counts`` on the counted rows
  privacy  ``disclosure.decide_counted`` and ``apply``
  report   ``build_report`` (with the chart unless ``--no-chart``)
Peak memory: tracemalloc's peak (Python and numpy allocations) during one extra
``report()`` run, and the process's max RSS afterwards.

    python bench/report.py            # 1k, 10k, 100k, 1M from SQLite
    python bench/report.py --quick    # 1k and 10k, fewer repeats
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from _common import (
    create_pg_database,
    drop_pg_database,
    median,
    print_machine,
    verdict,
)
from numpy.typing import NDArray
from sqlalchemy import text

from bot.analytics import Analysis, AnswerCount, Settings, analyse_counts
from bot.model.domain import WorkspaceRef
from bot.model.records import RoundInfo, RoundState, WorkspaceInfo
from bot.model.research import ResearchForm, ResearchRow, ResearchStudy
from bot.reports import disclosure
from bot.reports.reporting import ReportInput, build_report
from bot.rounds.service import RoundService
from storage import models as m
from storage.database import create_engine, schema_head, upgrade
from storage.sql_store import SqlStore

ATTRIBUTES = (
    "price",
    "product quality",
    "reliability",
    "delivery speed",
    "customer support",
    "ease of use",
    "innovation",
    "relationship and trust",
    "sustainability",
    "security",
    "integrations",
    "local presence",
)
TEAMS = tuple(f"team-{i:02d}" for i in range(1, 11))
SEGMENTS = {"enterprise": 400, "smb": 250}  # customers asked per segment
K = 3
TARGET_SECONDS_1M = 3.0
TARGET_PEAK_MIB_1M = 300.0
GROWTH_RANGE = (8.0, 12.0)
MINIMUM = 5  # ALIGNMENT_MIN_GROUP_SIZE's default
WORKSPACE = WorkspaceRef("slack", "TBENCH")
OPENED = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
CHUNK = 50_000  # rows per bulk insert
FORMAT = 1  # bump when the cached files' content changes

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Figures:
    size: int
    total_s: float
    read_s: float
    analyse_s: float
    privacy_s: float
    report_s: float
    rows: int  # counted rows the database returned
    peak_mib: float
    max_rss_mib: float


# --- synthetic data ------------------------------------------------------------------------------


def plackett_luce_top_k(
    rng: np.random.Generator, weights: NDArray[np.float64], k: int
) -> NDArray[np.intp]:
    """Top-k draws from Plackett–Luce, one row per weight vector (Gumbel-max trick)."""
    keys = np.log(weights) + rng.gumbel(size=weights.shape)
    return np.argsort(-keys, axis=1)[:, :k]


def staff_answers(size: int, seed: int) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Each respondent's team (index) and top 3 (attribute indices, best first)."""
    rng = np.random.default_rng(seed)
    n = len(ATTRIBUTES)
    shared = rng.gamma(2.0, 1.0, n)  # what the organisation believes overall
    team_beliefs = shared * rng.gamma(3.0, 1.0 / 3.0, (len(TEAMS), n))
    team = rng.integers(0, len(TEAMS), size)
    picks = np.empty((size, K), dtype=np.intp)
    for start in range(0, size, 100_000):  # in slices: bounded memory at 1M
        part = team[start : start + 100_000]
        personal = team_beliefs[part] * rng.gamma(4.0, 0.25, (len(part), n))
        picks[start : start + len(part)] = plackett_luce_top_k(rng, personal, K)
    return team, picks


def studies(seed: int) -> list[ResearchStudy]:
    rng = np.random.default_rng(seed + 1)
    n = len(ATTRIBUTES)
    found: list[ResearchStudy] = []
    for segment, asked in SEGMENTS.items():
        weights = np.tile(rng.gamma(1.5, 1.0, n), (asked, 1))
        counts = np.bincount(plackett_luce_top_k(rng, weights, 3).ravel(), minlength=n)
        found.append(
            ResearchStudy(
                source=f"synthetic {segment} survey",
                form=ResearchForm.TOP3,
                rows=tuple(
                    ResearchRow(name, top3_count=int(c))
                    for name, c in zip(ATTRIBUTES, counts, strict=True)
                ),
                conducted_on=date(2026, 8, 30),
                segment=segment,
                sample_size=asked,
            )
        )
    return found


# --- the database (set-up, not timed) ------------------------------------------------------------


async def populate(url: str, size: int, seed: int) -> None:
    """A migrated database with one closed round that all ``size`` people answered."""
    engine = create_engine(url)
    await upgrade(engine)
    store = SqlStore(engine, clock=lambda: OPENED - timedelta(days=1))  # research came first
    try:
        workspace = await store.ensure_workspace(
            WORKSPACE, default_attributes=[(name, "") for name in ATTRIBUTES]
        )
        attribute_ids = {a.name: a.id for a in await store.list_attributes(workspace.id)}
        ids = np.array([attribute_ids[name] for name in ATTRIBUTES])
        team_ids = [
            (await store.add_team(workspace.id, name, linked_source=None, actor="bench")).id
            for name in TEAMS
        ]
        await store.save_studies(workspace.id, studies(seed), actor="bench")
        team, picks = staff_answers(size, seed)
        async with engine.begin() as connection:
            for start in range(0, size, CHUNK):
                await connection.execute(
                    m.Person.__table__.insert(),
                    [
                        {
                            "workspace_id": workspace.id,
                            "user_id": f"U{i:07d}",
                            "display_name": "",
                            "created_at": OPENED,
                        }
                        for i in range(start, min(size, start + CHUNK))
                    ],
                )
        async with engine.connect() as connection:
            people = (
                await connection.execute(
                    m.Person.__table__.select()
                    .with_only_columns(m.Person.id)
                    .where(m.Person.workspace_id == workspace.id)
                    .order_by(m.Person.user_id)
                )
            ).scalars()
            person_ids = list(people)
        async with engine.begin() as connection:
            for start in range(0, size, CHUNK):
                stop = min(size, start + CHUNK)
                await connection.execute(
                    m.TeamMember.__table__.insert(),
                    [
                        {"team_id": team_ids[int(team[i])], "person_id": person_ids[i]}
                        for i in range(start, stop)
                    ],
                )
        round_info = await store.open_round(
            workspace.id,
            question="Which 3 do our customers value most?",
            top_k=K,
            audience="everyone",
            opened_at=OPENED,
            deadline=OPENED + timedelta(days=7),
            opened_by="bench",
            person_ids=person_ids,
        )
        assert round_info is not None
        async with engine.begin() as connection:
            for start in range(0, size, CHUNK):
                stop = min(size, start + CHUNK)
                rankings = ids[picks[start:stop]].tolist()
                await connection.execute(
                    m.Answer.__table__.insert(),
                    [
                        {
                            "round_id": round_info.id,
                            "person_id": person_ids[i],
                            "ranking": rankings[i - start],
                            "answered_at": OPENED + timedelta(hours=1),
                            "revisions": 1,
                        }
                        for i in range(start, stop)
                    ],
                )
        await store.close_round(workspace.id, round_info.id, OPENED + timedelta(days=7))
        if store.dialect == "postgresql":
            async with engine.begin() as connection:
                await connection.execute(text("ANALYZE"))
    finally:
        await store.close()


def build_in_child(url: str, size: int, seed: int) -> None:
    """``populate`` in a child process, so that its memory does not count here."""
    subprocess.run([sys.executable, __file__, "--build", url, str(size), str(seed)], check=True)


def sqlite_file(cache: Path, size: int, seed: int) -> Path:
    """The cached SQLite file for a size, built by a child process when missing."""
    name = f"report-{size}-seed{seed}-{schema_head()}-f{FORMAT}.sqlite"
    path = cache / name
    if path.exists():
        return path
    cache.mkdir(parents=True, exist_ok=True)
    partial = cache / f"{name}.{os.getpid()}.part"
    started = time.perf_counter()
    build_in_child(f"sqlite+aiosqlite:///{partial}", size, seed)
    partial.rename(path)
    print(f"  built {path.name} in {time.perf_counter() - started:.1f} s (cached for next runs)")
    return path


# --- the work being timed ------------------------------------------------------------------------


class Bench:
    def __init__(self, url: str) -> None:
        self.store = SqlStore(create_engine(url))
        self.service = RoundService(
            store=self.store,
            ports={},
            clock=lambda: OPENED + timedelta(days=8),
            analysis=Settings(),
        )

    async def round(self) -> tuple[WorkspaceInfo, RoundInfo]:
        workspace = await self.store.get_workspace(WORKSPACE)
        assert workspace is not None
        rounds = await self.store.list_rounds(workspace.id, state=RoundState.CLOSED, limit=1)
        return workspace, rounds[0]

    async def unfreeze(self, round_id: int) -> None:
        """Forget the round's frozen figures, so the next report computes them again."""
        async with self.store._engine.begin() as connection:
            await connection.execute(
                m.RoundSnapshot.__table__.delete().where(m.RoundSnapshot.round_id == round_id)
            )

    async def report(self, workspace: WorkspaceInfo, round_info: RoundInfo, chart: bool) -> None:
        view = await self.service.report(workspace, round_info, with_chart=chart)
        if view.figures is None:
            raise RuntimeError("the synthetic round was hidden")
        if chart and not view.chart_png:
            raise RuntimeError("the report came back without a chart")

    async def close(self) -> None:
        await self.store.close()


async def timed(call: Callable[[], Awaitable[T]]) -> tuple[float, T]:
    gc.collect()
    start = time.perf_counter()
    result = await call()
    return time.perf_counter() - start, result


async def measure(url: str, size: int, repeats: int, chart: bool) -> Figures:
    bench = Bench(url)
    try:
        workspace, round_info = await bench.round()
        await bench.unfreeze(round_info.id)
        await bench.report(workspace, round_info, chart)  # warm-up: imports, fonts, caches
        totals: list[float] = []
        for _ in range(repeats):
            await bench.unfreeze(round_info.id)
            seconds, _ = await timed(lambda: bench.report(workspace, round_info, chart))
            totals.append(seconds)
        parts = await breakdown(bench, workspace, round_info, repeats, chart)
        await bench.unfreeze(round_info.id)
        gc.collect()
        tracemalloc.start()
        await bench.report(workspace, round_info, chart)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        await bench.close()
    max_rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return Figures(size, median(totals), *parts, peak / 2**20, max_rss_kib / 1024)


async def breakdown(
    bench: Bench, workspace: WorkspaceInfo, round_info: RoundInfo, repeats: int, chart: bool
) -> tuple[float, float, float, float, int]:
    """The parts of report() timed on their own (medians): read, analyse, privacy, report."""
    store = bench.store
    names = {a.id: a.name for a in await store.list_attributes(workspace.id)}
    saved = await store.latest_studies(workspace.id, as_of=round_info.closed_at)
    research = {(segment or None): study.to_study() for segment, study in saved.items()}
    times: list[tuple[float, float, float, float]] = []
    rows = 0
    for _ in range(repeats):
        read_s, groups = await timed(lambda: store.answer_groups(round_info.id))
        rows = len(groups)
        counted = [
            AnswerCount(g.teams, tuple(names[x] for x in g.ranking), g.count) for g in groups
        ]

        async def analysed(counted: list[AnswerCount] = counted) -> Analysis:
            return analyse_counts(
                ATTRIBUTES,
                counted,
                research,
                k=K,
                settings=replace(Settings(), unanimity_guard=True),
            )

        analyse_s, analysis = await timed(analysed)

        async def private(
            counted: list[AnswerCount] = counted, analysis: Analysis = analysis
        ) -> Analysis:
            by_teams: dict[tuple[str, ...], int] = {}
            for c in counted:
                by_teams[c.teams] = by_teams.get(c.teams, 0) + c.count
            verdicts = disclosure.decide_counted(list(by_teams), list(by_teams.values()), MINIMUM)
            return disclosure.apply(analysis, verdicts)

        privacy_s, published = await timed(private)

        async def reported(published: Analysis = published) -> Any:
            return build_report(
                ReportInput(
                    title="Do we know what our customers value?",
                    round_label=round_info.label,
                    generated_at=OPENED + timedelta(days=8),
                    invited=published.respondents or 0,
                    analysis=published,
                    research_label="synthetic research",
                ),
                with_chart=chart,
            )

        report_s, _ = await timed(reported)
        times.append((read_s, analyse_s, privacy_s, report_s))
    read, analyse, privacy, report = (median(list(column)) for column in zip(*times, strict=True))
    return read, analyse, privacy, report, rows


# --- output --------------------------------------------------------------------------------------


def print_table(results: Sequence[Figures], chart: bool, repeats: int, database: str) -> None:
    report_name = "report+chart" if chart else "report"
    print()
    print(
        f"median of {repeats} runs, {database}; total = RoundService.report() of the closed "
        "round (read + analyse + privacy + freeze + report); peak = tracemalloc peak of one total"
    )
    header = (
        f"{'respondents':>11}  {'total s':>8}  {'x per 10x':>9}  {'read s':>7}  "
        f"{'analyse s':>9}  {'privacy s':>9}  {report_name + ' s':>14}  {'rows':>6}  "
        f"{'peak MiB':>8}  {'max RSS MiB':>11}"
    )
    print(header)
    print("-" * len(header))
    previous: Figures | None = None
    for r in results:
        growth = ""
        if previous is not None and r.size == previous.size * 10:
            growth = f"{r.total_s / previous.total_s:.1f}x"
        print(
            f"{r.size:>11,}  {r.total_s:>8.3f}  {growth:>9}  {r.read_s:>7.3f}  "
            f"{r.analyse_s:>9.3f}  {r.privacy_s:>9.3f}  {r.report_s:>14.3f}  {r.rows:>6,}  "
            f"{r.peak_mib:>8.1f}  {r.max_rss_mib:>11.0f}"
        )
        previous = r
    print("rows: counted (ranking, teams) rows the database returned for the round")
    print()
    largest = results[-1]
    if largest.size == 1_000_000:
        ok = largest.total_s < TARGET_SECONDS_1M
        print(
            f"target: 1,000,000 respondents in < {TARGET_SECONDS_1M:.0f} s from the database -> "
            f"{largest.total_s:.3f} s  [{verdict(ok)}]"
        )
        ok = largest.peak_mib < TARGET_PEAK_MIB_1M
        print(
            f"target: peak traced memory at 1,000,000 < {TARGET_PEAK_MIB_1M:.0f} MiB -> "
            f"{largest.peak_mib:.1f} MiB  [{verdict(ok)}]"
        )
    else:
        print(f"target: 1,000,000 respondents in < {TARGET_SECONDS_1M:.0f} s (not run)")
    pairs = [(a, b) for a, b in itertools.pairwise(results) if b.size == a.size * 10]
    if pairs:
        low, high = GROWTH_RANGE
        for a, b in pairs:
            factor = b.total_s / a.total_s
            read = b.read_s / a.read_s
            print(
                f"growth {a.size:>9,} -> {b.size:>9,}: total {factor:4.1f}x, read {read:4.1f}x  "
                f"[{'linear or better' if factor <= high else 'FASTER THAN LINEAR'}]"
            )
        a, b = pairs[-1]
        factor = b.total_s / a.total_s
        print(
            f"target: growth per 10x within {low:.0f}x-{high:.0f}x (largest step) -> {factor:.1f}x  "
            f"[{verdict(low <= factor <= high)}{'; below: fixed costs dominate' if factor < low else ''}]"
        )


async def run(args: argparse.Namespace, sizes: list[int], repeats: int) -> list[Figures]:
    results: list[Figures] = []
    chart = not args.no_chart
    for size in sizes:
        started = time.perf_counter()
        if args.database == "sqlite":
            path = sqlite_file(Path(args.cache_dir), size, args.seed)
            results.append(await measure(f"sqlite+aiosqlite:///{path}", size, repeats, chart))
        else:
            name = f"bench_report_{uuid.uuid4().hex[:8]}"
            url = await create_pg_database(name)
            try:
                built = time.perf_counter()
                build_in_child(url, size, args.seed)
                print(f"  built {name} in {time.perf_counter() - built:.1f} s")
                results.append(await measure(url, size, repeats, chart))
            finally:
                await drop_pg_database(name)
        print(f"  {size:,} respondents measured in {time.perf_counter() - started:.1f} s")
    return results


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[1_000, 10_000, 100_000, 1_000_000],
        help="respondents",
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per size")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--no-chart", action="store_true", help="time the report without PNG")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--cache-dir",
        default=str(Path(tempfile.gettempdir()) / "alignment-bench-report"),
        help="where the SQLite files are kept between runs",
    )
    parser.add_argument("--quick", action="store_true", help="1k and 10k, 2 repeats")
    parser.add_argument("--build", nargs=3, metavar=("URL", "SIZE", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.build:  # the child process that fills one database
        url, size, seed = args.build
        asyncio.run(populate(url, int(size), int(seed)))
        return
    sizes: list[int] = [1_000, 10_000] if args.quick else sorted(args.sizes)
    repeats: int = 2 if args.quick else max(1, args.repeats)

    print("bench/report.py: a closed round's report from the database")
    print_machine(
        {
            "data": f"{len(ATTRIBUTES)} attributes, top {K}, {len(TEAMS)} teams, "
            f"segments {', '.join(f'{s} (n={n})' for s, n in SEGMENTS.items())}, seed {args.seed}",
            "database": args.database
            + ("" if args.database != "sqlite" else f" (files in {args.cache_dir})"),
        }
    )
    results = asyncio.run(run(args, sizes, repeats))
    print_table(results, not args.no_chart, repeats, args.database)


if __name__ == "__main__":
    main()
