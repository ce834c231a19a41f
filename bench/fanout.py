"""Time to deliver a poll to N members through a fake Slack that enforces a rate limit.

Starts the fake Slack Web API in its own process (``bench/_fake_slack.py``) with N people in
channel ``C0ALL`` and a steady limit of ``--rate`` chat.postMessage a second (above it: 429 with
Retry-After 1). Starts a real ``alignment serve`` on 127.0.0.1 against it (SQLite in a temporary
folder, or a scratch PostgreSQL database) with ``ALIGNMENT_SEND_RATE`` = ``--send-rate``. As the
admin it sends the signed slash commands ``/alignment teams add all channel:C0ALL`` (not timed)
and ``/alignment poll now team:all`` (timed), and measures the time from that command to the
moment the fake has received N distinct poll messages. It then waits ``--settle`` seconds more
and counts duplicates (a poll key delivered twice) and lost members (no poll in their DM).

The floor is what the limit allows: N / rate seconds. Target: time / floor <= 1.05, 0 duplicates,
0 lost. Stops what it started (by pid), removes its folder and drops the scratch database.

    python bench/fanout.py --quick             # 2,000 members, ~15 s
    python bench/fanout.py                     # 10,000 members at 200/s, ~1 min
    python bench/fanout.py --send-rate 0       # no pacing: what the 429s cost
    python bench/fanout.py --db postgres
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import aiohttp
from _common import (
    BENCH,
    PG_ADMIN_DSN,
    Child,
    FakeSlack,
    alignment_command,
    base_env,
    children,
    cpu_seconds,
    create_pg_database,
    drop_pg_database,
    free_port,
    median,
    print_machine,
    python,
    spawn,
    tree_cpu_times,
    verdict,
    wait_http_ok,
)
from sqlalchemy import func, select

from bot.model.records import OutboxKind
from storage import models as m
from storage.database import create_engine
from tests.delivery.harness import ADMIN  # the admin populate() puts in the fake workspace
from tests.slack import payloads

CHANNEL = "C0ALL"
TEAM_NAME = "all"
TARGET_RATIO = 1.05
TARGET_CPU_MS = 1.5  # server CPU per poll
STALL = 0.05  # a gap between two new polls longer than this counts as a stall


@dataclass(frozen=True)
class Args:
    members: int
    rate: float
    send_rate: float
    concurrency: int | None
    db: str
    settle: float
    log_level: str
    workers: int


@dataclass
class Run:
    """What one fan-out measured; times are wall-clock seconds (``time.time()``)."""

    commanded_at: float
    done_at: float | None
    reply: dict[str, Any] | None
    report: dict[str, Any]
    server_cpu_s: float
    server_system_s: float  # of server_cpu_s: in the kernel (sockets, mostly)
    fake_cpu_s: float
    wall_s: float
    log_lines: list[str]
    server: dict[str, Any]


# --- the fake Slack ------------------------------------------------------------------------------


async def start_fake(started: list[Child], folder: Path, args: Args) -> FakeSlack:
    """bench/_fake_slack.py with the rate limit and the N members (start_fake_slack's twin)."""
    ready = folder / "fake-slack.json"
    argv = [python(), str(BENCH / "_fake_slack.py"), "--ready-file", str(ready)]
    argv += ["--post-rate", str(args.rate), "--members", str(args.members), "--channel", CHANNEL]
    child = spawn("fake-slack", argv, env=base_env(), cwd=folder, log_dir=folder)
    started.append(child)
    deadline = time.perf_counter() + 60
    while not ready.exists():
        if not child.alive():
            raise RuntimeError(f"the fake Slack API exited early:\n{child.tail()}")
        if time.perf_counter() > deadline:
            raise TimeoutError("the fake Slack API did not start within 60 s")
        await asyncio.sleep(0.05)
    info = json.loads(ready.read_text())
    return FakeSlack(child, str(info["api_url"]), str(info["stats_url"]))


def fake_url(fake: FakeSlack, path: str) -> str:
    return fake.stats_url.rsplit("/", 1)[0] + path


async def get_json(session: aiohttp.ClientSession, url: str) -> Any:
    async with session.get(url) as response:
        response.raise_for_status()
        return await response.json()


async def slash(
    session: aiohttp.ClientSession,
    base: str,
    fake: FakeSlack,
    text: str,
    key: str,
    *,
    team: str = payloads.TEAM,
) -> float:
    """A signed ``/alignment TEXT`` from the admin; its reply goes to the fake's response/KEY."""
    body = payloads.slash_command(
        response_url=fake.api_url.replace("/api/", f"/response/{key}"),
        text=text,
        user=ADMIN,
        team=team,
        trigger_id=f"bench-{key}",
    )
    sent_at = time.time()
    headers = payloads.signed_headers(body)
    async with session.post(base + "/slack/events", data=body, headers=headers) as response:
        if response.status != 200:
            raise RuntimeError(f"/alignment {text} answered {response.status}")
    return sent_at


async def reply_to(
    session: aiohttp.ClientSession, fake: FakeSlack, key: str, within: float
) -> dict[str, Any] | None:
    deadline = time.perf_counter() + within
    while time.perf_counter() < deadline:
        replies = await get_json(session, fake_url(fake, f"/responses/{key}"))
        if replies:
            return dict(replies[0])
        await asyncio.sleep(0.1)
    return None


# --- one fan-out ---------------------------------------------------------------------------------


async def fan_out(database_url: str, started: list[Child], folder: Path, args: Args) -> Run:
    print(f"set-up  : fake Slack with {args.members} members in {CHANNEL} …", flush=True)
    fake = await start_fake(started, folder, args)
    port = free_port()
    settings = {
        "DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": payloads.SECRET,
        "SLACK_API_URL": fake.api_url,
        "ALIGNMENT_ADMINS": ADMIN,
        "ALIGNMENT_SEND_RATE": f"{args.send_rate:g}",
        "LOG_LEVEL": args.log_level,
    }
    if args.concurrency is not None:
        settings["ALIGNMENT_SEND_CONCURRENCY"] = str(args.concurrency)
    argv = [*alignment_command(), "serve", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--workers", str(args.workers)]  # each worker paces at its share of the rate
    server = spawn("alignment-serve", argv, env=base_env(**settings), cwd=folder, log_dir=folder)
    started.append(server)
    base = f"http://127.0.0.1:{port}"
    await wait_http_ok(base + "/healthz", child=server, within=90)

    n = args.members
    floor = n / args.rate
    deadline_s = max(120.0, 4 * floor + 60)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await slash(session, base, fake, f"teams add {TEAM_NAME} channel:{CHANNEL}", "team")
        added = await reply_to(session, fake, "team", within=30)
        if added is None or "Added team" not in str(added.get("text")):
            raise RuntimeError(f"teams add failed: {added}\n{server.tail()}")
        await asyncio.sleep(0.5)  # let the server go idle before the clock starts

        print(f"run     : /alignment poll now team:{TEAM_NAME} …", flush=True)
        server_before, fake_cpu = tree_cpu_times(server.pid), cpu_seconds(fake.child.pid)
        clock = time.perf_counter()
        commanded_at = await slash(session, base, fake, f"poll now team:{TEAM_NAME}", "poll")
        done_at: float | None = None
        last_count, last_change = -1, time.perf_counter()
        while time.perf_counter() - clock < deadline_s:
            status = await get_json(session, fake_url(fake, "/deliveries"))
            if status["distinct"] >= n:
                done_at = float(status["last_new_at"])
                break
            if status["distinct"] != last_count:
                last_count, last_change = status["distinct"], time.perf_counter()
            elif time.perf_counter() - last_change > 60:
                print(f"run     : stalled at {last_count} of {n} for 60 s, giving up", flush=True)
                break
            if not server.alive():
                print(f"run     : the server exited:\n{server.tail()}", flush=True)
                break
            await asyncio.sleep(0.1)
        wall_s = time.perf_counter() - clock
        server_user, server_system = (
            now - before
            for now, before in zip(tree_cpu_times(server.pid), server_before, strict=True)
        )
        fake_cpu = cpu_seconds(fake.child.pid) - fake_cpu
        print(f"settle  : {args.settle:.0f} s for late or doubled deliveries …", flush=True)
        await asyncio.sleep(args.settle)
        reply = await reply_to(session, fake, "poll", within=1)
        report = await get_json(session, fake_url(fake, "/fanout"))
    server.stop()
    lines = server.log.read_text(errors="replace").splitlines()
    timeline = await server_timeline(database_url)
    return Run(
        commanded_at,
        done_at,
        reply,
        report,
        server_user + server_system,
        server_system,
        fake_cpu,
        wall_s,
        lines,
        timeline,
    )


def _epoch(value: datetime | None) -> float | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


async def server_timeline(database_url: str) -> dict[str, Any]:
    """When the server did each step, from the timestamps it wrote to its own tables.

    people created (ensure_person, one by one), the audit line of the team sync (written just
    before its commit), the round's opened_at, the audit line of the round (before the
    invitations' commit), the outbox rows' created_at (enqueue), claimed_at and sent_at."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as db:
            people = (
                await db.execute(
                    select(func.min(m.Person.created_at), func.max(m.Person.created_at)).where(
                        m.Person.user_id != ADMIN
                    )
                )
            ).one()
            audits = dict(
                (action.split(":")[0], at)
                for action, at in await db.execute(
                    select(m.AuditEntry.action, m.AuditEntry.at).order_by(m.AuditEntry.id)
                )
            )
            opened = await db.scalar(select(func.max(m.Round.opened_at)))
            outbox = (
                await db.execute(
                    select(
                        func.min(m.OutboxMessage.created_at),
                        func.min(m.OutboxMessage.claimed_at),
                        func.min(m.OutboxMessage.sent_at),
                        func.max(m.OutboxMessage.sent_at),
                        func.count(func.distinct(m.OutboxMessage.claimed_at)),
                        func.sum(m.OutboxMessage.attempts),
                        func.count(),
                    ).where(m.OutboxMessage.kind == OutboxKind.POLL.value)
                )
            ).one()
            sends = (
                await db.execute(
                    select(m.OutboxMessage.claimed_at, m.OutboxMessage.sent_at).where(
                        m.OutboxMessage.kind == OutboxKind.POLL.value,
                        m.OutboxMessage.sent_at.is_not(None),
                    )
                )
            ).all()
            states = dict(
                (state, count)
                for state, count in await db.execute(
                    select(m.OutboxMessage.state, func.count()).group_by(m.OutboxMessage.state)
                )
            )
    finally:
        await engine.dispose()
    return {
        "people_first": _epoch(people[0]),
        "people_last": _epoch(people[1]),
        "team_synced": _epoch(audits.get("team members changed")),
        "round_opened": _epoch(opened),
        "round_audit": _epoch(audits.get("round opened")),
        "queued": _epoch(outbox[0]),
        "first_claim": _epoch(outbox[1]),
        "first_sent": _epoch(outbox[2]),
        "last_sent": _epoch(outbox[3]),
        "claims": int(outbox[4] or 0),
        "retries": int(outbox[5] or 0),
        "rows": int(outbox[6] or 0),
        "states": {str(k): int(v) for k, v in states.items()},
        "between_batches": between_batches(sends),
    }


def between_batches(sends: Sequence[Any]) -> float:
    """Seconds from the last send of one claim batch to the first send of the next, summed:
    what the outbox's claim-a-batch-then-gather loop costs on top of the pacing."""
    batches: dict[float, list[float]] = {}
    for claimed, sent in sends:
        start, end = _epoch(claimed), _epoch(sent)
        if start is not None and end is not None:
            batches.setdefault(start, []).append(end)
    spans = [(min(v), max(v)) for _, v in sorted(batches.items())]
    return sum(max(0.0, nxt[0] - prev[1]) for prev, nxt in pairwise(spans))


async def run(args: Args) -> Run:
    with (
        tempfile.TemporaryDirectory(prefix="alignment-bench-fanout-") as tmp,
        children() as started,
    ):
        folder = Path(tmp)
        if args.db == "sqlite":
            return await fan_out(
                f"sqlite+aiosqlite:///{folder / 'fanout.db'}", started, folder, args
            )
        name = f"alignment_bench_fanout_{int(time.time())}"
        url = await create_pg_database(name)
        try:
            return await fan_out(url, started, folder, args)
        finally:
            for child in reversed(started):  # the server holds connections: stop it first
                child.stop()
            with contextlib.suppress(Exception):
                await drop_pg_database(name)


# --- output --------------------------------------------------------------------------------------


def stalls(times: Sequence[float], start: float) -> tuple[int, float]:
    """Gaps longer than STALL between consecutive new polls: how many, and their total."""
    gaps = [b - a for a, b in zip([start, *times], times, strict=False) if b - a > STALL]
    return len(gaps), sum(gaps)


def per_second(times: Sequence[float], start: float, end: float) -> list[int]:
    """New polls in each whole second of the sending phase."""
    buckets = Counter(int(t - start) for t in times)
    return [buckets.get(i, 0) for i in range(int(end - start))]


def print_results(run: Run, args: Args) -> None:
    n, rate = args.members, args.rate
    report = run.report
    floor = n / rate
    t0 = run.commanded_at
    firsts: list[float] = report["first_delivery_at"]
    first_at: dict[str, float] = report["first_at"]
    last_at: dict[str, float] = report["last_at"]
    throttled: list[float] = report["throttled_at"]
    measured = (run.done_at - t0) if run.done_at is not None else None
    ratio = measured / floor if measured is not None else None
    duplicates = int(report["duplicate_posts"])
    lost = int(report["lost"])

    print()
    pacing = f"{args.send_rate:g}/s" if args.send_rate > 0 else "none (0)"
    concurrency = args.concurrency if args.concurrency is not None else "default"
    print(
        f"members            : {n:,}   (db {args.db}, ALIGNMENT_SEND_RATE {pacing}, "
        f"ALIGNMENT_SEND_CONCURRENCY {concurrency})"
    )
    print(f"fake rate limit    : {rate:g} chat.postMessage/s (above it: 429, Retry-After 1)")
    print(f"floor (N / rate)   : {floor:.2f} s")
    if measured is None:
        print(f"measured time      : not done: {len(firsts):,} of {n:,} after {run.wall_s:.1f} s")
    else:
        print(f"measured time      : {measured:.2f} s  (command -> {n:,}th distinct poll)")
        print(f"ratio time / floor : {ratio:.3f}")
    print(f"429s by the fake   : {len(throttled):,} on chat.postMessage")
    dup_note = f"  e.g. {', '.join(report['duplicate_examples'])}" if duplicates else ""
    print(
        f"duplicates         : {duplicates}  ({report['duplicate_keys']} keys delivered more "
        f"than once; {report['posts']:,} poll posts for {report['distinct']:,} keys){dup_note}"
    )
    lost_note = f"  e.g. {', '.join(report['lost_examples'])}" if lost else ""
    print(f"lost               : {lost}  (members with no poll in their DM){lost_note}")
    if run.reply is not None:
        print(f"command reply      : +{run.reply['at'] - t0:.2f} s  {run.reply.get('text', '')!r}")
    else:
        print("command reply      : none")

    # Where the time went, from the fake's clock (same machine, wall time).
    print()
    print("breakdown (seconds after the command):")

    def at(method: str, which: dict[str, float]) -> float | None:
        return which[method] - t0 if method in which else None

    srv = run.server

    def mark(name: str) -> float | None:
        value = srv.get(name)
        return None if value is None else float(value) - t0

    members_from = at("conversations.members", first_at)
    members_to = max(
        (x for x in (at("conversations.members", last_at), at("users.info", last_at)) if x),
        default=None,
    )
    first_post = at("chat.postMessage", first_at)
    steps: list[tuple[str, float | None]] = [
        ("first conversations.members (fake)", members_from),
        ("last users.info: members read (fake)", members_to),
        ("first person stored (ensure_person)", mark("people_first")),
        ("last person stored", mark("people_last")),
        ("team membership synced (audit, before commit)", mark("team_synced")),
        ("round opened_at", mark("round_opened")),
        ("invitations added (audit, before commit)", mark("round_audit")),
        ("outbox rows queued (created_at)", mark("queued")),
        ("first outbox claim", mark("first_claim")),
        ("first chat.postMessage (fake)", first_post),
        ("first poll marked sent", mark("first_sent")),
        ("last poll marked sent", mark("last_sent")),
        ("Nth distinct poll at the fake", measured),
    ]
    previous = 0.0
    for label, value in steps:
        if value is None:
            print(f"  {label:<48}        ?")
            continue
        print(f"  {label:<48} +{value:7.2f}  (step {value - previous:6.2f})")
        previous = value
    print(
        f"  outbox: {srv['rows']:,} poll rows, states {srv['states']}, "
        f"{srv['claims']} claim batches, {srv['retries']} retries (attempts); "
        f"{srv['between_batches']:.2f} s in all from a batch's last send to the next one's first"
    )
    if first_post is not None and measured is not None:
        send_s = measured - first_post
        pace = args.send_rate if args.send_rate > 0 else rate
        print(
            f"  send phase: {n / send_s:.1f} polls/s (limit {rate:g}/s, pacing {pacing}); "
            f"at {min(pace, rate):g}/s it would take {n / min(pace, rate):.2f} s"
        )
        count, total = stalls(firsts[:n], t0 + first_post)
        print(f"  gaps > {STALL * 1000:.0f} ms between new polls: {count}, {total:.2f} s in all")
        seconds = per_second(firsts[:n], t0 + first_post, t0 + measured)
        if seconds:
            print(
                f"  new polls per whole second: min {min(seconds)}, "
                f"median {median(seconds):.0f}, max {max(seconds)}"
            )
        if throttled:
            first_429 = throttled[0] - t0
            print(
                f"  429s from +{first_429:.2f} s to +{throttled[-1] - t0:.2f} s "
                "(the SDK waits Retry-After and tries again, up to 5 times; then the outbox retries)"
            )
    calls = report["calls"]
    print(
        "  calls: "
        + ", ".join(
            f"{method} {calls.get(method, 0):,}"
            for method in ("conversations.members", "users.info", "conversations.open")
        )
        + f", chat.postMessage {calls.get('chat.postMessage', 0):,} answered"
    )
    print(
        f"  CPU s from command to done: server {run.server_cpu_s:.1f}, fake {run.fake_cpu_s:.1f} "
        f"(over {run.wall_s:.1f} s wall)"
    )
    print(
        f"  server CPU per poll: {1000 * run.server_cpu_s / n:.2f} ms, of which "
        f"{1000 * run.server_system_s / n:.2f} ms in the kernel (target <= {TARGET_CPU_MS:g} ms)"
    )
    errors = [line for line in run.log_lines if " ERROR " in line or "gave up" in line]
    if errors:
        print(f"  server log: {len(errors)} ERROR / gave-up lines, first: {errors[0][:150]}")

    print()
    ok_time = ratio is not None and ratio <= TARGET_RATIO
    shown = f"{ratio:.3f}" if ratio is not None else "n/a"
    print(
        f"target: time/floor <= {TARGET_RATIO:.2f} -> {shown} [{verdict(ok_time)}], "
        f"duplicates 0 -> {duplicates} [{verdict(duplicates == 0)}], "
        f"lost 0 -> {lost} [{verdict(lost == 0)}]"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=10_000, help="people in the channel")
    parser.add_argument(
        "--rate", type=float, default=200.0, help="the fake's chat.postMessage limit per second"
    )
    parser.add_argument(
        "--send-rate",
        type=float,
        default=None,
        help="ALIGNMENT_SEND_RATE of the bot (default: 0.98 x --rate; 0 = no pacing)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="ALIGNMENT_SEND_CONCURRENCY (default: the bot's)",
    )
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--settle", type=float, default=5.0, help="seconds to wait for late or doubled polls"
    )
    parser.add_argument("--log-level", default="INFO", help="LOG_LEVEL of the server")
    parser.add_argument(
        "--workers", type=int, default=1, help="alignment serve --workers (more need postgres)"
    )
    parser.add_argument("--quick", action="store_true", help="2,000 members")
    parser.add_argument(
        "--workspaces",
        type=int,
        default=1,
        help="one poll in each of this many workspaces at once (see _fanout_workspaces.py)",
    )
    parser.add_argument(
        "--workspace-members",
        type=int,
        nargs="+",
        default=None,
        help="members of each workspace (default 6000 2000 20 ...)",
    )
    parser.add_argument(
        "--pause-seconds", type=float, default=3.0, help="the 429 pause of one workspace"
    )
    parsed = parser.parse_args(argv)
    if parsed.rate <= 0:
        parser.error("--rate must be positive")
    args = Args(
        members=2_000 if parsed.quick else parsed.members,
        rate=parsed.rate,
        send_rate=parsed.rate * 0.98 if parsed.send_rate is None else parsed.send_rate,
        concurrency=parsed.concurrency,
        db=parsed.db,
        settle=parsed.settle,
        log_level=parsed.log_level,
        workers=parsed.workers,
    )
    if parsed.workspaces > 1:
        several(parsed, args)
        return
    print("bench/fanout.py: poll fan-out through a rate-limited fake Slack, alignment serve")
    extra = {"target": f"time/floor <= {TARGET_RATIO:.2f}, 0 duplicates, 0 lost"}
    if args.db == "postgres":
        extra["postgres"] = f"{PG_ADMIN_DSN} (a scratch database is created there and dropped)"
    print_machine(extra)
    print_results(asyncio.run(run(args)), args)


def several(parsed: argparse.Namespace, args: Args) -> None:
    from _fanout_workspaces import Workspaces, run_workspaces

    members = parsed.workspace_members or [6000, 2000, 20][: parsed.workspaces]
    while len(members) < parsed.workspaces:
        members.append(20)
    print("bench/fanout.py: one poll in each of several workspaces at once, alignment serve")
    print_machine({"workspaces": ", ".join(f"{n:,}" for n in members)})
    run_workspaces(
        Workspaces(
            members=tuple(members[: parsed.workspaces]),
            rate=args.rate,
            send_rate=args.send_rate,
            pause_team="T2",
            pause_seconds=parsed.pause_seconds,
            settle=args.settle,
            log_level=args.log_level,
        )
    )


if __name__ == "__main__":
    main()
