"""The outbox's claims: a slow send by a live worker is never taken over (and so never sent
twice); a claim left by a dead worker is taken over and finished."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from typing import Any

from bot.model.domain import ConversationKind, ConversationRef, MessageRef, UserRef, WorkspaceRef
from bot.model.records import NewOutboxItem, OutboxKind
from bot.rounds.outbox import Outbox, Renderers, StartMarks
from tests.core.conftest import World

LEASE = timedelta(seconds=0.3)


class SlowPort:
    """A chat port whose sends wait until released, recording what arrives."""

    platform = "console"

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.started = asyncio.Event()
        self.sent: list[str] = []

    async def open_dm(self, user: UserRef) -> ConversationRef:
        return ConversationRef(user.workspace, f"dm:{user.user_id}", ConversationKind.DM)

    async def post_text(
        self, conversation: ConversationRef, text: str, *, key: Any = None
    ) -> MessageRef:
        self.started.set()
        await self.release.wait()
        self.sent.append(text)
        return MessageRef(conversation, str(len(self.sent)))


async def _outbox(world: World, port: SlowPort) -> Outbox:
    async def no_poll(*_: Any) -> None:
        return None

    return Outbox(
        store=world.app.store,
        ports={"console": port},  # type: ignore[dict-item]
        clock=world.clock,
        renderers=Renderers(poll=no_poll, report=no_poll),
        lease=LEASE,
    )


async def _queue_one(world: World) -> None:
    workspace = await world.app.core.workspace(world.session("boss").user.workspace)
    item = NewOutboxItem("text:test:1", OutboxKind.TEXT, {"user_id": "ann", "text": "hello"})
    assert await world.app.store.enqueue(workspace.id, [item]) == 1


async def test_a_slow_send_by_a_live_worker_is_not_taken_over(world: World) -> None:
    await _queue_one(world)
    port = SlowPort()
    first, second = await _outbox(world, port), await _outbox(world, port)
    sending = asyncio.ensure_future(first.drain_once())
    await asyncio.wait_for(port.started.wait(), 5)
    world.clock.advance(timedelta(hours=1))  # long past the lease...
    await asyncio.sleep(LEASE.total_seconds())  # ...but the live worker renews its claim
    assert await asyncio.wait_for(second.drain_once(), 5) == 0
    port.release.set()
    assert await sending == 1
    assert port.sent == ["hello"]
    assert (await world.app.store.outbox_counts()) == {"sent": 1}


async def test_a_claim_left_by_a_dead_worker_is_finished_by_another(world: World) -> None:
    await _queue_one(world)
    dead_port, live_port = SlowPort(), SlowPort()
    live_port.release.set()
    dead, live = await _outbox(world, dead_port), await _outbox(world, live_port)
    dying = asyncio.ensure_future(dead.drain_once())
    await asyncio.wait_for(dead_port.started.wait(), 5)
    dying.cancel()  # the worker dies mid-send; its claim stays in the table
    world.clock.advance(LEASE * 2)
    assert await live.drain_once() == 1
    assert live_port.sent == ["hello"]
    assert (await world.app.store.outbox_counts()) == {"sent": 1}


class OneSlowSend(SlowPort):
    """Only the text "slow" waits to be released (a send waiting out a 429's Retry-After);
    every other send goes at once, and ``others`` is set once ``fast`` of them have."""

    def __init__(self, fast: int) -> None:
        super().__init__()
        self.fast = fast
        self.others = asyncio.Event()

    async def post_text(
        self, conversation: ConversationRef, text: str, *, key: Any = None
    ) -> MessageRef:
        if text == "slow":
            return await super().post_text(conversation, text, key=key)
        self.sent.append(text)
        if len(self.sent) == self.fast:
            self.others.set()
        return MessageRef(conversation, str(len(self.sent)))


async def test_a_drain_goes_on_past_its_refresh_without_waiting_for_its_slowest_send(
    world: World,
) -> None:
    """Past ``refresh_every`` messages a drain keeps claiming and sending while a slow send
    is in flight. It used to end after that many and wait for every send in flight first,
    so the pipeline ran dry until the slowest was done (a second lost per 5,000 messages)."""
    workspace = await world.app.core.workspace(world.session("boss").user.workspace)
    texts = ["slow", *(str(n) for n in range(1, 41))]
    items = [
        NewOutboxItem(f"text:drain:{n}", OutboxKind.TEXT, {"user_id": "ann", "text": text})
        for n, text in enumerate(texts)
    ]
    assert await world.app.store.enqueue(workspace.id, items) == 41
    port = OneSlowSend(fast=40)
    sending = asyncio.ensure_future((await _outbox(world, port)).drain_once(refresh_every=5))
    await asyncio.wait_for(port.started.wait(), 5)

    try:
        await asyncio.wait_for(port.others.wait(), 5)
    finally:
        port.release.set()
    assert await sending == 41
    assert sorted(port.sent) == sorted(texts)
    assert (await world.app.store.outbox_counts()) == {"sent": 41}


async def test_enqueue_counts_only_new_keys_across_chunks_and_calls(world: World) -> None:
    workspace = await world.app.core.workspace(world.session("boss").user.workspace)

    def items(keys: range) -> list[NewOutboxItem]:
        return [NewOutboxItem(f"text:n:{k}", OutboxKind.TEXT, {"text": str(k)}) for k in keys]

    store = world.app.store
    assert await store.enqueue(workspace.id, items(range(1200))) == 1200  # three chunks
    assert await store.enqueue(workspace.id, items(range(1100, 1300))) == 100
    assert await store.enqueue(workspace.id, items(range(1300))) == 0
    assert await store.outbox_counts() == {"pending": 1300}


async def test_start_marks_mark_the_next_in_line_and_share_writes() -> None:
    writes: list[list[int]] = []

    async def write(ids: list[int]) -> None:
        await asyncio.sleep(0.01)
        writes.append(ids)

    marks = StartMarks(write, ahead=3)
    marks.queue(range(1, 11))
    await marks.mark(1)
    assert writes == [[1, 2, 3, 4]]  # the post and the three behind it
    await asyncio.gather(marks.mark(2), marks.mark(3))
    assert writes == [[1, 2, 3, 4]]  # already marked: no write
    # Posts asking at the same moment share one write.
    await asyncio.gather(marks.mark(5), marks.mark(9), marks.mark(10))
    assert writes[1:] == [[5, 6, 7, 8, 9, 10]]


async def test_claims_take_turns_between_workspaces_and_skip_full_ones(world: World) -> None:
    core, store = world.app.core, world.app.store
    large = await core.workspace(WorkspaceRef("console", "large"))
    small = await core.workspace(WorkspaceRef("console", "small"))
    third = await core.workspace(WorkspaceRef("console", "third"))

    def texts(name: str, count: int) -> list[NewOutboxItem]:
        return [
            NewOutboxItem(f"text:{name}:{n}", OutboxKind.TEXT, {"text": "hi"}) for n in range(count)
        ]

    await store.enqueue(large.id, texts("large", 2000))  # queued first: older ids
    await store.enqueue(small.id, texts("small", 3))
    await store.enqueue(third.id, texts("third", 50))

    claimed = await store.claim_outbox(world.clock(), worker="w", limit=10, per_workspace=4)
    # Turn by turn: all three once, twice, three times (small has no more), then large.
    owners = Counter(item.workspace_id for item in claimed)
    assert owners == {large.id: 4, small.id: 3, third.id: 3}
    later = await store.claim_outbox(world.clock(), worker="w", limit=100, skip=[large.id])
    assert {item.workspace_id for item in later} == {third.id}
    assert len(later) == 50 - 3
