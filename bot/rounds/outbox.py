"""The persistent outbox: every poll, reminder, report and feedback message is a row first.

Life of a message: ``pending`` → claimed (``sending``) by one worker → ``sent`` with the
platform's message id, or back to ``pending`` after a retryable failure, or ``failed``.
A worker killed mid-send leaves its claim; after a lease the next worker takes the claim over
and, where the platform can tell (``ConfirmsDelivery``), first asks whether the message
already arrived, so a crash neither loses nor doubles it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import math
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from bot.model.domain import ConversationKind, ConversationRef, MessageRef, UserRef
from bot.model.ports import ChatPort, DeliveryError
from bot.model.records import OutboxItem, OutboxKind, SentMessage, WorkspaceInfo
from bot.model.store import Store
from bot.model.views import PollView, ReportView

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=30)
MAX_ATTEMPTS = 8
# Sent messages are marked in one transaction per this many seconds, not one per message;
# one sent but not yet marked when the process dies is one the platform is asked about.
MARK_EVERY_SECONDS = 0.1
# Most messages one claim takes (across workspaces; each workspace is also capped by its
# window): it bounds one claim query, not how many a drain sends.
CLAIM_LIMIT = 5000


@runtime_checkable
class ConfirmsDelivery(Protocol):
    """A port that can tell whether a message with our key already reached a conversation."""

    async def find_delivered(
        self, conversation: ConversationRef, key: str
    ) -> MessageRef | None: ...


class RateLimiter:
    """At most ``rate`` sends a second for one (platform, workspace), and a pause after a 429.

    Pacing below the platform's limit is what keeps a large fan-out near the floor the limit
    allows: hitting 429s costs a Retry-After each time.
    """

    def __init__(self, rate: float, *, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep):
        self._interval = 1.0 / rate if rate > 0 else 0.0
        self._next = 0.0
        self._paused_until = 0.0
        self._sleep = sleep
        # When the sends of the last second left, at most ``rate`` of them (see ``wait``).
        self._per_second = max(1, math.floor(rate)) if rate > 0 else 0
        self._left: deque[float] = deque(maxlen=max(self._per_second, 1))

    async def wait(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            # Taking the slot and moving ``_next`` on happen without a yield in between, so
            # concurrent waiters get distinct slots without a lock.
            now = loop.time()
            start = max(now, self._next)
            self._next = start + self._interval
            if start > now:
                await self._sleep(start - now)
            while loop.time() < (free := self._second_free_at()):
                await self._sleep(free - loop.time())  # keeps its slot: see _second_free_at
            if loop.time() >= self._paused_until:
                self._left.append(loop.time())
                return
            # A 429 came while this send waited for its slot: queue again behind the pause.

    def _second_free_at(self) -> float:
        """When one more send may leave without ``rate`` sends in the second before it,
        counted by when they really left. Slots are evenly spaced, but when the process
        stalls (a busy event loop, a slow claim), every send whose slot passed meanwhile
        leaves at once when it resumes, and a platform counting in a sliding window (Slack,
        our fake) sees more than the rate in that second: a 429 and a Retry-After, a second
        or more lost."""
        if not self._per_second or len(self._left) < self._per_second:
            return 0.0
        return self._left[0] + 1.0

    def pause(self, seconds: float) -> None:
        now = asyncio.get_running_loop().time()
        self._paused_until = max(self._paused_until, now + seconds)
        self._next = max(self._next, self._paused_until)


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
    # A claimed batch's polls of one round at once (person id -> view); without it, each
    # poll is rendered alone.
    polls: (
        Callable[[WorkspaceInfo, int, Sequence[int]], Awaitable[Mapping[int, PollView]]] | None
    ) = None


class Outbox:
    """Claims due messages, workspaces taking turns, and sends them paced per workspace.

    Each (platform, workspace) has its own pace and its own pause after a 429, and its own
    window of claimed messages, so a large fan-out in one workspace neither delays nor
    crowds out a small one in another: workspaces share no send slot and no pace (_Lane)."""

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
        tick_seconds: float = 1.0,
    ) -> None:
        self._store = store
        self._ports = ports
        self._clock = clock
        self._renderers = renderers
        self._concurrency = concurrency
        self._rate = rate
        # Messages one workspace may have claimed at once: enough for the sends in flight
        # and for half a second of its pace, so refills come in batches, not one by one.
        self._window = max(concurrency * 4, 16, math.ceil(rate / 2))
        # How long a claim may last before another worker assumes its holder died.
        self._lease = lease
        # While sending, look for newly due messages at least this often (retries coming
        # due, messages queued by another process).
        self._tick = tick_seconds
        self._lanes: dict[tuple[str, int], _Lane] = {}
        self.worker = f"w-{uuid.uuid4().hex[:12]}"
        self._wake = asyncio.Event()
        self._reports: dict[int, ReportView | None] = {}
        # Polls rendered for a claimed batch, by (round, person), taken when each is sent.
        self._polls: dict[tuple[int, int], PollView] = {}
        self._workspaces: dict[int, WorkspaceInfo] = {}
        self._news: asyncio.Queue[OutboxItem | None] | None = None
        self._starts = StartMarks(self._mark_started, ahead=max(concurrency - 1, 0))

    def wake(self) -> None:
        """New messages were queued: do not wait for the next poll interval."""
        self._wake.set()
        if self._news is not None:  # a drain is sending: it claims them at once
            self._news.put_nowait(None)

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

    async def drain_once(self, refresh_every: int = 5000) -> int:
        """Send what is due, claiming more as sends finish, until nothing is due.

        A workspace's window is refilled once half of it is free (a claim-then-wait-for-all
        loop idles at every batch's tail; a claim per finished send costs a query each).
        The sending never stops to start over: ending a drain after N messages made the
        pipeline run dry while its slowest send (one waiting out a 429's Retry-After) ended,
        a second lost in every workspace (bench/fanout.py --workspaces). Instead the
        workspaces and reports read once per drain are read again every ``refresh_every``
        messages, so a long fan-out does not go on with what it read at its start."""
        window = _Window(self._window)
        handled = 0
        refresh_at = refresh_every
        self._polls.clear()
        self._forget_reads()
        # Finished sends report here, and so do wake() and the tick (None: look for more).
        news: asyncio.Queue[OutboxItem | None] = asyncio.Queue()
        self._news = news
        marks = _Marks()
        marker = asyncio.ensure_future(self._mark_while(marks))
        helpers = [
            asyncio.ensure_future(self._renew_while(window)),
            asyncio.ensure_future(self._tick_while(news)),
        ]
        try:
            claim_now = True
            while True:
                if claim_now:
                    handled += await self._refill(window, news, marks)
                if handled >= refresh_at:
                    self._forget_reads()
                    refresh_at = handled + refresh_every
                if not window.running:
                    return handled
                first = await news.get()
                finished = [first, *(news.get_nowait() for _ in range(news.qsize()))]
                claim_now = window.finished(finished) or None in finished
        finally:
            self._news = None
            for helper in helpers:
                helper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await helper
            # Not cancelled: a mark cut off mid-write would leave sent messages unmarked.
            marks.close()
            await marker

    def _forget_reads(self) -> None:
        """Read workspaces and reports afresh from here on, and start the start marks' line
        anew: it would otherwise keep the claims whose port never asks for a mark, and a
        message marked ahead and not yet posted just marks itself again."""
        self._reports.clear()
        self._workspaces.clear()
        self._starts.reset()

    async def _refill(
        self, window: _Window, news: asyncio.Queue[OutboxItem | None], marks: _Marks
    ) -> int:
        claimed = await self._claim(CLAIM_LIMIT, per_workspace=window.refill, skip=window.full())
        await self._render_polls([item for item, _ in claimed])
        window.claimed([item for item, _ in claimed])
        self._starts.queue(item.id for item, _ in claimed)
        for item, uncertain in claimed:
            window.start(item)
            task = asyncio.ensure_future(self._handle(item, marks, uncertain=uncertain))
            task.add_done_callback(lambda _, item=item: news.put_nowait(item))  # type: ignore[misc]
        return len(claimed)

    async def _render_polls(self, items: list[OutboxItem]) -> None:
        """Render the batch's polls with one read per round of who already answered.

        A poll is sent within the window's half second of pace after this read; an answer
        given in between (before the person has the poll) is shown when they open it."""
        if self._renderers.polls is None:
            return
        people: dict[tuple[int, int], list[int]] = collections.defaultdict(list)
        for item in items:
            if item.kind is OutboxKind.POLL:
                round_id, person_id = int(item.payload["round_id"]), int(item.payload["person_id"])
                people[(item.workspace_id, round_id)].append(person_id)
        for (workspace_id, round_id), person_ids in people.items():
            try:
                workspace = await self._workspace(workspace_id)
                views = await self._renderers.polls(workspace, round_id, person_ids)
            except Exception:  # each poll is then rendered alone when it is sent
                log.exception("rendering a batch of polls failed")
                continue
            self._polls.update(((round_id, person), view) for person, view in views.items())

    async def _mark_while(self, marks: _Marks) -> None:
        """Mark sent messages in batches until the drain ends and every mark is written."""
        while True:
            await marks.ready()
            if not marks.closed:
                await asyncio.sleep(MARK_EVERY_SECONDS)  # let more sends finish first
            batch = marks.take()
            try:
                await self._store.outbox_sent_many(batch)
            except Exception:
                # Sent but not marked: the claims lapse and whoever reclaims them asks the
                # platform whether they arrived before sending again (see _deliver).
                log.exception("%d outbox messages were sent but could not be marked", len(batch))
            if marks.closed and not marks.pending:
                return

    async def _tick_while(self, news: asyncio.Queue[OutboxItem | None]) -> None:
        """Look for newly due messages now and then: retries coming due, messages queued by
        another process."""
        while True:
            await asyncio.sleep(self._tick)
            news.put_nowait(None)

    async def _renew_while(self, window: _Window) -> None:
        """Keep this worker's claims fresh, so nobody mistakes a slow send for a dead one."""
        while True:
            await asyncio.sleep(self._lease.total_seconds() / 3)
            try:
                await self._store.renew_claims(
                    window.item_ids(), worker=self.worker, at=self._clock()
                )
            except Exception:
                log.exception("renewing outbox claims failed")

    async def _claim(
        self, limit: int, *, per_workspace: int, skip: Collection[int]
    ) -> list[tuple[OutboxItem, bool]]:
        now = self._clock()
        stale = await self._store.reclaim_stale(
            now, lease=self._lease, worker=self.worker, limit=limit
        )
        fresh = await self._store.claim_outbox(
            now,
            worker=self.worker,
            limit=limit - len(stale),
            per_workspace=per_workspace,
            skip=skip,
        )
        # A dead worker's claim is uncertain only if its post had begun; the rest of its
        # claims were still waiting their turn and are simply sent.
        return [(item, item.send_started) for item in stale] + [(item, False) for item in fresh]

    async def _mark_started(self, item_ids: list[int]) -> None:
        await self._store.outbox_started(item_ids, at=self._clock())

    async def _about_to_post(self, item: OutboxItem, port: ChatPort) -> None:
        # Only a port that can look a message up later gains from knowing it was in flight.
        if _confirms_delivery(port):
            try:
                await self._starts.mark(item.id)
            except Exception as exc:  # the database, not the message: try again later
                raise DeliveryError(f"could not record the send: {exc}", retryable=True) from exc

    async def _handle(self, item: OutboxItem, marks: _Marks, *, uncertain: bool) -> None:
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
        if message is not None:
            marks.add(
                SentMessage(
                    item.id,
                    message.conversation.conversation_id,
                    message.message_id,
                    self._clock(),
                    _poll_of(item),
                )
            )

    async def _workspace(self, workspace_id: int) -> WorkspaceInfo:
        # A fan-out names one workspace thousands of times: read it once per drain.
        known = self._workspaces.get(workspace_id)
        if known is None:
            known = self._workspaces[workspace_id] = await self._store.workspace_by_id(workspace_id)
        return known

    async def _deliver(
        self,
        item: OutboxItem,
        workspace: WorkspaceInfo,
        port: ChatPort,
        *,
        uncertain: bool,
    ) -> MessageRef | None:
        conversation = await self._conversation(item, workspace, port)
        lane = self._lane(port.platform, workspace.id)
        if uncertain and isinstance(port, ConfirmsDelivery):  # rare: after a worker died
            # The last worker died mid-send: did it get through before it died?
            async with lane.gate:
                found = await port.find_delivered(conversation, item.dedupe_key)
            if found is not None:
                return found
        try:
            return await self._send(item, workspace, port, conversation, lane)
        except DeliveryError as exc:
            if exc.retry_after:
                lane.limiter.pause(exc.retry_after)
            raise

    def _lane(self, platform: str, workspace_id: int) -> _Lane:
        key = (platform, workspace_id)
        if key not in self._lanes:
            self._lanes[key] = _Lane(RateLimiter(self._rate), asyncio.Semaphore(self._concurrency))
        return self._lanes[key]

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
        lane: _Lane,
    ) -> MessageRef | None:
        key = item.dedupe_key
        # Each branch renders first and takes its turn last, right before the post, so posts
        # leave evenly spaced however long rendering took.
        if item.kind is OutboxKind.TEXT:
            async with lane:
                await self._about_to_post(item, port)
                return await port.post_text(conversation, str(item.payload["text"]), key=key)
        if item.kind is OutboxKind.POLL:
            round_id, person_id = int(item.payload["round_id"]), int(item.payload["person_id"])
            poll = self._polls.pop((round_id, person_id), None) or await self._renderers.poll(
                workspace, round_id, person_id
            )
            if poll is None:
                raise DeliveryError("the round or person no longer exists", retryable=False)
            async with lane:
                await self._about_to_post(item, port)
                return await port.send_poll(conversation, poll, key=key)
        report = await self._report(workspace, int(item.payload["round_id"]))
        if report is None:
            raise DeliveryError("the round no longer exists", retryable=False)
        async with lane:
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


