"""Time-to-ack of a burst of signed poll answers (Slack ``view_submission``), end to end.

For each database (``--db sqlite|postgres|both``):

1. Set-up, not timed. A scratch database (a temporary SQLite file, or a new PostgreSQL
   database on 127.0.0.1 that is dropped at the end) gets the Slack workspace T0001 through
   the core (``AlignmentCore.workspace``: default attributes) and N people in one batch
   insert into the bot's ``people`` table. A round for all N is opened through the store
   (``SqlStore.open_round``, as the core does). ``alignment serve`` starts on a free port
   with Slack pointed at the fake Web API (its own process). With ``--open-via-slack`` the
   round is instead opened by a signed ``/alignment poll now`` from an admin in
   ``ALIGNMENT_ADMINS``, and the benchmark waits until the bot has DMed the poll to all N
   people through the fake (slow: tens of polls per second today).
2. The burst, timed. N signed ``view_submission`` payloads, one per person, shaped by
   ``tests/slack/payloads.py`` with the poll modal's callback id and the ``private_metadata``
   the adapter's modal carries (``PollMeta(round, k, DM channel, message ts)``), sent by
   ``--concurrency`` concurrent aiohttp connections. Each request's time-to-ack is the time
   from sending to the complete HTTP response.
3. Checks. Every ack is 200 with an empty body (an answer accepted), the bot's chat.update
   calls reach the fake (counted, not timed), and the database holds exactly N answers from
   N different people in the round: none lost, none doubled.

The baseline is a bare slack-bolt AsyncApp on aiohttp (bench/_bare_bolt.py) that acks the
same payloads and nothing else, under the same concurrency.

The floor (bench/_floor.py), run for each database before the bot in the same run: a plain
aiohttp handler that checks the Slack signature, parses the modal's picks and inserts the
answer through the same group-commit writer (storage/answer_batch.py) into the same
database, with as many processes as the bot. Its round is opened for the same N people and
closed before the bot starts. The bot's throughput and p99 are printed over the floor's.

    python bench/ack.py                    # N=5000, 200 concurrent, SQLite and PostgreSQL
    python bench/ack.py --quick            # N=1000
    python bench/ack.py --db postgres --n 2000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from _common import (
    PG_ADMIN_DSN,
    Child,
    FakeSlack,
    alignment_command,
    base_env,
    children,
    cpu_seconds,
    create_pg_database,
    drop_pg_database,
    fake_slack_calls,
    free_port,
    percentile,
    print_machine,
    python,
    spawn,
    start_fake_slack,
    tree_cpu_seconds,
    verdict,
    wait_http_ok,
)

from adapters.slack import render
from adapters.slack.parse import PollMeta
from bot.model.defaults import DEFAULT_QUESTION
from bot.model.domain import WorkspaceRef
from bot.model.records import RoundState
from bot.model.settings import CoreSettings
from bot.runtime.app import build_app
from storage.database import create_engine
from storage.sql_store import SqlStore
from tests.slack import payloads

SECRET = payloads.SECRET
TEAM = payloads.TEAM
ADMIN = "UBENCHADMIN"
TARGET_P99_MS = 250.0
TARGET_PG_RATE = 500.0
TARGET_VS_BOLT = 1.5
TARGET_VS_FLOOR_RATE = 0.8  # at least 0.8x the floor's answers/s
TARGET_VS_FLOOR_P99 = 1.25  # p99 at most 1.25x the floor's


def user_id(i: int) -> str:
    return f"UB{i:06d}"


def user_name(i: int) -> str:
    return f"bench.user{i}"


# --- load generation ----------------------------------------------------------------------------


@dataclass
class Burst:
    label: str
    sent: int
    wall_s: float
    latencies_ms: list[float]
    statuses: Counter[int] = field(default_factory=Counter)
    with_body: int = 0  # a 200 with a body: the modal was told about an error
    transport_errors: int = 0
    sample_body: str = ""
    server_cpu_s: float = 0.0
    client_cpu_s: float = 0.0
    fake_cpu_s: float = 0.0
    machine_busy: float = 0.0  # share of all cores busy during the burst

    @property
    def others_busy(self) -> float:
        """Share of all cores used by processes other than server, client and fake."""
        ours = self.server_cpu_s + self.client_cpu_s + self.fake_cpu_s
        cores = os.cpu_count() or 1
        return max(0.0, self.machine_busy - ours / (self.wall_s * cores)) if self.wall_s else 0.0

    @property
    def rate(self) -> float:
        return self.sent / self.wall_s if self.wall_s else 0.0

    def p(self, q: float) -> float:
        return percentile(self.latencies_ms, q)

    @property
    def accepted(self) -> int:
        return self.statuses.get(200, 0) - self.with_body


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


async def fire(
    label: str,
    url: str,
    bodies: Sequence[bytes],
    concurrency: int,
    *,
    server: Child,
    fake: FakeSlack,
) -> Burst:
    """Send every body once, ``concurrency`` at a time; each request signed as it goes out."""
    latencies: list[float] = []
    burst = Burst(label, len(bodies), 0.0, latencies)
    pending = iter(range(len(bodies)))
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
    timeout = aiohttp.ClientTimeout(total=60)

    async def worker(session: aiohttp.ClientSession) -> None:
        for index in pending:
            body = bodies[index]
            headers = payloads.signed_headers(body, secret=SECRET)
            start = time.perf_counter()
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    text = await response.text()
                    status = response.status
            except (aiohttp.ClientError, TimeoutError):
                burst.transport_errors += 1
                continue
            latencies.append((time.perf_counter() - start) * 1000)
            burst.statuses[status] += 1
            if status == 200 and text.strip():
                burst.with_body += 1
                burst.sample_body = burst.sample_body or text[:300]

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        server_cpu, fake_cpu = tree_cpu_seconds(server.pid), cpu_seconds(fake.child.pid)
        client_cpu, (busy, total) = time.process_time(), machine_ticks()
        start = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        burst.wall_s = time.perf_counter() - start
        busy_after, total_after = machine_ticks()
        burst.server_cpu_s = tree_cpu_seconds(server.pid) - server_cpu
        burst.fake_cpu_s = cpu_seconds(fake.child.pid) - fake_cpu
        burst.client_cpu_s = time.process_time() - client_cpu
        burst.machine_busy = (busy_after - busy) / max(total_after - total, 1)
    return burst


def answer_body(i: int, meta: str, picks: Sequence[str], view: str = "VB") -> bytes:
    """What Slack posts when person i submits the poll modal (see tests/slack/payloads.py)."""
    payload = payloads.view_submission(
        callback_id=render.CALLBACK_POLL,
        values=payloads.picks(*picks),
        private_metadata=meta,
        view_id=f"{view}{i:07d}",  # with the picks, the answer's event id
        user=user_id(i),
    )
    payload["user"].update(username=user_name(i), name=user_name(i))
    return payloads.interaction(payload)


# --- the bare bolt baseline ---------------------------------------------------------------------


async def bare_bolt(
    started: list[Child], folder: Path, fake: FakeSlack, bodies: Sequence[bytes], args: Args
) -> Burst:
    port = free_port()
    argv = [
        python(),
        str(Path(__file__).with_name("_bare_bolt.py")),
        "--port",
        str(port),
        "--signing-secret",
        SECRET,
        "--api-url",
        fake.api_url,
        "--callback-id",
        render.CALLBACK_POLL,
        "--log-level",
        args.log_level,
    ]
    child = spawn("bare-bolt", argv, env=base_env(), cwd=folder, log_dir=folder)
    started.append(child)
    base = f"http://127.0.0.1:{port}"
    await wait_http_ok(base + "/healthz", child=child)
    burst = await fire(
        "bare bolt (ack only)",
        base + "/slack/events",
        bodies,
        args.concurrency,
        server=child,
        fake=fake,
    )
    child.stop()
    return burst


# --- the bot ------------------------------------------------------------------------------------


@dataclass
class Outcome:
    burst: Burst
    stored: int
    distinct: int
    updates: int
    drain_s: float | None
    setup_people_s: float
    setup_delivery_s: float
    floor: Burst | None = None
    floor_stored: int = 0
    floor_distinct: int = 0


# --- the floor ----------------------------------------------------------------------------------


async def run_floor(
    kind: str,
    database_url: str,
    workspace_id: int,
    workers: int,
    started: list[Child],
    folder: Path,
    fake: FakeSlack,
    args: Args,
) -> tuple[Burst, int, int]:
    """The floor's burst on a round of its own for the same N people (closed afterwards,
    so the bot's round is the only open one); returns it with the answers stored."""
    store = SqlStore(create_engine(database_url))
    try:
        round_id = await open_round_in_store(store, workspace_id, args.n)
        # Views of their own: the same view and picks would be the same event id, and the
        # bot would take its answers for retries of the floor's.
        bodies = await answer_bodies(store, workspace_id, round_id, args, view="VF")
        port = free_port()
        argv = [python(), str(Path(__file__).with_name("_floor.py")), "--port", str(port)]
        argv += ["--database-url", database_url, "--signing-secret", SECRET]
        argv += ["--workspace-id", str(workspace_id), "--team", TEAM, "--workers", str(workers)]
        child = spawn(f"floor-{kind}", argv, env=base_env(), cwd=folder, log_dir=folder)
        started.append(child)
        base = f"http://127.0.0.1:{port}"
        await wait_http_ok(base + "/healthz", child=child)
        print(f"[{kind}] floor burst: {args.n} answers, {args.concurrency} concurrent …")
        burst = await fire(
            f"floor, {kind}" + (f" x{workers}" if workers > 1 else ""),
            base + "/slack/events",
            bodies,
            args.concurrency,
            server=child,
            fake=fake,
        )
        child.stop()
        answers = await store.answers_for_round(round_id)
        closed_at = datetime.now(UTC)
        await store.close_round(workspace_id, round_id, closed_at, actor="bench")
        # Its results are nobody's: marked reported, so the bot's scheduler does not report
        # the round and queue 5,000 feedback DMs in the middle of the bot's own burst (it
        # does that for a closed round not yet reported, after a crash between the two).
        await store.mark_reported(round_id, closed_at)
        return burst, len(answers), len({a.person_id for a in answers})
    finally:
        await store.close()


