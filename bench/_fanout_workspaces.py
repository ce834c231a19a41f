"""``bench/fanout.py --workspaces N``: one poll in each of N Slack workspaces at once.

The fake Slack (``_fake_slack.py --team``) holds N workspaces, each with its own bot token,
its own people and its own limit of ``--rate`` chat.postMessage a second. The bot runs in
OAuth (multi-workspace) mode, with the N installations stored in its database before the
first request, and paces each workspace at ``ALIGNMENT_SEND_RATE``. Once each workspace's
team is set up (not timed), ``/alignment poll now team:all`` goes to all N at the same moment.

Printed per workspace: its floor (members / rate), the time from its command to its last
new poll, and the ratio; in all: the time to the last poll of any workspace against the
largest workspace's floor. With ``--pause-seconds`` (default 3) the fake answers 429 to one
workspace (``--pause-team``, default the second) for that long once it has 200 polls: that
workspace must send nothing new meanwhile, and the others must keep their pace.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from _common import (
    BENCH,
    Child,
    FakeSlack,
    alignment_command,
    base_env,
    children,
    cpu_seconds,
    free_port,
    python,
    spawn,
    tree_cpu_seconds,
    verdict,
    wait_http_ok,
)
from fanout import get_json, reply_to, slash
from slack_sdk.oauth.installation_store import Bot

from adapters.slack.stores import RecordsInstallationStore
from storage.database import create_engine
from storage.sql_store import SqlStore
from tests.delivery.harness import ADMIN
from tests.slack import payloads

PAUSE_AFTER = 200  # polls delivered to the paused workspace before its 429s start
TARGET_TOTAL = 1.10  # total time / the largest workspace's floor
TARGET_SMALL_S = 2.0  # the smallest workspace's poll, from its command to its last member


@dataclass(frozen=True)
class Workspaces:
    members: tuple[int, ...]
    rate: float
    send_rate: float
    pause_team: str
    pause_seconds: float
    settle: float
    log_level: str

    @property
    def teams(self) -> list[str]:
        return [f"T{n}" for n in range(1, len(self.members) + 1)]

    def channel(self, team: str) -> str:
        return f"C{team}ALL"


@dataclass
class Result:
    commanded_at: dict[str, float]
    teams: dict[str, Any]
    fanout: dict[str, Any]
    server_cpu_s: float
    fake_cpu_s: float
    wall_s: float


async def start_fake(started: list[Child], folder: Path, ws: Workspaces) -> FakeSlack:
    ready = folder / "fake-slack.json"
    argv = [python(), str(BENCH / "_fake_slack.py"), "--ready-file", str(ready)]
    argv += ["--post-rate", str(ws.rate), "--admin", ADMIN]
    for team, members in zip(ws.teams, ws.members, strict=True):
        argv += ["--team", f"{team}:{ws.channel(team)}:{members}"]
    if ws.pause_seconds > 0:
        argv += ["--pause-team", ws.pause_team, "--pause-after", str(PAUSE_AFTER)]
        argv += ["--pause-seconds", str(ws.pause_seconds)]
    child = spawn("fake-slack", argv, env=base_env(), cwd=folder, log_dir=folder)
    started.append(child)
    deadline = time.perf_counter() + 60
    while not ready.exists():
        if not child.alive() or time.perf_counter() > deadline:
            raise RuntimeError(f"the fake Slack API did not start:\n{child.tail()}")
        await asyncio.sleep(0.05)
    import json

    info = json.loads(ready.read_text())
    return FakeSlack(child, str(info["api_url"]), str(info["stats_url"]))


async def install(database_url: str, teams: list[str]) -> None:
    """Each workspace's OAuth installation, as the install flow would have stored it."""
    engine = create_engine(database_url)
    try:
        installations = RecordsInstallationStore(SqlStore(engine))
        for team in teams:
            bot = Bot(
                team_id=team,
                bot_token=f"xoxb-{team}",
                bot_id="B0001",
                bot_user_id="UBOT",
                installed_at=time.time(),
            )
            await installations.async_save_bot(bot)
    finally:
        await engine.dispose()


