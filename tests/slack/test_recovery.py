"""After a crash, the outbox asks Slack about the messages that were in flight, and only
those, paced to conversations.history's rate tier: under the 2025 limit for non-Marketplace
apps (1 call a minute, 15 messages a page) eight in-flight sends are recovered without a 429.
The pacing and the fake's limit share a virtual clock, so the test takes seconds, not minutes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.slack.client import SlackApi
from adapters.slack.pacing import NON_MARKETPLACE, TIER_3, Pacer
from adapters.slack.port import METADATA_EVENT, SlackPort
from bot.model.domain import WorkspaceRef
from bot.model.records import NewOutboxItem, OutboxKind
from bot.model.settings import CoreSettings
from bot.rounds.outbox import Outbox, Renderers
from bot.runtime.app import App, build_app
from tests.fakes.slack_api import FakeSlackApi

PEOPLE = [f"U0PERSON{i:02d}" for i in range(12)]
IN_FLIGHT = PEOPLE[:8]  # their posts had begun when the worker died
ARRIVED = PEOPLE[:3]  # ...and these three got through before it did
LEASE = timedelta(seconds=30)


class VirtualTime:
    def __init__(self) -> None:
        self.now = 1_000.0
        self.slept = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)
        self.now += seconds
        self.slept += seconds


@pytest.fixture
async def app(database_url: str, tmp_path: Path) -> AsyncIterator[App]:
    settings = CoreSettings(database_url=database_url)
    built = await build_app(
        settings, clock=lambda: datetime.now(UTC), chart_dir=tmp_path, with_chat_adapters=False
    )
    try:
        yield built
    finally:
        await built.close()


async def _crash_mid_fan_out(app: App, fake: FakeSlackApi, now: datetime) -> None:
    """Twelve DMs claimed by a worker that died: eight had begun posting, three arrived."""
    workspace = await app.core.workspace(WorkspaceRef("slack", fake.team_id))
    items = [
        NewOutboxItem(f"text:crash:{user}", OutboxKind.TEXT, {"user_id": user, "text": "hi"})
        for user in PEOPLE
    ]
    assert await app.store.enqueue(workspace.id, items) == len(PEOPLE)
    claimed = await app.store.claim_outbox(now, worker="w-dead", limit=len(PEOPLE))
    by_user = {item.payload["user_id"]: item for item in claimed}
    await app.store.outbox_started([by_user[u].id for u in IN_FLIGHT], at=now)
    for n, user in enumerate(ARRIVED):
        metadata = {
            "event_type": METADATA_EVENT,
            "event_payload": {"key": by_user[user].dedupe_key},
        }
        message = {"type": "message", "text": "hi", "ts": f"1699999999.{n:06d}"}
        fake.history["D" + user.removeprefix("U")] = [{**message, "metadata": metadata}]


def _outbox(app: App, port: SlackPort, clock: Any) -> Outbox:
    async def nothing(*_: Any) -> None:
        return None

    return Outbox(
        store=app.store,
        ports={"slack": port},
        clock=clock,
        renderers=Renderers(poll=nothing, report=nothing),
        lease=LEASE,
    )


async def _token(_team: str) -> str:
    return "xoxb-test"


async def test_eight_in_flight_sends_recovered_under_one_history_call_a_minute(
    app: App, fake_slack: FakeSlackApi
) -> None:
    virtual = VirtualTime()
    fake_slack.history_per_minute = 1
    fake_slack.history_page_max = NON_MARKETPLACE.page_size
    fake_slack.clock = virtual
    api = SlackApi(base_url=fake_slack.api_url, token_for=_token)
    pacer = Pacer(60.0 / NON_MARKETPLACE.per_minute, clock=virtual, sleep=virtual.sleep)
    port = SlackPort(api, history=NON_MARKETPLACE, history_pacer=pacer)
    crashed_at = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
    await _crash_mid_fan_out(app, fake_slack, crashed_at)

    later = crashed_at + LEASE * 2  # the dead worker's claims have lapsed

    handled = await asyncio.wait_for(_outbox(app, port, lambda: later).drain(), 30)
    await api.close()

    assert handled == len(PEOPLE)
    lookups = fake_slack.calls_to("conversations.history")
    # Only the eight in flight are asked about, each once, and never too soon: no 429 loop.
    assert sorted(c.params["channel"] for c in lookups) == sorted(
        "D" + u.removeprefix("U") for u in IN_FLIGHT
    )
    assert fake_slack.refused == []
    assert {str(c.params["limit"]) for c in lookups} == {"15"}
    assert virtual.slept == pytest.approx(7 * 60)  # the first at once, then one a minute
    # Everyone has exactly one message: the three that arrived were not sent again.
    for user in PEOPLE:
        assert len(fake_slack.posts_to("D" + user.removeprefix("U"))) == 1, user
    assert len(fake_slack.calls_to("chat.postMessage")) == len(PEOPLE) - len(ARRIVED)
    assert await app.store.outbox_counts() == {"sent": len(PEOPLE)}


async def test_a_crash_before_any_post_began_asks_slack_nothing(
    app: App, fake_slack: FakeSlackApi
) -> None:
    api = SlackApi(base_url=fake_slack.api_url, token_for=_token)
    port = SlackPort(api, history=TIER_3)
    now = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
    workspace = await app.core.workspace(WorkspaceRef("slack", fake_slack.team_id))
    item = NewOutboxItem("text:waiting", OutboxKind.TEXT, {"user_id": "U0PERSON00", "text": "x"})
    await app.store.enqueue(workspace.id, [item])
    await app.store.claim_outbox(now, worker="w-dead", limit=1)
    assert await _outbox(app, port, lambda: now + LEASE * 2).drain() == 1
    await api.close()
    assert fake_slack.calls_to("conversations.history") == []
    assert len(fake_slack.calls_to("chat.postMessage")) == 1


async def test_sends_record_that_they_began_before_posting(
    app: App, fake_slack: FakeSlackApi
) -> None:
    api = SlackApi(base_url=fake_slack.api_url, token_for=_token)
    port = SlackPort(api)
    held = fake_slack.hold("chat.postMessage")
    now = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
    workspace = await app.core.workspace(WorkspaceRef("slack", fake_slack.team_id))
    items = [
        NewOutboxItem(f"text:{u}", OutboxKind.TEXT, {"user_id": u, "text": "x"}) for u in PEOPLE[:3]
    ]
    await app.store.enqueue(workspace.id, items)
    sending = asyncio.ensure_future(_outbox(app, port, lambda: now).drain())
    await fake_slack.wait_for("chat.postMessage", count=3)
    # The posts are at Slack: a worker that died now would leave them marked as begun.
    lapsed = await app.store.reclaim_stale(now + LEASE * 2, lease=LEASE, worker="w-other", limit=10)
    assert [item.send_started for item in lapsed] == [True, True, True]
    held.set()
    await asyncio.wait_for(sending, 10)
    await api.close()
    assert json.dumps(await app.store.outbox_counts()) == json.dumps({"sent": 3})