async def answer_bodies(
    store: SqlStore, workspace_id: int, round_id: int, args: Args, view: str = "VB"
) -> list[bytes]:
    round_info = await store.get_round(workspace_id, round_id)
    assert round_info is not None
    attribute_ids = [str(a.id) for a in await store.list_attributes(workspace_id)]
    k = min(round_info.top_k, len(attribute_ids))
    rng = random.Random(args.seed)
    by_user = {i.person.user_id: i for i in await store.invitations(round_id)}
    bodies = []
    for i in range(args.n):
        # The DM and message the poll went to (what the adapter puts in the modal); when
        # the round was opened through the store, a made-up DM of that person.
        invitation = by_user[user_id(i)]
        channel = invitation.conversation_id or "D" + user_id(i).removeprefix("U")
        ts = invitation.message_id or f"{1_700_000_000 + i}.000100"
        meta = PollMeta(round_id, k, channel, ts)
        bodies.append(answer_body(i, meta.encode(), rng.sample(attribute_ids, k), view))
    return bodies


async def register_people(database_url: str, n: int) -> int:
    """The workspace (through the core, so it gets its default attributes) and N people,
    added the way a channel's members are when a round opens (``SqlStore.ensure_people``)."""
    settings = CoreSettings(_env_file=None, database_url=database_url, admins=(ADMIN,))
    app = await build_app(settings, with_chat_adapters=False)
    try:
        workspace = await app.core.workspace(WorkspaceRef("slack", TEAM))
        store = SqlStore(create_engine(database_url))
        try:
            await store.ensure_people(workspace.id, [(user_id(i), user_name(i)) for i in range(n)])
        finally:
            await store.close()
        return workspace.id
    finally:
        await app.close()


