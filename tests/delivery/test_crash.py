"""A real `alignment serve` killed with SIGKILL in the middle of a 2,000-person fan-out, then
restarted: every member gets their poll exactly once — none lost, none twice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.delivery.harness import ServeProcess, poll_deliveries, populate, wait_until
from tests.fakes.slack_api import FakeSlackApi

MEMBERS = 2000


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlackApi]:
    fake = await FakeSlackApi(post_rate=150).start()  # slow enough to be killed mid-way
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.mark.slow
async def test_sigkill_mid_fanout_then_restart_delivers_each_poll_exactly_once(
    fake: FakeSlackApi, database_url: str, tmp_path: Path
) -> None:
    people = populate(fake, "C0ALL", MEMBERS)
    server = ServeProcess(database_url, fake.api_url, tmp_path / "serve.log")
    server.start()
    try:
        await server.healthy()
        assert (
            "Added team"
            in (await server.command(fake, "teams add all channel:C0ALL", "team"))["text"]
        )
        opened = await server.command(fake, "poll now team:all", "poll")
        assert f"to {MEMBERS} people" in opened["text"], opened

        assert await wait_until(lambda: len(poll_deliveries(fake)) >= MEMBERS // 4, within=60)
        server.kill()
        delivered_before_kill = len(poll_deliveries(fake))
        assert delivered_before_kill < MEMBERS, "the kill came too late to test anything"

        server.start()
        await server.healthy()
        assert await wait_until(lambda: len(poll_deliveries(fake)) >= MEMBERS, within=120)
        await wait_until(lambda: False, within=3)  # anything doubled would arrive by now
    finally:
        server.stop()

    received = poll_deliveries(fake)
    assert len(received) == MEMBERS  # none lost
    assert max(received.values()) == 1, [k for k, n in received.items() if n > 1][:5]  # none twice
    dms = {"D" + person.removeprefix("U") for person in people}
    assert {channel for channel, msgs in fake.history.items() if msgs} >= dms
