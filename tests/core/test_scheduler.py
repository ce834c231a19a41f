"""Schedules that run themselves, driven by a controllable clock.

`Scheduler.run_due(now)` is what every APScheduler wake-up and every tick calls; stepping
the clock through months and calling it shows what the bot does on its own."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.model.domain import ConversationRef
from bot.model.records import RoundState
from bot.rounds.scheduler import Scheduler, SingleProcessLock
from tests.core.conftest import World

BERLIN = ZoneInfo("Europe/Berlin")
PEOPLE = [f"p{i}" for i in range(6)]


def steps(start: datetime, end: datetime, every: timedelta) -> Iterator[datetime]:
    now = start
    while now <= end:
        yield now
        now += every


async def _setup(world: World, schedule: str) -> Scheduler:
    for person in PEOPLE:
        await world.session(person).join()
    out = await world.run("boss", f"/alignment schedule add {schedule}")
    assert "added" in out, out
    return Scheduler(core=world.app.core, lock=SingleProcessLock(), clock=world.clock)


async def _rounds(world: World) -> list[datetime]:
    workspace = await world.app.core.workspace(world.session("boss").user.workspace)
    rounds = await world.app.store.list_rounds(workspace.id, limit=1000)
    return sorted(r.opened_at for r in rounds)


async def _fire_times(world: World) -> list[datetime]:
    from sqlalchemy import select

    from storage import models as m

    async with world.app.store._sessions() as session:  # read-only check of stored instants
        rows = await session.scalars(select(m.Round.fire_time).order_by(m.Round.fire_time))
        return [t for t in rows if t is not None]


@pytest.mark.slow
async def test_weekly_berlin_schedule_across_both_dst_changes(world: World) -> None:
    # 2026: clocks go forward on 29 March and back on 25 October in Europe/Berlin.
    start = datetime(2026, 3, 9, 0, 0, tzinfo=UTC)
    world.clock.now = start
    scheduler = await _setup(world, "every monday 09:00 tz:Europe/Berlin window:3d")
    end = datetime(2026, 11, 10, tzinfo=UTC)
    for now in steps(start, end, timedelta(hours=8)):
        world.clock.now = now
        await scheduler.run_due(now)
    fired = await _fire_times(world)
    local = [t.astimezone(BERLIN) for t in fired]
    assert all(t.weekday() == 0 and (t.hour, t.minute) == (9, 0) for t in local), local
    weeks = {t.isocalendar()[:2] for t in local}
    mondays = sum(
        1 for d in range((end - start).days + 1) if (start + timedelta(days=d)).weekday() == 0
    )
    assert mondays == 36
    assert len(weeks) == len(local) == mondays  # one round every week, none skipped or doubled
    offsets = {t.date().isoformat(): t.utcoffset() for t in local}
    assert offsets["2026-03-23"] == timedelta(hours=1)
    assert offsets["2026-03-30"] == timedelta(hours=2)
    assert offsets["2026-10-19"] == timedelta(hours=2)
    assert offsets["2026-10-26"] == timedelta(hours=1)


async def test_reminder_close_report_and_feedback_at_the_right_instants(world: World) -> None:
    world.clock.now = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)  # a Monday, 08:00 in Berlin
    scheduler = await _setup(
        world, "every monday 09:00 tz:Europe/Berlin window:3d remind:24h report:#leaders"
    )
    opens = datetime(2026, 6, 1, 7, 0, tzinfo=UTC)
    world.clock.now = opens - timedelta(minutes=1)
    assert (await scheduler.run_due(world.clock.now)).opened == 0
    world.clock.now = opens
    assert (await scheduler.run_due(world.clock.now)).opened == 1
    await world.app.core.idle()
    for person in PEOPLE[:3]:
        session = world.session(person)
        assert "Round 1" in await session.unread()
        assert "recorded" in await session.handle_line(f"answer 1 1 2 {3 + PEOPLE.index(person)}")

    remind_at = opens + timedelta(days=2)  # 24 h before the 3-day deadline
    world.clock.now = remind_at - timedelta(minutes=1)
    assert (await scheduler.run_due(world.clock.now)).reminded == 0
    world.clock.now = remind_at
    assert (await scheduler.run_due(world.clock.now)).reminded == 1
    assert (await scheduler.run_due(world.clock.now)).reminded == 0  # once only
    await world.app.core.idle()
    for person in PEOPLE:
        got = await world.session(person).unread(show_all=True)
        assert ("Reminder:" in got) == (person in PEOPLE[3:]), (person, got)

    deadline = opens + timedelta(days=3)
    world.clock.now = deadline - timedelta(seconds=1)
    assert (await scheduler.run_due(world.clock.now)).closed == 0
    world.clock.now = deadline
    late = await world.session(PEOPLE[4]).handle_line("answer 1 1 2 3")
    assert "closed" in late  # answers at the deadline are refused
    result = await scheduler.run_due(world.clock.now)
    assert result.closed == 1
    await world.app.core.idle()
    feedback = await world.session(PEOPLE[0]).unread(show_all=True)
    assert "Thank you for taking part." in feedback
    assert "3 of" not in feedback  # 3 answers is below the minimum group: no count shown
    leaders = ConversationRef(world.session("boss").user.workspace, "leaders")
    reports = await world.port.inbox(leaders)
    assert len(reports) == 1  # posted once, to the schedule's report channel
    assert "Too few answers" in reports[0].text  # 3 answers: below the minimum of 5
    assert (await scheduler.run_due(world.clock.now)).closed == 0


async def test_pause_resume_and_remove(world: World) -> None:
    world.clock.now = datetime(2026, 6, 1, 0, 0, tzinfo=UTC)
    scheduler = await _setup(world, "every day 09:00 tz:UTC window:2h")
    day = timedelta(days=1)
    nine = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
    assert (await scheduler.run_due(nine)).opened == 1
    assert "paused" in await world.run("boss", "/alignment schedule pause 1")
    assert (await scheduler.run_due(nine + day)).opened == 0
    assert "resumed" in await world.run("boss", "/alignment schedule resume 1")
    assert (await scheduler.run_due(nine + 2 * day)).opened == 1
    assert "removed" in await world.run("boss", "/alignment schedule remove 1")
    assert (await scheduler.run_due(nine + 3 * day)).opened == 0
    assert len(await _rounds(world)) == 2


async def test_a_run_missed_while_down_opens_once_inside_its_window(world: World) -> None:
    world.clock.now = datetime(2026, 6, 1, 0, 0, tzinfo=UTC)
    scheduler = await _setup(world, "every day 09:00 tz:UTC window:6h")
    nine = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
    # Down from 08:00 to 13:00: the 09:00 run is opened at start, once.
    assert (await scheduler.run_due(nine + timedelta(hours=4))).opened == 1
    assert (await scheduler.run_due(nine + timedelta(hours=4, minutes=1))).opened == 0
    # Down for the whole next window: that run is not opened late.
    assert (await scheduler.run_due(nine + timedelta(days=1, hours=7))).opened == 0
    assert len(await _rounds(world)) == 1


async def test_apscheduler_jobs_follow_the_table(world: World) -> None:
    world.clock.now = datetime.now(UTC)
    scheduler = await _setup(world, "every monday 09:00 tz:Europe/Berlin")
    world.app.core.schedules_changed = scheduler.changed
    await scheduler.start()
    try:
        assert scheduler.role == "leader"
        assert scheduler.job_ids() == ["schedule-1", "tick"]
        next_run = scheduler.next_run(1)
        assert next_run is not None
        local = next_run.astimezone(BERLIN)
        assert (local.weekday(), local.hour, local.minute) == (0, 9, 0)
        await world.run("boss", "/alignment schedule pause 1")
        await world.app.core.idle()
        assert scheduler.job_ids() == ["tick"]
        await world.run("boss", "/alignment schedule add every day 07:30 tz:UTC")
        await world.run("boss", "/alignment schedule resume 1")
        await world.app.core.idle()
        assert scheduler.job_ids() == ["schedule-1", "schedule-2", "tick"]
    finally:
        await scheduler.stop()


async def test_rounds_do_not_stay_open_when_nobody_runs_poll_close(world: World) -> None:
    scheduler = Scheduler(core=world.app.core, lock=SingleProcessLock(), clock=world.clock)
    for person in PEOPLE:
        await world.session(person).join()
    assert "is open" in await world.run("boss", "/alignment poll now window:2h")
    world.clock.advance(timedelta(hours=2))
    assert (await scheduler.run_due(world.clock.now)).closed == 1
    workspace = await world.app.core.workspace(world.session("boss").user.workspace)
    (only,) = await world.app.store.list_rounds(workspace.id)
    assert only.state is RoundState.CLOSED


async def test_a_new_schedule_does_not_open_a_run_from_before_it_existed(world: World) -> None:
    # Added at 10:00 with a 6-hour window: today's 09:00 run is not "missed", it never was.
    world.clock.now = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
    scheduler = await _setup(world, "every day 09:00 tz:UTC window:6h")
    assert (await scheduler.run_due(world.clock.now)).opened == 0
    assert (await scheduler.run_due(datetime(2026, 6, 2, 9, 0, tzinfo=UTC))).opened == 1


async def test_polls_of_a_round_opened_just_before_a_crash_are_still_sent(world: World) -> None:
    """The round's commit landed, the crash came before its polls were queued: the next
    tick (a minute's grace later) queues them, once; a round opened normally is left alone."""
    for person in PEOPLE:
        await world.session(person).join()
    core = world.app.core
    workspace = await core.workspace(world.session("boss").user.workspace)
    opened = await core.rounds.open(
        workspace, audience="everyone", window=timedelta(hours=2), actor="boss"
    )
    assert opened is not None  # ...and here the process died: nothing queued
    assert (await world.app.store.outbox_counts()).get("pending", 0) == 0
    scheduler = Scheduler(core=core, lock=SingleProcessLock(), clock=world.clock)
    await scheduler.run_due(world.clock())  # within the grace: the opener may be queueing
    assert (await world.app.store.outbox_counts()).get("pending", 0) == 0
    world.clock.advance(timedelta(minutes=2))
    await scheduler.run_due(world.clock())
    await core.idle()
    for person in PEOPLE:
        inbox = await world.session(person).handle_line("inbox")
        assert inbox.count("Round 1: Which") == 1, (person, inbox)
    await scheduler.run_due(world.clock())
    await core.idle()
    assert await world.app.store.rounds_to_queue(world.clock()) == []
    assert sum((await world.app.store.outbox_counts()).values()) == len(PEOPLE)
    # A round opened through the command queues and marks its polls itself.
    await world.run("boss", "/alignment poll close")
    await world.run("boss", "/alignment poll now window:2h")
    assert await world.app.store.rounds_to_queue(world.clock() + timedelta(hours=1)) == []