async def open_round_in_store(store: SqlStore, workspace_id: int, n: int) -> int:
    """Open the round for the N people the way the core does, through the store."""
    people = {p.user_id: p.id for p in await store.list_people(workspace_id)}
    workspace = await store.workspace_by_id(workspace_id)
    now = datetime.now(UTC)
    opened = await store.open_round(
        workspace_id,
        question=DEFAULT_QUESTION.format(k=workspace.top_k),
        top_k=workspace.top_k,
        audience="everyone",
        opened_at=now,
        deadline=now + timedelta(days=3),
        opened_by=f"slack:{TEAM}:{ADMIN}",
        person_ids=[people[user_id(i)] for i in range(n)],
    )
    if opened is None:
        raise RuntimeError("the store refused to open the round")
    return opened.id


async def open_round(base: str, fake: FakeSlack) -> None:
    body = payloads.slash_command(
        response_url=fake.api_url.replace("/api/", "/response/open"),
        text="poll now",
        user=ADMIN,
        channel="C0BENCH",
        channel_name="bench",
        trigger_id="bench-trigger-open",
    )
    headers = payloads.signed_headers(body, secret=SECRET)
    async with (
        aiohttp.ClientSession() as session,
        session.post(base + "/slack/events", data=body, headers=headers) as response,
    ):
        if response.status != 200:
            raise RuntimeError(f"/alignment poll now answered {response.status}")