_CONFIRMS: dict[type, bool] = {}


def _confirms_delivery(port: ChatPort) -> bool:
    """``isinstance(port, ConfirmsDelivery)``, once per port class: a check against a
    runtime-checkable protocol inspects the class each time, twice per message."""
    kind = type(port)
    if kind not in _CONFIRMS:
        _CONFIRMS[kind] = isinstance(port, ConfirmsDelivery)
    return _CONFIRMS[kind]


def _poll_of(item: OutboxItem) -> tuple[int, int] | None:
    """(round, person) of a poll, whose invitation records where the poll went."""
    if item.kind is not OutboxKind.POLL:
        return None
    return int(item.payload["round_id"]), int(item.payload["person_id"])


class _Lane:
    """One (platform, workspace)'s own pace and its own sends in flight.

    Nothing is shared between workspaces: a send takes one of its workspace's
    ``concurrency`` slots, then waits for its workspace's pace. A workspace whose sends are
    paced, paused after a 429, or stuck in the platform SDK's own wait for a Retry-After
    thus holds up no other workspace."""

    def __init__(self, limiter: RateLimiter, gate: asyncio.Semaphore) -> None:
        self.limiter = limiter
        self.gate = gate

    async def __aenter__(self) -> None:
        # The slot first, then the pace: a send that waited for a slot takes a fresh time
        # slot, so sends held up behind slow calls do not all leave at once and trip a 429.
        await self.gate.acquire()
        try:
            await self.limiter.wait()
        except BaseException:
            self.gate.release()
            raise

    async def __aexit__(self, *_: object) -> None:
        self.gate.release()


