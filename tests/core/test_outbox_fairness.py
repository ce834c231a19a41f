"""Pacing per workspace: a large fan-out in one workspace never holds up a small one in
another, and a 429 in one workspace pauses only that workspace.

The outbox runs on an event loop whose clock is virtual: when every task is waiting, the
clock jumps to the next timer. So a 10-second fan-out runs in a moment and the times the
fake platform records are exact and repeatable. The store is an in-memory fake (a real
database answers from a thread, which a virtual clock cannot wait for); the claim order of
the real stores is tested in test_outbox.py."""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Collection, Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from bot.model.domain import ConversationKind, ConversationRef, MessageRef, UserRef, WorkspaceRef
from bot.model.ports import DeliveryError
from bot.model.records import OutboxItem, OutboxKind, SentMessage, WorkspaceInfo
from bot.rounds.outbox import Outbox, RateLimiter, Renderers

RATE = 200.0  # sends a second per workspace
LATENCY = 0.02  # seconds the platform takes to answer a post
EPOCH = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class _VirtualSelector(selectors.DefaultSelector):
    """Never blocks: where the loop would sleep until its next timer, the clock jumps there."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0

    def select(self, timeout: float | None = None) -> list[Any]:
        ready = super().select(0)
        if not ready:
            if timeout is None:
                raise RuntimeError("every task waits and no timer is set: a deadlock")
            self.now += timeout
        return ready


class _VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        self._virtual = _VirtualSelector()
        super().__init__(self._virtual)

    def time(self) -> float:
        return self._virtual.now


def _run(main: Coroutine[Any, Any, None]) -> None:
    loop = _VirtualTimeLoop()
    try:
        loop.run_until_complete(main)
    finally:
        loop.close()


def _now() -> float:
    return asyncio.get_running_loop().time()


class FakeStore:
    """The outbox's part of the store, in memory, claiming as the real stores do."""

    def __init__(self) -> None:
        self.items: dict[int, OutboxItem] = {}
        self.pending: dict[int, OutboxItem] = {}
        self.due_at: dict[int, datetime] = {}
        self.sent: list[int] = []
        self.mark_batches = 0  # transactions that marked messages sent

    def queue(self, workspace_id: int, count: int) -> None:
        for n in range(count):
            item_id = len(self.due_at) + 1
            self.items[item_id] = self.pending[item_id] = OutboxItem(
                id=item_id,
                workspace_id=workspace_id,
                dedupe_key=f"text:{workspace_id}:{n}",
                kind=OutboxKind.TEXT,
                payload={"user_id": f"U{n}", "text": f"{workspace_id}/{n}"},
                attempts=0,
                claimed_at=None,
            )
            self.due_at[item_id] = EPOCH

    async def claim_outbox(
        self,
        now: datetime,
        *,
        worker: str,
        limit: int,
        per_workspace: int | None = None,
        skip: Collection[int] = (),
    ) -> list[OutboxItem]:
        turns: dict[int, list[OutboxItem]] = {}
        for item_id in sorted(self.pending):
            item = self.pending[item_id]
            if self.due_at[item_id] <= now and item.workspace_id not in skip:
                turns.setdefault(item.workspace_id, []).append(item)
        ranked = sorted(
            (turn, item.id, item)
            for queue in turns.values()
            for turn, item in enumerate(queue[:per_workspace])
        )
        claimed = [item for _, _, item in ranked[:limit]]
        for item in claimed:
            del self.pending[item.id]
        return claimed

    async def reclaim_stale(self, *_: Any, **__: Any) -> list[OutboxItem]:
        return []

    async def renew_claims(self, *_: Any, **__: Any) -> None:
        return None

    async def outbox_sent_many(self, sent: Sequence[SentMessage]) -> None:
        self.sent.extend(s.item_id for s in sent)
        self.mark_batches += 1

    async def outbox_retry(self, item_id: int, *, not_before: datetime, error: str) -> None:
        self.pending[item_id] = self.items[item_id]
        self.due_at[item_id] = not_before

    async def outbox_failed(self, item_id: int, *, error: str) -> None:
        raise AssertionError(f"message {item_id} failed: {error}")

    async def workspace_by_id(self, workspace_id: int) -> WorkspaceInfo:
        ref = WorkspaceRef("slack", f"T{workspace_id}")
        return WorkspaceInfo(workspace_id, ref, f"team {workspace_id}", "UTC", 3)