async def wait_for_round(store: SqlStore, workspace_id: int, within: float) -> int:
    deadline = time.perf_counter() + within
    while time.perf_counter() < deadline:
        rounds = await store.list_rounds(workspace_id, state=RoundState.OPEN, limit=1)
        if rounds:
            return rounds[0].id
        await asyncio.sleep(0.2)
    raise TimeoutError("no round was opened by /alignment poll now")


async def wait_for_delivery(store: SqlStore, round_id: int, n: int, within: float) -> None:
    deadline = time.perf_counter() + within
    delivered = 0
    while time.perf_counter() < deadline:
        invitations = await store.invitations(round_id)
        delivered = sum(1 for i in invitations if i.message_id is not None)
        # Everyone: the N people and the admin who opened the round (the core met them too).
        if len(invitations) >= n and delivered == len(invitations):
            return
        await asyncio.sleep(1.0)
    raise TimeoutError(f"only {delivered} of {n} polls were delivered within {within:.0f} s")


async def wait_for_updates(
    fake: FakeSlack, target: int, within: float, stalled_after: float = 15.0
) -> tuple[int, float | None]:
    """Wait for the bot's chat.update calls; give up when none arrived for ``stalled_after``
    seconds (an answer the bot failed on never gets its update)."""
    start = last_change = time.perf_counter()
    count = -1
    while time.perf_counter() - start < within:
        now_count = (await fake_slack_calls(fake)).get("chat.update", 0)
        if now_count >= target:
            return now_count, time.perf_counter() - start
        if now_count != count:
            count, last_change = now_count, time.perf_counter()
        elif time.perf_counter() - last_change > stalled_after:
            break
        await asyncio.sleep(0.25)
    return count, None


