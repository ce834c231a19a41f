"""Mirror survey form submissions against `alignment serve` on PostgreSQL.

1. Set-up, not timed. A new PostgreSQL database on 127.0.0.1 (dropped at the end) gets the
   console workspace, a mirror survey and N one-time invitation links, made through the core
   (``MirrorService.links``: random tokens, stored hashed). ``alignment serve`` starts on a
   free port with ``ALIGNMENT_PUBLIC_URL`` pointing at it.
2. The burst, timed. ``--concurrency`` clients (aiohttp sessions with their own cookies) share
   the N links. For each link a client does what a browser does: GET the form (its CSRF
   cookie and field), then POST three attribute ids drawn at random. Each submission's time
   is the POST's, from sending to the complete response; the GETs are timed separately.
3. Exactly once. Every POST must answer 200 "Your answer is recorded"; then ``--replays``
   links are posted again, each by two clients at the same moment (a double click, a link
   forwarded to a colleague): every one must answer "already answered". The database must
   hold exactly N responses and N spent links.
4. ``--runs`` times (default 3), each on a new database; the target is judged on the worst
   run's p99, since one quiet run proves little on a shared machine.

The server is ``alignment serve`` as it comes (one process) unless ``--workers`` says
otherwise: on this 2-core machine the 100 clients and PostgreSQL take the other core, and a
second worker competes with them (README's table gives both).

    python bench/mirror.py                 # N=2000, 100 concurrent, 3 runs
    python bench/mirror.py --workers 2     # two server processes on the port
    python bench/mirror.py --quick         # N=500, 50 concurrent, 1 run
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from _common import (
    PG_ADMIN_DSN,
    alignment_command,
    base_env,
    children,
    create_pg_database,
    drop_pg_database,
    free_port,
    percentile,
    print_machine,
    spawn,
    tree_cpu_seconds,
    verdict,
    wait_http_ok,
)

from bot.model.domain import WorkspaceRef
from bot.model.settings import CoreSettings
from bot.runtime.app import build_app

TARGET_P99_MS = 250.0
WORKSPACE = WorkspaceRef("console", "local")
CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')
OPTION = re.compile(r'<option value="(\d+)"')
RECORDED = "Your answer is recorded"
ALREADY = "already been used"


@dataclass
class Tally:
    post_ms: list[float] = field(default_factory=list)
    get_ms: list[float] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    server_cpu_s: float = 0.0


async def prepare(url: str, base: str, n: int) -> tuple[int, list[str]]:
    """The survey and its links, made by the core as `mirror links` would."""
    settings = CoreSettings(database_url=url, public_url=base)
    app = await build_app(settings, with_chat_adapters=False)
    try:
        workspace = await app.core.workspace(WORKSPACE)
        survey = await app.core.mirror.create(
            workspace, segment="bench", top_k=3, closes_at=None, name=None, actor="bench"
        )
        return survey.id, await app.core.mirror.links(workspace, survey.id, n)
    finally:
        await app.close()


async def answer(client: aiohttp.ClientSession, link: str, rng: random.Random, tally: Tally) -> str:
    """One customer: load the form, choose three, send. Returns what the answer page said."""
    start = time.perf_counter()
    async with client.get(link) as response:
        page = await response.text()
    tally.get_ms.append((time.perf_counter() - start) * 1000)
    return await send(client, link, page, rng, tally)


async def send(
    client: aiohttp.ClientSession, link: str, page: str, rng: random.Random, tally: Tally
) -> str:
    """Post three random choices from a loaded form page."""
    found = CSRF.search(page)
    if found is None:
        return "already answered" if ALREADY in page else "no form"
    picks = rng.sample(sorted(set(OPTION.findall(page))), 3)
    fields = {"csrf": found.group(1)} | {f"rank{i}": p for i, p in enumerate(picks, start=1)}
    start = time.perf_counter()
    async with client.post(link, data=fields) as response:
        body = await response.text()
    tally.post_ms.append((time.perf_counter() - start) * 1000)
    if response.status == 200 and RECORDED in body:
        return "recorded"
    if response.status == 200 and ALREADY in body:
        return "already answered"
    return f"HTTP {response.status}"


def session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        cookie_jar=aiohttp.CookieJar(unsafe=True),  # 127.0.0.1 is an IP host
        timeout=aiohttp.ClientTimeout(total=60),
        connector=aiohttp.TCPConnector(limit=1),
    )


async def burst(links: list[str], concurrency: int, seed: int) -> tuple[Tally, float]:
    queue: asyncio.Queue[str] = asyncio.Queue()
    for link in links:
        queue.put_nowait(link)
    tally = Tally()

    async def client(number: int) -> None:
        rng = random.Random(seed * 1000 + number)
        async with session() as http:
            while not queue.empty():
                tally.outcomes[await answer(http, queue.get_nowait(), rng, tally)] += 1

    start = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(concurrency)))
    return tally, time.perf_counter() - start


async def double_submits(links: list[str], seed: int) -> Counter[str]:
    """Two clients load each link's form, then both send it at the same moment: exactly one
    may be recorded, the other must be told "already answered"."""
    outcomes: Counter[str] = Counter()
    rng = random.Random(seed)
    for link in links:
        async with session() as one, session() as two:
            pages = [await (await client.get(link)).text() for client in (one, two)]
            both = await asyncio.gather(
                send(one, link, pages[0], rng, Tally()), send(two, link, pages[1], rng, Tally())
            )
        outcomes.update(sorted(both))
    return outcomes


async def stored(url: str, survey_id: int) -> tuple[int, int]:
    import asyncpg  # type: ignore[import-untyped]

    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(dsn)
    try:
        responses = await connection.fetchval(
            "SELECT count(*) FROM mirror_responses WHERE mirror_id = $1", survey_id
        )
        spent = await connection.fetchval(
            "SELECT count(*) FROM mirror_links WHERE mirror_id = $1 AND used_at IS NOT NULL",
            survey_id,
        )
    finally:
        await connection.close()
    return int(responses), int(spent)


def report(tally: Tally, wall: float, n: int, concurrency: int, workers: int) -> float:
    p50, p95, p99 = (percentile(tally.post_ms, q) for q in (50, 95, 99))
    print(
        f"\nsubmissions : {n} from {concurrency} concurrent clients in {wall:.1f} s "
        f"({n / wall:.0f} submissions/s, each with its form load)"
    )
    print(
        f"POST latency: p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms, "
        f"max {max(tally.post_ms):.1f} ms"
    )
    g50, g99 = percentile(tally.get_ms, 50), percentile(tally.get_ms, 99)
    print(f"GET latency : p50 {g50:.1f} ms, p99 {g99:.1f} ms (the form page, not the target)")
    print(
        f"server CPU  : {tally.server_cpu_s:.1f} s, {1000 * tally.server_cpu_s / n:.2f} ms per "
        "submission with its form load (all worker processes; the clients and PostgreSQL "
        "share the same cores)"
    )
    print(f"outcomes    : {dict(tally.outcomes)}")
    ok = p99 < TARGET_P99_MS
    print(f"target      : p99 of a submission under {TARGET_P99_MS:.0f} ms -> {verdict(ok)}")
    return p99


async def reuse(links: list[str]) -> Counter[str]:
    """Links already answered, opened again: each must say "already answered"."""
    rng = random.Random(0)
    async with session() as client:
        return Counter([await answer(client, link, rng, Tally()) for link in links])


async def main(args: argparse.Namespace) -> int:
    print_machine({"database": f"PostgreSQL ({PG_ADMIN_DSN.rsplit('@', 1)[-1]})"})
    results = []
    for run in range(1, args.runs + 1):
        print(f"\n== run {run} of {args.runs}: serve --workers {args.workers}")
        results.append(await one_run(args))
    p99s = [p99 for _, p99 in results]
    once = all(ok for ok, _ in results)
    worst = max(p99s)
    print(f"\np99 of each run: {', '.join(f'{p:.1f}' for p in p99s)} ms")
    print(
        f"target: p99 under {TARGET_P99_MS:.0f} ms in every run (the worst, {worst:.1f} ms) -> "
        f"{verdict(worst < TARGET_P99_MS)}; every answer stored exactly once -> {verdict(once)}"
    )
    return 0 if once else 1  # a timing miss is reported, never a failure; a lost answer is


async def one_run(args: argparse.Namespace) -> tuple[bool, float]:
    """One burst on a new database: (every answer stored exactly once, POST p99 in ms)."""
    name = f"bench_mirror_{os.getpid()}"
    url = await create_pg_database(name)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    doubles, rest = args.doubles, args.n - args.doubles
    try:
        survey_id, links = await prepare(url, base, args.n)
        with tempfile.TemporaryDirectory(prefix="bench-mirror-") as tmp, children() as started:
            folder = Path(tmp)
            env = base_env(DATABASE_URL=url, ALIGNMENT_PUBLIC_URL=base, LOG_LEVEL="WARNING")
            argv = [*alignment_command(), "serve", "--host", "127.0.0.1", "--port", str(port)]
            argv += ["--workers", str(args.workers)]
            server = spawn("alignment-serve", argv, env=env, cwd=folder, log_dir=folder)
            started.append(server)
            await wait_http_ok(base + "/healthz", child=server, within=90)
            cpu_before = tree_cpu_seconds(server.pid)
            tally, wall = await burst(links[doubles:], args.concurrency, args.seed)
            tally.server_cpu_s = tree_cpu_seconds(server.pid) - cpu_before
            twice = await double_submits(links[:doubles], args.seed)
            again = await reuse(links[-args.reopen :])
        p99 = report(tally, wall, rest, args.concurrency, args.workers)
        responses, spent = await stored(url, survey_id)
    finally:
        await drop_pg_database(name)
    once = (
        tally.outcomes == Counter({"recorded": rest})
        and twice == Counter({"recorded": doubles, "already answered": doubles})
        and again == Counter({"already answered": args.reopen})
        and responses == spent == args.n
    )
    print(f"double sends: {doubles} links, each sent by two clients at once: {dict(twice)}")
    print(f"reopened    : {args.reopen} answered links opened again: {dict(again)}")
    print(f"stored      : {responses} responses, {spent} spent links (expected {args.n} each)")
    print(f"exactly once: {verdict(once)}")
    return once, p99


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="links, each answered once")
    parser.add_argument("--concurrency", type=int, default=100, help="concurrent clients")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="`serve --workers` (default 1, serve's own default: on 2 cores the clients and "
        "PostgreSQL take the other core)",
    )
    parser.add_argument("--runs", type=int, default=3, help="bursts, each on a new database")
    parser.add_argument("--doubles", type=int, default=50, help="links sent twice at once")
    parser.add_argument("--reopen", type=int, default=20, help="answered links opened again")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="N=500, 50 concurrent")
    args = parser.parse_args()
    if args.quick:
        args.n, args.concurrency, args.doubles, args.runs = 500, 50, 20, 1
    return args


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(arguments())))
