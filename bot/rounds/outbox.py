"""The persistent outbox: every poll, reminder, report and feedback message is a row first.

Life of a message: ``pending`` → claimed (``sending``) by one worker → ``sent`` with the
platform's message id, or back to ``pending`` after a retryable failure, or ``failed``.
A worker killed mid-send leaves its claim; after a lease the next worker takes the claim over
and, where the platform can tell (``ConfirmsDelivery``), first asks whether the message
already arrived, so a crash neither loses nor doubles it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from bot.model.domain import ConversationKind, ConversationRef, MessageRef, UserRef
from bot.model.ports import ChatPort, DeliveryError
from bot.model.records import OutboxItem, OutboxKind, WorkspaceInfo
from bot.model.store import Store
from bot.model.views import PollView, ReportView

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=30)
MAX_ATTEMPTS = 8


@runtime_checkable
class ConfirmsDelivery(Protocol):
    """A port that can tell whether a message with our key already reached a conversation."""

    async def find_delivered(
        self, conversation: ConversationRef, key: str
    ) -> MessageRef | None: ...


class RateLimiter:
    """At most ``rate`` sends a second per platform, and a shared pause after a 429.

    Pacing below the platform's limit is what keeps a large fan-out near the floor the limit
    allows: hitting 429s costs a Retry-After each time.
    """

    def __init__(self, rate: float, *, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep):
        self._interval = 1.0 / rate if rate > 0 else 0.0
        self._next = 0.0
        self._lock = asyncio.Lock()
        self._sleep = sleep

    async def wait(self) -> None:
        async with self._lock:
            loop = asyncio.get_running_loop()
            now = loop.time()
            start = max(now, self._next)
            self._next = start + self._interval
        if start > now:
            await self._sleep(start - now)

    def pause(self, seconds: float) -> None:
        now = asyncio.get_running_loop().time()
        self._next = max(self._next, now + seconds)


class StartMarks:
    """Records that posts are about to begin, durably, before they begin.

    A write per post would cost a commit per message (a third of a fan-out's speed on
    SQLite), so a post that needs its mark also marks the next ``ahead`` messages in line
    (claim order, which is the order the send gate lets them through), and posts that ask
    while a write is under way share the next one. After a crash the marked set is what was
    in flight plus at most ``ahead`` that were about to be: each looked up once, never missed.
    """

    def __init__(self, write: Callable[[list[int]], Awaitable[None]], *, ahead: int) -> None:
        self._write = write
        self._ahead = ahead
        self._line: deque[int] = deque()  # claimed, not yet at the post, in claim order
        self._written: dict[int, asyncio.Future[None]] = {}  # marked ahead: its write
        self._waiting: list[tuple[list[int], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    def queue(self, item_ids: Iterable[int]) -> None:
        self._line.extend(item_ids)

    def reset(self) -> None:
        self._line.clear()
        self._written.clear()

    async def mark(self, item_id: int) -> None:
        written = self._written.pop(item_id, None)
        if written is None:
            with contextlib.suppress(ValueError):
                self._line.remove(item_id)
            ahead = [self._line.popleft() for _ in range(min(self._ahead, len(self._line)))]
            written = asyncio.get_running_loop().create_future()
            self._waiting.append(([item_id, *ahead], written))
            self._written.update(dict.fromkeys(ahead, written))
            if self._writer is None or self._writer.done():
                self._writer = asyncio.ensure_future(self._write_all())
        await asyncio.shield(written)

    async def _write_all(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                await self._write([item_id for ids, _ in batch for item_id in ids])
            except Exception as exc:
                for _, done in batch:
                    done.set_exception(exc)
                    done.exception()  # read here: an ahead mark may never be awaited
                continue
            for _, done in batch:
                done.set_result(None)


@dataclass(frozen=True, slots=True)
class Renderers:
    """How the outbox turns a stored payload back into a view at send time."""

    poll: Callable[[WorkspaceInfo, int, int], Awaitable[PollView | None]]
    report: Callable[[WorkspaceInfo, int], Awaitable[ReportView | None]]


class Outbox:
    def __init__(
        self,
        *,
        store: Store,
        ports: Mapping[str, ChatPort],
        clock: Callable[[], datetime],
        renderers: Renderers,
        concurrency: int = 8,
        rate: float = 0.0,
        lease: timedelta = LEASE,
    ) -> None:
        self._store = store
        self._ports = ports
        self._clock = clock
        self._renderers = renderers
        self._concurrency = concurrency
        self._rate = rate
        # How long a claim may last before another worker assumes its holder died.
        self._lease = lease
        self._limiters: dict[str, RateLimiter] = {}
        self.worker = f"w-{uuid.uuid4().hex[:12]}"
        self._wake = asyncio.Event()
        self._reports: dict[int, ReportView | None] = {}
        self._workspaces: dict[int, WorkspaceInfo] = {}
        self._starts = StartMarks(self._mark_started, ahead=max(concurrency - 1, 0))

    def wake(self) -> None:
        """New messages were queued: do not wait for the next poll interval."""
        self._wake.set()

    async def run(self, *, idle_seconds: float = 1.0) -> None:
        """Deliver forever (until cancelled)."""
        while True:
            try:
                busy = await self.drain_once()
            except Exception:
                log.exception("outbox round failed; trying again")
                busy = False
            if not busy:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), idle_seconds)

    async def drain(self) -> int:
        """Send everything that is due now; returns how many messages were handled."""
        total = 0
        while handled := await self.drain_once():
            total += handled
        return total

    async def drain_once(self, batch: int = 5000) -> int:
        """Send what is due, claiming more as sends finish, until nothing is due.

        Claims are refilled whenever half the window is free, so one slow send never holds
        back the next batch (a claim-then-wait-for-all loop idles at every batch's tail)."""
        window = max(self._concurrency * 4, 16)
        gate = asyncio.Semaphore(self._concurrency)
        running: set[asyncio.Task[None]] = set()
        handled = 0
        self._reports.clear()
        self._workspaces.clear()
        self._starts.reset()

        async def handle(item: OutboxItem, uncertain: bool) -> None:
            async with gate:
                await self._handle(item, uncertain=uncertain)

        in_flight: dict[asyncio.Task[None], int] = {}
        heartbeat = asyncio.ensure_future(self._renew_while(in_flight))
        try:
            while True:
                room = min(window - len(running), batch - handled)
                if room >= window // 2 or not running:
                    claimed = await self._claim(room) if room > 0 else []
                    handled += len(claimed)
                    self._starts.queue(item.id for item, _ in claimed)
                    for item, uncertain in claimed:
                        task = asyncio.ensure_future(handle(item, uncertain))
                        running.add(task)
                        in_flight[task] = item.id
                if not running:
                    return handled
                done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    in_flight.pop(task, None)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat

    async def _renew_while(self, in_flight: Mapping[asyncio.Task[None], int]) -> None:
        """Keep this worker's claims fresh, so nobody mistakes a slow send for a dead one."""
        while True:
            await asyncio.sleep(self._lease.total_seconds() / 3)
            try:
                await self._store.renew_claims(
                    list(in_flight.values()), worker=self.worker, at=self._clock()
                )
            except Exception:
                log.exception("renewing outbox claims failed")

    async def _claim(self, limit: int) -> list[tuple[OutboxItem, bool]]:
        now = self._clock()
        stale = await self._store.reclaim_stale(
            now, lease=self._lease, worker=self.worker, limit=limit
        )
        fresh = await self._store.claim_outbox(now, worker=self.worker, limit=limit - len(stale))
        # A dead worker's claim is uncertain only if its post had begun; the rest of its
        # claims were still waiting their turn and are simply sent.
        return [(item, item.send_started) for item in stale] + [(item, False) for item in fresh]

    async def _mark_started(self, item_ids: list[int]) -> None:
        await self._store.outbox_started(item_ids, at=self._clock())

    async def _about_to_post(self, item: OutboxItem, port: ChatPort) -> None:
        # Only a port that can look a message up later gains from knowing it was in flight.
        if isinstance(port, ConfirmsDelivery):
            try:
                await self._starts.mark(item.id)
            except Exception as exc:  # the database, not the message: try again later
                raise DeliveryError(f"could not record the send: {exc}", retryable=True) from exc

    async def _handle(self, item: OutboxItem, *, uncertain: bool) -> None:
        try:
            workspace = await self._workspace(item.workspace_id)
            port = self._ports.get(workspace.ref.platform)
            if port is None:
                raise DeliveryError(
                    f"no {workspace.ref.platform} adapter running", retryable=True, retry_after=30
                )
            message = await self._deliver(item, workspace, port, uncertain=uncertain)
        except DeliveryError as exc:
            await self._failed(item, exc)
            return
        except Exception as exc:  # a bug or a vanished row must not stop the other messages
            log.exception("outbox message %s failed", item.id)
            await self._failed(item, DeliveryError(str(exc), retryable=False))
            return
        if message is None:
            return
        try:
            await self._store.outbox_sent(
                item.id,
                conversation_id=message.conversation.conversation_id,
                message_id=message.message_id,
                at=self._clock(),
                poll_of=_poll_of(item),
            )
        except Exception:
            # Sent but not marked: the claim lapses and whoever reclaims it asks the platform
            # whether it arrived before sending again (see _deliver).
            log.exception("outbox message %s was sent but could not be marked", item.id)

    async def _workspace(self, workspace_id: int) -> WorkspaceInfo:
        # A fan-out names one workspace thousands of times: read it once per drain.
        known = self._workspaces.get(workspace_id)
        if known is None:
            known = self._workspaces[workspace_id] = await self._store.workspace_by_id(workspace_id)
        return known

    async def _deliver(
        self, item: OutboxItem, workspace: WorkspaceInfo, port: ChatPort, *, uncertain: bool
    ) -> MessageRef | None:
        conversation = await self._conversation(item, workspace, port)
        if uncertain and isinstance(port, ConfirmsDelivery):
            # The last worker died mid-send: did it get through before it died?
            found = await port.find_delivered(conversation, item.dedupe_key)
            if found is not None:
                return found
        limiter = self._limiter(port.platform)
        try:
            return await self._send(item, workspace, port, conversation, limiter)
        except DeliveryError as exc:
            if exc.retry_after:
                limiter.pause(exc.retry_after)
            raise

    def _limiter(self, platform: str) -> RateLimiter:
        if platform not in self._limiters:
            self._limiters[platform] = RateLimiter(self._rate)
        return self._limiters[platform]

    async def _conversation(
        self, item: OutboxItem, workspace: WorkspaceInfo, port: ChatPort
    ) -> ConversationRef:
        channel = item.payload.get("channel")
        if channel:
            return ConversationRef(workspace.ref, str(channel), ConversationKind.CHANNEL)
        return await port.open_dm(UserRef(workspace.ref, str(item.payload["user_id"])))

    async def _send(
        self,
        item: OutboxItem,
        workspace: WorkspaceInfo,
        port: ChatPort,
        conversation: ConversationRef,
        limiter: RateLimiter,
    ) -> MessageRef | None:
        key = item.dedupe_key
        # Each branch renders first and takes its pacing slot last, right before the post,
        # so posts leave evenly spaced however long rendering took.
        if item.kind is OutboxKind.TEXT:
            await limiter.wait()
            await self._about_to_post(item, port)
            return await port.post_text(conversation, str(item.payload["text"]), key=key)
        if item.kind is OutboxKind.POLL:
            poll = await self._renderers.poll(
                workspace, int(item.payload["round_id"]), int(item.payload["person_id"])
            )
            if poll is None:
                raise DeliveryError("the round or person no longer exists", retryable=False)
            await limiter.wait()
            await self._about_to_post(item, port)
            return await port.send_poll(conversation, poll, key=key)
        report = await self._report(workspace, int(item.payload["round_id"]))
        if report is None:
            raise DeliveryError("the round no longer exists", retryable=False)
        await limiter.wait()
        await self._about_to_post(item, port)
        return await port.post_report(conversation, report, key=key)

    async def _report(self, workspace: WorkspaceInfo, round_id: int) -> ReportView | None:
        # A round's report goes to several channels in one batch: build it once.
        if round_id not in self._reports:
            self._reports[round_id] = await self._renderers.report(workspace, round_id)
        return self._reports[round_id]

    async def _failed(self, item: OutboxItem, exc: DeliveryError) -> None:
        attempts = item.attempts + 1
        if not exc.retryable or attempts >= MAX_ATTEMPTS:
            log.warning("outbox message %s gave up: %s", item.id, exc)
            await self._store.outbox_failed(item.id, error=str(exc))
            return
        wait = exc.retry_after if exc.retry_after is not None else min(60.0, 2.0**attempts)
        await self._store.outbox_retry(
            item.id, not_before=self._clock() + timedelta(seconds=wait), error=str(exc)
        )


def _poll_of(item: OutboxItem) -> tuple[int, int] | None:
    """(round, person) of a poll, whose invitation records where the poll went."""
    if item.kind is not OutboxKind.POLL:
        return None
    return int(item.payload["round_id"]), int(item.payload["person_id"])
