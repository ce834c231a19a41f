"""Schedules that run themselves.

Our ``schedules`` table is the source of truth. APScheduler (3.11, asyncio, memory job store)
only wakes us at the right instants: its jobs are rebuilt from the table at start and whenever
the table changes. Every decision is made by ``run_due`` against the database, and each step
is idempotent there (one round per schedule and fire time, one reminder and one report per
round), so a missed wake-up, a restart or a second replica can never skip or double a round.

With several replicas only the holder of the leader lock (a PostgreSQL advisory lock) runs
the schedule; the others take over within one tick when it dies.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.model.records import ScheduleInfo
from bot.model.store import Store
from bot.rounds.mirror import MirrorService
from bot.rounds.schedule_spec import CronSpec, make_trigger, next_fire_times, parse_when
from bot.rounds.service import RoundService

log = logging.getLogger(__name__)

BATCH = 16


class SchedulerCore(Protocol):
    """What the scheduler uses of the core (which sits above it and wires it up)."""

    @property
    def store(self) -> Store: ...

    @property
    def rounds(self) -> RoundService: ...

    @property
    def mirror(self) -> MirrorService: ...

    @property
    def clock(self) -> Callable[[], datetime]: ...

    def spawn(self, work: Coroutine[Any, Any, None]) -> None: ...


class LeaderLock(Protocol):
    async def acquire(self) -> bool:
        """Take the lock if free, or confirm we still hold it; False if another holds it."""
        ...

    async def release(self) -> None: ...


class SingleProcessLock:
    """SQLite deployments run one process, which always leads."""

    async def acquire(self) -> bool:
        return True

    async def release(self) -> None:
        return None


@dataclass(frozen=True, slots=True)
class TickResult:
    opened: int = 0
    reminded: int = 0
    closed: int = 0
    reported: int = 0
    mirrors_closed: int = 0


class Scheduler:
    def __init__(
        self,
        *,
        core: SchedulerCore,
        lock: LeaderLock,
        tick_seconds: float = 15.0,
        missed_run_grace: timedelta | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._core = core
        self._lock = lock
        self._tick_seconds = tick_seconds
        self._grace = missed_run_grace
        self._clock = clock or core.clock
        self._aps: AsyncIOScheduler | None = None
        self._fingerprint: tuple[Any, ...] | None = None
        self.is_leader = False
        self._busy = asyncio.Lock()

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self._aps = AsyncIOScheduler(timezone=UTC)
        self._aps.add_job(
            self.tick,
            "interval",
            seconds=self._tick_seconds,
            id="tick",
            replace_existing=True,
            max_instances=1,
            coalesce=True,
        )
        self._aps.start()
        await self.tick()

    async def stop(self) -> None:
        if self._aps is not None:
            self._aps.shutdown(wait=False)
            self._aps = None
        if self.is_leader:
            await self._lock.release()
            self.is_leader = False

    @property
    def role(self) -> str:
        return "leader" if self.is_leader else "standby"

    def job_ids(self) -> list[str]:
        return sorted(job.id for job in self._aps.get_jobs()) if self._aps else []

    def next_run(self, schedule_id: int) -> datetime | None:
        job = self._aps.get_job(_job_id(schedule_id)) if self._aps else None
        return None if job is None else job.next_run_time

    # -- the work -------------------------------------------------------------------------

    async def tick(self) -> TickResult:
        """Lead if we can, keep the jobs in step with the table, and do what is due."""
        try:
            self.is_leader = await self._lock.acquire()
        except Exception:
            log.exception("leader lock check failed")
            self.is_leader = False
        if not self.is_leader:
            self._clear_schedule_jobs()
            return TickResult()
        await self._sync_jobs()
        return await self.run_due(self._clock())

    async def run_due(self, now: datetime) -> TickResult:
        async with self._busy:  # an APScheduler wake-up and the tick may coincide
            opened = 0
            for schedule in await self._core.store.list_schedules():
                if not schedule.paused:
                    opened += await self._open_if_due(schedule, now)
            reminded = await self._remind(now)
            closed = await self._close(now)
            await self._queue_leftovers(now)
            reported = await self._report_leftovers()
            mirrors = await self._core.mirror.close_due(now)
            return TickResult(opened, reminded, closed, reported, mirrors)

    async def _open_if_due(self, schedule: ScheduleInfo, now: datetime) -> int:
        fire_time = self._latest_due(schedule, now)
        if fire_time is None:
            return 0
        if await self._core.store.round_for_fire_time(schedule.id, fire_time) is not None:
            return 0
        workspace = await self._core.store.workspace_by_id(schedule.workspace_id)
        try:
            opened = await self._core.rounds.open(
                workspace,
                audience=schedule.audience,
                window=timedelta(seconds=schedule.window_seconds),
                actor=f"schedule:{schedule.id}",
                report_channels=schedule.report_channels,
                schedule_id=schedule.id,
                fire_time=fire_time,
                remind_before=(
                    timedelta(seconds=schedule.remind_before_seconds)
                    if schedule.remind_before_seconds
                    else None
                ),
            )
        except ValueError as exc:  # e.g. an audience that is empty now: try next time
            log.warning("schedule %s could not open a round: %s", schedule.id, exc)
            return 0
        if opened is None:  # another replica won the race for this fire time
            return 0
        await self._core.rounds.queue_polls(workspace, opened.round)
        log.info("schedule %s opened %s", schedule.id, opened.round.label)
        return 1

    def _latest_due(self, schedule: ScheduleInfo, now: datetime) -> datetime | None:
        """The newest fire time in (now − grace, now]: a run missed while the bot was down is
        still opened while it is inside its answer window, and only the newest one."""
        grace = self._grace or timedelta(seconds=schedule.window_seconds)
        spec = parse_when(schedule.when_expr)
        latest = None
        # Look back a little first: a frequent schedule has its newest run close to now, and
        # walking every run of a long grace period would be slow.
        for span in (timedelta(minutes=5), timedelta(hours=6), timedelta(days=8), grace):
            latest = _latest_between(spec, schedule.time_zone, now - min(span, grace), now)
            if latest is not None or span >= grace:
                break
        if latest is None or latest < schedule.created_at:
            return None  # a run from before the schedule existed is not a missed run
        return latest.astimezone(UTC)

    async def _remind(self, now: datetime) -> int:
        count = 0
        for due in await self._core.store.rounds_to_remind(now):
            workspace = await self._core.store.workspace_by_id(due.workspace_id)
            await self._core.rounds.remind(workspace, due.round)
            count += 1
        return count

    async def _close(self, now: datetime) -> int:
        count = 0
        for due in await self._core.store.rounds_past_deadline(now):
            workspace = await self._core.store.workspace_by_id(due.workspace_id)
            count += 1 if await self._core.rounds.close(workspace, due.round) else 0
        return count

    async def _queue_leftovers(self, now: datetime) -> None:
        """Open rounds whose polls were not all queued (a crash right after opening). A
        minute's grace leaves a round that is being opened right now to its opener; were
        both to queue, the outbox's dedupe keys would keep each poll single anyway."""
        for due in await self._core.store.rounds_to_queue(now - timedelta(minutes=1)):
            workspace = await self._core.store.workspace_by_id(due.workspace_id)
            await self._core.rounds.queue_polls(workspace, due.round)

    async def _report_leftovers(self) -> int:
        """Closed rounds whose report was never queued (a crash right after closing)."""
        count = 0
        for due in await self._core.store.rounds_to_report():
            workspace = await self._core.store.workspace_by_id(due.workspace_id)
            await self._core.rounds.queue_results(workspace, due.round)
            count += 1
        return count

    # -- APScheduler jobs -----------------------------------------------------------------

    async def _sync_jobs(self) -> None:
        schedules = await self._core.store.list_schedules()
        fingerprint = tuple((s.id, s.when_expr, s.time_zone, s.paused) for s in schedules)
        if fingerprint == self._fingerprint or self._aps is None:
            return
        self._clear_schedule_jobs()
        self._fingerprint = fingerprint
        for schedule in schedules:
            if schedule.paused:
                continue
            trigger = make_trigger(parse_when(schedule.when_expr), schedule.time_zone)
            self._aps.add_job(
                self._wake,
                trigger,
                id=_job_id(schedule.id),
                replace_existing=True,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=None,  # run_due decides what a late wake-up may still do
            )
        log.info("scheduler jobs rebuilt: %d schedules", len(schedules))

    def _clear_schedule_jobs(self) -> None:
        if self._aps is None:
            return
        for job in self._aps.get_jobs():
            if job.id != "tick":
                job.remove()
        self._fingerprint = None

    async def _wake(self) -> None:
        if self.is_leader:
            await self.run_due(self._clock())

    def changed(self) -> None:
        """A command changed the schedules: rebuild the jobs now, not at the next tick."""
        self._fingerprint = None
        if self._aps is not None:
            self._core.spawn(self._tick_quietly())

    async def _tick_quietly(self) -> None:
        await self.tick()


def _latest_between(spec: CronSpec, zone: str, start: datetime, end: datetime) -> datetime | None:
    latest = None
    after = start
    while True:
        batch = next_fire_times(spec, zone, after=after, count=BATCH)
        due = [fire for fire in batch if fire <= end]
        if due:
            latest = due[-1]
        if len(due) < len(batch) or not batch:
            return latest
        after = batch[-1]


def _job_id(schedule_id: int) -> str:
    return f"schedule-{schedule_id}"