def fake_url(fake: FakeSlack, path: str) -> str:
    return fake.stats_url.rsplit("/", 1)[0] + path


async def fan_out(folder: Path, started: list[Child], ws: Workspaces) -> Result:
    database_url = f"sqlite+aiosqlite:///{folder / 'fanout.db'}"
    fake = await start_fake(started, folder, ws)
    port = free_port()
    settings = {
        "DATABASE_URL": database_url,
        "SLACK_CLIENT_ID": "bench.client",
        "SLACK_CLIENT_SECRET": "bench-secret",
        "SLACK_SIGNING_SECRET": payloads.SECRET,
        "SLACK_API_URL": fake.api_url,
        "ALIGNMENT_ADMINS": ADMIN,
        "ALIGNMENT_SEND_RATE": f"{ws.send_rate:g}",
        "LOG_LEVEL": ws.log_level,
    }
    argv = [*alignment_command(), "serve", "--host", "127.0.0.1", "--port", str(port)]
    server = spawn("alignment-serve", argv, env=base_env(**settings), cwd=folder, log_dir=folder)
    started.append(server)
    base = f"http://127.0.0.1:{port}"
    await wait_http_ok(base + "/healthz", child=server, within=90)
    await install(database_url, ws.teams)

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        for team in ws.teams:
            text = f"teams add all channel:{ws.channel(team)}"
            await slash(session, base, fake, text, f"team-{team}", team=team)
            added = await reply_to(session, fake, f"team-{team}", within=60)
            if added is None or "Added team" not in str(added.get("text")):
                raise RuntimeError(f"teams add in {team} failed: {added}\n{server.tail()}")
        await asyncio.sleep(0.5)  # let the server go idle before the clock starts

        print(f"run     : /alignment poll now team:all in {len(ws.teams)} workspaces …")
        server_cpu, fake_cpu = tree_cpu_seconds(server.pid), cpu_seconds(fake.child.pid)
        clock = time.perf_counter()
        sent = await asyncio.gather(
            *(
                slash(session, base, fake, "poll now team:all", f"poll-{team}", team=team)
                for team in ws.teams
            )
        )
        commanded_at = dict(zip(ws.teams, sent, strict=True))
        floor = max(ws.members) / ws.rate
        while time.perf_counter() - clock < 4 * floor + 60:
            teams = await get_json(session, fake_url(fake, "/teams"))
            done = [
                len(teams[t]["first_delivery_at"]) >= n
                for t, n in zip(ws.teams, ws.members, strict=True)
            ]
            if all(done) or not server.alive():
                break
            await asyncio.sleep(0.1)
        wall_s = time.perf_counter() - clock
        server_cpu = tree_cpu_seconds(server.pid) - server_cpu
        fake_cpu = cpu_seconds(fake.child.pid) - fake_cpu
        print(f"settle  : {ws.settle:.0f} s for late or doubled deliveries …")
        await asyncio.sleep(ws.settle)
        teams = await get_json(session, fake_url(fake, "/teams"))
        fanout = await get_json(session, fake_url(fake, "/fanout"))
    server.stop()
    return Result(commanded_at, teams, fanout, server_cpu, fake_cpu, wall_s)