async def run_bot(
    kind: str,
    database_url: str,
    started: list[Child],
    folder: Path,
    fake: FakeSlack,
    args: Args,
) -> Outcome:
    n = args.n
    print(f"[{kind}] set-up: workspace and {n} people …", flush=True)
    clock = time.perf_counter()
    workspace_id = await register_people(database_url, n)
    people_s = time.perf_counter() - clock
    # Several workers need PostgreSQL; SQLite serves from one process.
    workers = args.workers if kind == "postgres" else 1
    floor: tuple[Burst, int, int] | None = None
    if args.floor:  # first, so that a database grown by the other burst slows the bot
        floor = await run_floor(
            kind, database_url, workspace_id, workers, started, folder, fake, args
        )

    port = free_port()
    env = base_env(
        DATABASE_URL=database_url,
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=fake.api_url,
        ALIGNMENT_ADMINS=ADMIN,
        LOG_LEVEL=args.log_level,
    )
    argv = [*alignment_command(), "serve", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--workers", str(workers)]
    server = spawn(f"alignment-serve-{kind}", argv, env=env, cwd=folder, log_dir=folder)
    started.append(server)
    base = f"http://127.0.0.1:{port}"
    await wait_http_ok(base + "/healthz", child=server, within=90)

    store = SqlStore(create_engine(database_url))
    try:
        clock = time.perf_counter()
        if args.open_via_slack:
            await open_round(base, fake)
            round_id = await wait_for_round(store, workspace_id, within=60)
            await wait_for_delivery(store, round_id, n, within=max(120.0, n / 10))
            how = "opened by /alignment poll now and every poll DM delivered"
        else:
            round_id = await open_round_in_store(store, workspace_id, n)
            how = "opened through the store"
        delivery_s = time.perf_counter() - clock
        print(
            f"[{kind}] set-up: {n} people in {people_s:.1f} s; round {round_id} {how} "
            f"in {delivery_s:.1f} s",
            flush=True,
        )

        bodies = await answer_bodies(store, workspace_id, round_id, args)
        updates_before = (await fake_slack_calls(fake)).get("chat.update", 0)

        print(f"[{kind}] burst: {n} answers, {args.concurrency} concurrent …", flush=True)
        burst = await fire(
            f"alignment serve, {kind}" + (f" x{workers}" if workers > 1 else ""),
            base + "/slack/events",
            bodies,
            args.concurrency,
            server=server,
            fake=fake,
        )
        updates, drain_s = await wait_for_updates(
            fake, updates_before + n, within=max(120.0, n / 20)
        )
        answers = await store.answers_for_round(round_id)
        return Outcome(
            burst=burst,
            stored=len(answers),
            distinct=len({a.person_id for a in answers}),
            updates=updates - updates_before,
            drain_s=drain_s,
            setup_people_s=people_s,
            setup_delivery_s=delivery_s,
            floor=floor[0] if floor else None,
            floor_stored=floor[1] if floor else 0,
            floor_distinct=floor[2] if floor else 0,
        )
    finally:
        await store.close()
        server.stop()
        if server.process.returncode not in (0, None):
            print(f"[{kind}] note: the server exited with {server.process.returncode}")
        report_log(kind, server)


def report_log(kind: str, server: Child) -> None:
    """What went wrong inside the server: errors, and acks bolt gave up waiting for (3 s)."""
    try:
        lines = server.log.read_text(errors="replace").splitlines()
    except OSError:
        return
    errors = [line for line in lines if " ERROR " in line]
    if errors:
        print(f"[{kind}] the server logged {len(errors)} ERROR lines, first: {errors[0][:160]}")
    causes = Counter(
        line.split(":", 1)[0]
        for line in lines
        if line and not line[0].isspace() and line.split(":", 1)[0].endswith(("Error", "Exception"))
    )
    for cause, count in causes.most_common(3):
        print(f"[{kind}]   {count} x {cause}")
    late = sum(1 for line in lines if "didn't call ack" in line)
    if late:
        print(f"[{kind}] bolt gave up waiting for the ack (3 s) {late} times")


async def run_sqlite(started: list[Child], folder: Path, fake: FakeSlack, args: Args) -> Outcome:
    url = f"sqlite+aiosqlite:///{folder / 'bench-ack.db'}"
    return await run_bot("sqlite", url, started, folder, fake, args)


async def run_postgres(started: list[Child], folder: Path, fake: FakeSlack, args: Args) -> Outcome:
    name = f"alignment_bench_ack_{int(time.time())}"
    url = await create_pg_database(name)
    try:
        return await run_bot("postgres", url, started, folder, fake, args)
    finally:
        with contextlib.suppress(Exception):
            await drop_pg_database(name)


# --- output -------------------------------------------------------------------------------------


def print_results(baseline: Burst | None, outcomes: dict[str, Outcome], args: Args) -> None:
    print()
    print(f"{args.n} answers, {args.concurrency} concurrent connections, time-to-ack in ms")
    header = (
        f"{'server':<26} {'answers/s':>9} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7}  "
        f"{'2xx':>5} {'err':>4}  {'CPU s: server':>13} {'client':>6} {'fake':>5} "
        f"{'busy':>5} {'others':>6}"
    )
    print(header)
    print("-" * len(header))
    bursts = ([baseline] if baseline else []) + [
        b for o in outcomes.values() for b in (o.floor, o.burst) if b is not None
    ]
    for b in bursts:
        two_xx = sum(v for s, v in b.statuses.items() if 200 <= s < 300)
        errors = (
            b.transport_errors + b.with_body + sum(v for s, v in b.statuses.items() if s >= 300)
        )
        print(
            f"{b.label:<26} {b.rate:>9.0f} {b.p(50):>7.1f} {b.p(95):>7.1f} {b.p(99):>7.1f} "
            f"{max(b.latencies_ms, default=float('nan')):>7.1f}  {two_xx:>5} {errors:>4}  "
            f"{b.server_cpu_s:>13.1f} {b.client_cpu_s:>6.1f} {b.fake_cpu_s:>5.1f} "
            f"{b.machine_busy:>5.0%} {b.others_busy:>6.0%}"
        )
    print(
        "CPU s: used during the burst; busy: all cores; others: busy minus server, client and "
        "fake (PostgreSQL's backends, anything else running)"
    )
    print()
    for kind, o in outcomes.items():
        intact = o.stored == args.n and o.distinct == args.n and o.burst.accepted == args.n
        drain = (
            f"all {o.drain_s:.1f} s after the burst"
            if o.drain_s is not None
            else "NOT all: no more came for 15 s"
        )
        print(
            f"[{kind}] stored answers: {o.stored} ({o.distinct} people) of {args.n} sent, "
            f"{o.burst.accepted} acked as accepted  [{'OK' if intact else 'FAIL'}]; "
            f"chat.update calls: {o.updates} ({drain})"
        )
        if o.burst.sample_body:
            print(f"[{kind}] an ack with a body: {o.burst.sample_body}")
        if o.floor is not None:
            intact = (
                o.floor_stored == args.n
                and o.floor_distinct == args.n
                and o.floor.accepted == args.n
            )
            print(
                f"[{kind}] floor: stored answers: {o.floor_stored} ({o.floor_distinct} people) "
                f"of {args.n} sent, {o.floor.accepted} acked as accepted  "
                f"[{'OK' if intact else 'FAIL'}]"
            )
            if o.floor.sample_body:
                print(f"[{kind}] floor: an ack with a body: {o.floor.sample_body}")
    print()
    for kind, o in outcomes.items():
        p99 = o.burst.p(99)
        print(
            f"target: p99 < {TARGET_P99_MS:.0f} ms at {args.concurrency} concurrent, {kind}: "
            f"{p99:.0f} ms  [{verdict(p99 < TARGET_P99_MS)}]"
            + (f" ({p99 / TARGET_P99_MS:.1f}x the target)" if p99 >= TARGET_P99_MS else "")
        )
    if "postgres" in outcomes:
        rate = outcomes["postgres"].burst.rate
        print(
            f"target: >= {TARGET_PG_RATE:.0f} answers/s on PostgreSQL: {rate:.0f}/s  "
            f"[{verdict(rate >= TARGET_PG_RATE)}]"
        )
    for kind, o in outcomes.items():
        if o.floor is None:
            continue
        rate_ratio = o.burst.rate / o.floor.rate if o.floor.rate else float("nan")
        p99_ratio = o.burst.p(99) / o.floor.p(99) if o.floor.latencies_ms else float("nan")
        print(
            f"target: throughput >= {TARGET_VS_FLOOR_RATE}x the floor's, {kind}: "
            f"{o.burst.rate:.0f}/s over {o.floor.rate:.0f}/s = {rate_ratio:.2f}x  "
            f"[{verdict(rate_ratio >= TARGET_VS_FLOOR_RATE)}]"
        )
        print(
            f"target: p99 <= {TARGET_VS_FLOOR_P99}x the floor's, {kind}: "
            f"{o.burst.p(99):.0f} ms over {o.floor.p(99):.0f} ms = {p99_ratio:.2f}x  "
            f"[{verdict(p99_ratio <= TARGET_VS_FLOOR_P99)}]"
        )
    if baseline is not None:
        for kind, o in outcomes.items():
            ratio = o.burst.p(99) / baseline.p(99)
            print(
                f"target: p99 <= {TARGET_VS_BOLT}x bare bolt's ({baseline.p(99):.0f} ms), {kind}: "
                f"{ratio:.1f}x  [{verdict(ratio <= TARGET_VS_BOLT)}]"
            )


# --- main ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Args:
    n: int
    concurrency: int
    dbs: tuple[str, ...]
    baseline: bool
    seed: int
    log_level: str
    open_via_slack: bool
    workers: int
    floor: bool = True


async def run(args: Args) -> None:
    with (
        tempfile.TemporaryDirectory(prefix="alignment-bench-ack-") as tmp,
        children() as started,
    ):
        folder = Path(tmp)
        fake = await start_fake_slack(started, folder, admins=[ADMIN])
        baseline = None
        if args.baseline:
            # The baseline gets the same bodies the bot will (minus real DM ids): same sizes.
            meta = PollMeta(1, 3, "DBENCH", "1700000000.000100").encode()
            bodies = [answer_body(i, meta, ("1", "2", "3")) for i in range(args.n)]
            print(f"[bare bolt] burst: {args.n} answers, {args.concurrency} concurrent …")
            baseline = await bare_bolt(started, folder, fake, bodies, args)
        outcomes: dict[str, Outcome] = {}
        for kind in args.dbs:
            runner = run_sqlite if kind == "sqlite" else run_postgres
            outcomes[kind] = await runner(started, folder, fake, args)
        print_results(baseline, outcomes, args)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=5000, help="answers (and people)")
    parser.add_argument("--concurrency", type=int, default=200, help="concurrent connections")
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--no-baseline", action="store_true", help="skip the bare bolt run")
    parser.add_argument("--no-floor", action="store_true", help="skip the floor runs")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--log-level", default="INFO", help="LOG_LEVEL of the servers (the bot's default: INFO)"
    )
    parser.add_argument(
        "--open-via-slack",
        action="store_true",
        help="open the round with a signed '/alignment poll now' and wait until the bot has "
        "DMed every poll through the fake Slack (slow: the default opens it through the store)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="alignment serve --workers on PostgreSQL (default: the machine's cores; SQLite: 1)",
    )
    parser.add_argument("--quick", action="store_true", help="N=1000")
    parsed = parser.parse_args(argv)
    args = Args(
        n=1000 if parsed.quick else parsed.n,
        concurrency=parsed.concurrency,
        dbs=("sqlite", "postgres") if parsed.db == "both" else (parsed.db,),
        baseline=not parsed.no_baseline,
        seed=parsed.seed,
        log_level=parsed.log_level,
        open_via_slack=parsed.open_via_slack,
        workers=parsed.workers,
        floor=not parsed.no_floor,
    )
    print("bench/ack.py: time-to-ack of signed poll answers through alignment serve")
    print_machine(
        {
            "target": "p99 < 250 ms @200, >= 500/s on PostgreSQL, <= 1.5x bare bolt p99; "
            ">= 0.8x the floor's answers/s, p99 <= 1.25x the floor's"
        }
    )
    if "postgres" in args.dbs:
        print(f"postgres: {PG_ADMIN_DSN} (a scratch database is created there and dropped)")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