class FakePlatform:
    """Answers each post after LATENCY; records the virtual time of every delivery per
    workspace; can answer a workspace's next post with a 429."""

    platform = "slack"

    def __init__(self) -> None:
        self.delivered: dict[str, list[float]] = {}  # workspace -> when each post started
        self.throttle_next: dict[str, float] = {}  # workspace -> Retry-After of its next post
        self.throttled: dict[str, float] = {}  # workspace -> when it answered the 429
        self.slow: dict[str, float] = {}  # workspace -> seconds each of its posts takes

    async def open_dm(self, user: UserRef) -> ConversationRef:
        return ConversationRef(user.workspace, f"D{user.user_id}", ConversationKind.DM)

    async def post_text(
        self, conversation: ConversationRef, text: str, *, key: Any = None
    ) -> MessageRef:
        started = _now()
        workspace = conversation.workspace.external_id
        await asyncio.sleep(self.slow.get(workspace, LATENCY))
        retry_after = self.throttle_next.pop(workspace, None)
        if retry_after is not None:
            self.throttled[workspace] = _now()
            raise DeliveryError("ratelimited", retryable=True, retry_after=retry_after)
        self.delivered.setdefault(workspace, []).append(started)
        return MessageRef(conversation, key)


def _outbox(store: FakeStore, platform: FakePlatform) -> Outbox:
    async def nothing(*_: Any) -> None:
        return None

    return Outbox(
        store=store,  # type: ignore[arg-type]
        ports={"slack": platform},  # type: ignore[dict-item]
        clock=lambda: EPOCH + timedelta(seconds=_now()),
        renderers=Renderers(poll=nothing, report=nothing),
        rate=RATE,
    )


def _keeps_pace(times: Sequence[float]) -> bool:
    """Posts of one workspace start at least 1 / RATE apart (to within rounding)."""
    return all(later - earlier >= 1 / RATE - 1e-9 for earlier, later in pairwise(times))


def test_a_small_workspace_behind_a_large_fan_out_is_sent_within_its_own_pace() -> None:
    store, platform = FakeStore(), FakePlatform()
    store.queue(1, 2000)  # queued first: every one of its ids is older
    store.queue(2, 20)

    async def main() -> None:
        assert await _outbox(store, platform).drain() == 2020

    _run(main())
    large, small = platform.delivered["T1"], platform.delivered["T2"]
    assert (len(large), len(small)) == (2000, 20)
    # The 20 start within 20 slots of their own pace (0.1 s), not after the 2,000 (10 s) nor
    # taking turns with them (0.2 s).
    assert max(small) < 20 / RATE
    # Each workspace keeps to its own pace.
    assert _keeps_pace(large)
    assert _keeps_pace(small)
    assert sorted(store.sent) == list(range(1, 2021))
    # Marked sent in batches (about 20 sends each at this pace), not a transaction per send.
    assert store.mark_batches <= 2020 / 10


def test_a_429_in_one_workspace_pauses_only_that_workspace() -> None:
    store, platform = FakeStore(), FakePlatform()
    store.queue(1, 100)
    store.queue(2, 20)
    platform.throttle_next["T1"] = 30.0  # T1's first post is answered 429, Retry-After 30

    async def main() -> None:
        outbox = _outbox(store, platform)
        while len(store.sent) < 120:
            await outbox.drain()
            await asyncio.sleep(1)

    _run(main())
    large, small = platform.delivered["T1"], platform.delivered["T2"]
    assert max(small) < 20 / RATE  # T2 never waited for T1's pause
    # T1 started no post from its 429 until the Retry-After had passed (those already in
    # flight when the 429 came are the platform's to refuse).
    throttled = platform.throttled["T1"]
    assert not [t for t in large if throttled < t < throttled + 30.0]
    assert len(large) == 100
    assert sorted(store.sent) == list(range(1, 121))


def test_a_workspace_whose_sends_hang_holds_up_no_other() -> None:
    # Like the Slack SDK waiting out a Retry-After inside the call: the outbox cannot see
    # why, only that every send to T1 takes 30 s. T1 fills all its slots; T2 has its own.
    store, platform = FakeStore(), FakePlatform()
    store.queue(1, 100)
    store.queue(2, 20)
    platform.slow["T1"] = 30.0

    async def main() -> None:
        assert await _outbox(store, platform).drain() == 120

    _run(main())
    assert max(platform.delivered["T2"]) < 20 / RATE
    assert len(platform.delivered["T1"]) == 100


def test_after_a_stall_no_second_holds_more_sends_than_the_rate() -> None:
    """The process stalls for 0.6 s (a busy event loop) with sends waiting for their slots:
    they must not all leave at once when it resumes, or the platform's sliding one-second
    window sees more than the rate (a 429 and a lost second on Slack). Counted by when
    each send really left; the pace over the whole run stays the rate's."""
    rate, count = 10.0, 40
    left: list[float] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, _VirtualTimeLoop)
        limiter = RateLimiter(rate)

        async def sender() -> None:
            while len(left) < count:
                await limiter.wait()
                left.append(_now())
                if len(left) == 15:
                    loop._virtual.now += 0.6  # time passes and no task runs

        await asyncio.gather(*(sender() for _ in range(8)))

    _run(main())
    busiest = max(sum(1 for t in left if start <= t < start + 1.0) for start in left)
    assert busiest <= rate, busiest
    assert left[count - 1] < count / rate + 0.6 + 0.2  # the stall's time, not a second more
