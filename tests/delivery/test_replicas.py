"""Two real `alignment serve` replicas on one PostgreSQL database: exactly one runs the
scheduler; SIGKILL it and the other takes over, and the next scheduled round opens once —
no minute skipped, none doubled, every member polled exactly once per round."""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from tests.conftest import TEST_DATABASE, _pg_dsn
from tests.delivery.harness import ServeProcess, poll_deliveries, populate, wait_until
from tests.fakes.slack_api import FakeSlackApi

pytestmark = pytest.mark.skipif(
    TEST_DATABASE == "sqlite",
    reason="SQLite deployments are single-process by design; replicas need PostgreSQL "
    "(set ALIGNMENT_TEST_DATABASE=postgresql+asyncpg://…)",
)

MEMBERS = 5
MINUTE = timedelta(minutes=1)


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlackApi]:
    fake = await FakeSlackApi().start()
    try:
        yield fake
    finally:
        await fake.stop()


async def scheduled_rounds(database_url: str) -> list[tuple[int, datetime]]:
    """(round id, fire time) of every round a schedule opened, oldest fire time first."""
    connection = await asyncpg.connect(_pg_dsn(database_url))
    try:
        rows = await connection.fetch(
            "SELECT id, fire_time FROM rounds WHERE schedule_id IS NOT NULL ORDER BY fire_time, id"
        )
    finally:
        await connection.close()
    return [(row["id"], row["fire_time"].astimezone(UTC)) for row in rows]


async def roles(*servers: ServeProcess) -> list[str]:
    return [str((await server.healthy(within=10))["scheduler"]) for server in servers]


async def wait_for_roles(
    servers: list[ServeProcess], want: list[str], *, within: float
) -> list[str]:
    deadline = time.monotonic() + within
    seen = await roles(*servers)
    while sorted(seen) != sorted(want) and time.monotonic() < deadline:
        await asyncio.sleep(0.25)
        seen = await roles(*servers)
    return seen


async def wait_for_round(database_url: str, fire_time: datetime, *, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if any(fired == fire_time for _, fired in await scheduled_rounds(database_url)):
            return True
        await asyncio.sleep(0.25)
    return False


def opened_in(server: ServeProcess) -> int:
    """How many rounds this replica's scheduler opened, from its log."""
    return len(
        re.findall(r"bot\.rounds\.scheduler schedule \d+ opened", server.log_path.read_text())
    )


def next_minute(after: datetime) -> datetime:
    return after.replace(second=0, microsecond=0) + MINUTE


@pytest.mark.slow
async def test_kill_the_scheduler_leader_and_the_standby_opens_the_next_round_once(
    fake: FakeSlackApi, database_url: str, tmp_path: Path
) -> None:
    people = populate(fake, "C0ALL", MEMBERS)
    servers = [
        ServeProcess(database_url, fake.api_url, tmp_path / f"serve-{name}.log")
        for name in ("a", "b")
    ]
    assert servers[0].port != servers[1].port
    try:
        # One after the other: the first migrates the fresh database (starting both at once
        # is the test below).
        for server in servers:
            server.start()
            await server.healthy(within=60)

        # Election happens at the first tick: exactly one leader, one standby.
        seen = await wait_for_roles(servers, ["leader", "standby"], within=10)
        assert sorted(seen) == ["leader", "standby"], seen
        leader, survivor = servers if seen[0] == "leader" else servers[::-1]

        added = await survivor.command(fake, "teams add all channel:C0ALL", "team")
        assert "Added team" in added["text"], added
        scheduled = await survivor.command(
            fake, "schedule add * * * * * tz:UTC window:1h audience:team:all", "schedule"
        )
        assert "added" in scheduled["text"], scheduled
        after_add = datetime.now(UTC)

        # The first minute boundary after the schedule exists is opened by the leader…
        before_kill = next_minute(after_add)
        wait = (before_kill - datetime.now(UTC)).total_seconds() + 15
        assert await wait_for_round(database_url, before_kill, within=wait), (
            f"no round for {before_kill:%H:%M}: {await scheduled_rounds(database_url)}\n"
            + leader.log_path.read_text()[-3000:]
        )

        # …which then dies outright; the standby must take over within a few ticks.
        leader.kill()
        killed_at = time.monotonic()
        seen = await wait_for_roles([survivor], ["leader"], within=10)
        assert seen == ["leader"], f"the survivor never took over: {seen}"
        takeover = time.monotonic() - killed_at
        assert takeover <= 10, takeover

        # The next boundary passes with only the survivor alive: it opens that round, once.
        after_kill = before_kill + MINUTE
        wait = (after_kill - datetime.now(UTC)).total_seconds() + 15
        assert await wait_for_round(database_url, after_kill, within=wait), (
            f"the survivor never opened {after_kill:%H:%M}: {await scheduled_rounds(database_url)}"
            + "\n"
            + survivor.log_path.read_text()[-3000:]
        )
        await wait_until(lambda: False, within=3)  # a second opening would show up by now

        rounds = await scheduled_rounds(database_url)
        fire_times = [fired for _, fired in rounds]
        assert len(fire_times) == len(set(fire_times)), f"a fire time opened twice: {rounds}"
        assert before_kill in fire_times, rounds
        assert after_kill in fire_times, rounds
        steps = {later - earlier for earlier, later in itertools.pairwise(fire_times)}
        assert steps <= {MINUTE}, f"a minute was skipped: {rounds}"

        # Every member of every scheduled round got their poll, exactly once.
        expected = {f"poll:{round_id}:" for round_id, _ in rounds}

        def all_delivered() -> bool:
            received = poll_deliveries(fake)
            return all(
                sum(1 for key in received if key.startswith(prefix)) >= MEMBERS
                for prefix in expected
            )

        assert await wait_until(all_delivered, within=20), poll_deliveries(fake)
        await wait_until(lambda: False, within=2)
    finally:
        for server in servers:
            server.stop()

    received = poll_deliveries(fake)
    per_round = {
        round_id: [key for key in received if key.startswith(f"poll:{round_id}:")]
        for round_id, _ in rounds
    }
    assert all(len(keys) == MEMBERS for keys in per_round.values()), per_round
    assert max(received.values()) == 1, [k for k, n in received.items() if n > 1]
    dms = {"D" + person.removeprefix("U") for person in people}
    assert {channel for channel, msgs in fake.history.items() if msgs} >= dms
    # One scheduler at a time: the standby opened nothing until the leader died, then
    # opened exactly the one round that came due after the kill.
    assert opened_in(survivor) == 1, survivor.log_path.read_text()[-3000:]
    assert opened_in(leader) == len(rounds) - 1, leader.log_path.read_text()[-3000:]


async def test_two_replicas_started_together_on_a_fresh_database_both_come_up(
    fake: FakeSlackApi, database_url: str, tmp_path: Path
) -> None:
    """A deployment starts its replicas at the same moment; each runs the migrations on start,
    so they must not trip over each other on an empty database."""
    populate(fake, "C0ALL", MEMBERS)
    servers = [
        ServeProcess(database_url, fake.api_url, tmp_path / f"serve-{name}.log")
        for name in ("a", "b")
    ]
    try:
        for server in servers:
            server.start()
        for server in servers:
            await server.healthy(within=60)
        seen = await wait_for_roles(servers, ["leader", "standby"], within=10)
        assert sorted(seen) == ["leader", "standby"], seen
    finally:
        for server in servers:
            server.stop()