def print_result(result: Result, ws: Workspaces) -> None:
    print()
    print(
        f"workspaces         : {len(ws.teams)}, each behind its own limit of {ws.rate:g} "
        f"chat.postMessage/s; ALIGNMENT_SEND_RATE {ws.send_rate:g}/s per workspace"
    )
    start = min(result.commanded_at.values())
    ends: list[float] = []
    print(
        f"  {'team':<5} {'members':>8} {'floor s':>8} {'done s':>8} {'ratio':>6} {'429s':>5} lost"
    )
    for team, members in zip(ws.teams, ws.members, strict=True):
        got = result.teams[team]
        firsts: list[float] = got["first_delivery_at"]
        floor = members / ws.rate
        done = firsts[-1] - result.commanded_at[team] if len(firsts) >= members else None
        if done is not None:
            ends.append(firsts[-1])
        shown = f"{done:8.2f} {done / floor:6.2f}" if done is not None else "    n/a    n/a"
        print(
            f"  {team:<5} {members:>8,} {floor:>8.2f} {shown} "
            f"{len(got['throttled_at']):>5} {got['lost']}"
        )
    largest_floor = max(ws.members) / ws.rate
    complete = len(ends) == len(ws.teams)
    total = max(ends) - start if complete else None
    small_team = ws.teams[ws.members.index(min(ws.members))]
    small = result.teams[small_team]["first_delivery_at"]
    small_s = small[-1] - result.commanded_at[small_team] if small else None
    print(f"total time         : {total:.2f} s" if total is not None else "total time: not done")
    if total is not None:
        print(f"total / largest floor ({largest_floor:.1f} s): {total / largest_floor:.3f}")
    if small_s is not None:
        print(
            f"smallest ({min(ws.members)} people) : its last poll {small_s:.2f} s after its command"
        )
    pause_ok = print_pause(result, ws)
    duplicates = int(result.fanout["duplicate_posts"])
    lost = sum(int(result.teams[t]["lost"]) for t in ws.teams)
    polls = sum(ws.members)
    print(f"duplicates, lost   : {duplicates}, {lost}")
    print(
        f"CPU                : server {result.server_cpu_s:.1f} s = "
        f"{1000 * result.server_cpu_s / polls:.2f} ms per poll, fake {result.fake_cpu_s:.1f} s "
        f"(over {result.wall_s:.1f} s wall)"
    )
    ratio_ok = total is not None and total / largest_floor <= TARGET_TOTAL
    small_ok = small_s is not None and small_s <= TARGET_SMALL_S
    print()
    print(
        f"target: total/largest floor <= {TARGET_TOTAL} [{verdict(ratio_ok)}], "
        f"smallest within {TARGET_SMALL_S:g} s [{verdict(small_ok)}], "
        f"429 pauses only its workspace [{verdict(pause_ok)}], "
        f"0 duplicates [{verdict(duplicates == 0)}], 0 lost [{verdict(lost == 0)}]"
    )


def print_pause(result: Result, ws: Workspaces) -> bool:
    """During the pause: the paused workspace's new polls (none may start once its first
    429 is answered), and the others' polls per second (their pace goes on)."""
    paused_from = result.teams.get("paused_from")
    if ws.pause_seconds <= 0 or paused_from is None:
        print("429 pause          : none")
        return ws.pause_seconds <= 0
    throttled = result.teams[ws.pause_team]["throttled_at"]
    first_429 = min(throttled) if throttled else paused_from
    until = paused_from + ws.pause_seconds
    start = min(result.commanded_at.values())
    print(
        f"429 pause          : {ws.pause_team} refused from +{paused_from - start:.2f} s for "
        f"{ws.pause_seconds:g} s (first 429 answered at +{first_429 - start:.2f} s)"
    )
    # Posts already on their way when the first 429 is answered may still land: allow 0.2 s.
    quiet_from = first_429 + 0.2
    ok = True
    for team in ws.teams:
        firsts = result.teams[team]["first_delivery_at"]
        during = [t for t in firsts if quiet_from <= t < until]
        per_second = len(during) / max(until - quiet_from, 1e-9)
        note = ""
        if team == ws.pause_team:
            ok = ok and not during
            note = "  (paused: must be 0)"
        print(f"  {team}: {len(during):>5} new polls during the pause, {per_second:6.1f}/s{note}")
    return ok


def run_workspaces(ws: Workspaces) -> None:
    async def main() -> Result:
        with (
            tempfile.TemporaryDirectory(prefix="alignment-bench-fanout-") as tmp,
            children() as started,
        ):
            return await fan_out(Path(tmp), started, ws)

    print_result(asyncio.run(main()), ws)