class _Marks:
    """Sent messages waiting for their mark, which _mark_while writes in batches."""

    def __init__(self) -> None:
        self.pending: list[SentMessage] = []
        self.closed = False
        self._ready = asyncio.Event()

    def add(self, sent: SentMessage) -> None:
        self.pending.append(sent)
        self._ready.set()

    def close(self) -> None:
        self.closed = True
        self._ready.set()

    async def ready(self) -> None:
        await self._ready.wait()

    def take(self) -> list[SentMessage]:
        batch, self.pending = self.pending, []
        self._ready.clear()
        return batch


class _Window:
    """The messages one drain has claimed and is sending, counted per workspace."""

    def __init__(self, size: int) -> None:
        self._half = size // 2
        # A refill tops a workspace up from at most half full to at most ``size``.
        self.refill = size - self._half
        self.running: dict[int, OutboxItem] = {}
        self._per_workspace: collections.Counter[int] = collections.Counter()
        # Workspaces whose last claim was cut short by ``refill``: they may have more due.
        self._more: set[int] = set()

    def full(self) -> set[int]:
        """Workspaces not to claim for now: more than half their window is in flight."""
        return {ws for ws, count in self._per_workspace.items() if count > self._half}

    def claimed(self, items: list[OutboxItem]) -> None:
        got = collections.Counter(item.workspace_id for item in items)
        skipped = self.full()
        self._more = (self._more & skipped) | {ws for ws, n in got.items() if n >= self.refill}

    def start(self, item: OutboxItem) -> None:
        self.running[item.id] = item
        self._per_workspace[item.workspace_id] += 1

    def finished(self, items: list[OutboxItem | None]) -> bool:
        """Forget finished sends; True when a workspace with more due has room again."""
        for item in items:
            if item is None:
                continue
            del self.running[item.id]
            self._per_workspace[item.workspace_id] -= 1
            if not self._per_workspace[item.workspace_id]:
                del self._per_workspace[item.workspace_id]
        return any(self._per_workspace[ws] <= self._half for ws in self._more)

    def item_ids(self) -> list[int]:
        return list(self.running)
