"""Tests for bot.rounds.schedule_spec: parsing, validation and DST-correct fire times."""

from __future__ import annotations

import itertools
import pickle
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger

from bot.rounds.schedule_spec import (
    WHEN_FORMS,
    CronSpec,
    ScheduleSpecError,
    format_duration,
    make_trigger,
    next_fire_times,
    parse_duration,
    parse_when,
    validate_timezone,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
CET, CEST = timedelta(hours=1), timedelta(hours=2)
EST, EDT = timedelta(hours=-5), timedelta(hours=-4)


def fires(when: str, tz: str, after: datetime, count: int) -> list[datetime]:
    return next_fire_times(parse_when(when), tz, after=after, count=count)


# --------------------------------------------------------------------------- parse_when

FRIENDLY = [
    ("every monday 09:00", "0 9 * * 1", "every Monday at 09:00"),
    ("Every MONDAY at 9:00", "0 9 * * 1", "every Monday at 09:00"),
    ("every weekday 9:30", "30 9 * * 1-5", "every weekday (Monday–Friday) at 09:30"),
    ("every day 08:00", "0 8 * * *", "every day at 08:00"),
    ("daily 8am", "0 8 * * *", "every day at 08:00"),
    ("every sunday 12pm", "0 12 * * 0", "every Sunday at 12:00"),
    ("every mon, thu 5:15 pm", "15 17 * * 1,4", "every Monday and Thursday at 17:15"),
    ("first monday of month 10:00", "0 10 * * 1#1", "on the first Monday of every month at 10:00"),
    (
        "third wed of the month 14:00",
        "0 14 * * 3#3",
        "on the third Wednesday of every month at 14:00",
    ),
    (
        "last friday of every month 16:00",
        "0 16 * * 5L",
        "on the last Friday of every month at 16:00",
    ),
    (
        "first weekday of month 10:00",
        "0 10 1W * *",
        "on the first weekday (Monday–Friday) of every month at 10:00",
    ),
    ("monthly on 15 10:00", "0 10 15 * *", "on day 15 of every month at 10:00"),
    ("every month on day 1 09:00", "0 9 1 * *", "on day 1 of every month at 09:00"),
    ("on the 15th of every month 10:00", "0 10 15 * *", "on day 15 of every month at 10:00"),
]


@pytest.mark.parametrize(("text", "expression", "description"), FRIENDLY)
def test_friendly_forms(text: str, expression: str, description: str) -> None:
    spec = parse_when(text)
    assert spec.expression == expression
    assert spec.describe() == description


CRON = [
    ("0 9 * * 1", "0 9 * * 1", "every Monday at 09:00"),
    ("0  9 * *   MON", "0 9 * * 1", "every Monday at 09:00"),
    ("0 9 * * 7", "0 9 * * 0", "every Sunday at 09:00"),  # 0 and 7 are both Sunday
    ("0 9 * * fri-sun", "0 9 * * 5-7", "every Friday, Saturday and Sunday at 09:00"),
    ("*/1 */1 * * *", "* * * * *", "every day every minute"),
    (
        "*/15 9-17 * * 1-5",
        "*/15 9-17 * * 1-5",
        "every weekday (Monday–Friday) at minute */15 of hour 9-17",
    ),
    ("0 9 1,15 * *", "0 9 1,15 * *", "on days 1,15 of every month at 09:00"),
    ("0 12 * JAN,jul sun", "0 12 * 1,7 0", "every Sunday in January and July at 12:00"),
    ("0 9 1 * 1", "0 9 1 * 1", "on day 1 of every month and every Monday at 09:00"),
    ("0 10 1w * *", "0 10 1W * *", None),
    ("0 10 * * mon#2", "0 10 * * 1#2", "on the second Monday of every month at 10:00"),
    ("0 0 29 2 *", "0 0 29 2 *", None),
]


@pytest.mark.parametrize(("text", "expression", "description"), CRON)
def test_cron_lines_are_canonicalised(text: str, expression: str, description: str | None) -> None:
    spec = parse_when(text)
    assert spec.expression == expression
    if description is not None:
        assert spec.describe() == description


@pytest.mark.parametrize("text", [row[0] for row in FRIENDLY + CRON])
def test_expression_round_trips(text: str) -> None:
    spec = parse_when(text)
    assert parse_when(spec.expression) == spec
    assert parse_when(spec.expression).expression == spec.expression


def test_friendly_and_cron_forms_are_the_same_spec() -> None:
    assert parse_when("every monday 09:00") == parse_when("0 9 * * 1")
    assert parse_when("every weekday 09:30") == parse_when("30 9 * * mon-fri")


def test_constructor_only_accepts_canonical_fields() -> None:
    assert CronSpec("0", "9", "*", "*", "1") == parse_when("every monday 09:00")
    with pytest.raises(ScheduleSpecError, match="canonical"):
        CronSpec("0", "9", "*", "*", "mon")
    with pytest.raises(ScheduleSpecError):
        CronSpec("0", "99", "*", "*", "1")


def test_unknown_weekday_suggests_the_right_one() -> None:
    with pytest.raises(ScheduleSpecError) as caught:
        parse_when("every mondy 09:00")
    assert "'mondy'" in caught.value.problem
    assert "Did you mean 'monday'?" in caught.value.problem
    assert caught.value.accepted == WHEN_FORMS
    assert "every monday 09:00" in str(caught.value)  # the message shows the accepted forms


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("every day 25:00", "'25:00' is not a valid time"),
        ("every day 09:60", "'09:60' is not a valid time"),
        ("every day 13pm", "with am/pm the hour is 1–12"),
        ("every monday", "must end with a time of day"),
        ("every monday 9", "must end with a time of day"),
        ("", "empty"),
        ("0 9 * *", "needs 5 fields .* got 4"),
        ("0 9 * * 1 2026", "needs 5 fields .* got 6"),
        ("60 9 * * 1", "'60' is not a valid minute"),
        ("0 24 * * 1", "'24' is not a valid hour"),
        ("0 9 0 * *", "'0' is not a valid day of month"),
        ("0 9 * 13 *", "'13' is not a valid month"),
        ("0 9 * * 8", "'8' is not a valid day of week"),
        ("0 9 * * 5-1", "must go from low to high"),
        ("0 9 5/2 * *", "a step needs a range"),
        ("*/0 9 * * *", "step must be at least 1"),
        ("0 9 15W * *", "only 1W"),
        ("0 9 1W * 1", "needs '\\*' as the day of week"),
        ("0 9 1 * 1#1", "needs '\\*' as the day of month"),
        ("0 0 30 2 *", "never happens in February"),
        ("monthly on 32 10:00", "Day 32 does not exist"),
        ("second weekday of month 10:00", "only the \\*first\\* weekday"),
        ("every 2 weeks on monday 09:00", "every N weeks is not supported"),
        ("every blursday 09:00", "I don't understand 'blursday'"),
        ("every 09:00", "I don't understand the schedule"),
    ],
)
def test_bad_schedules_say_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(ScheduleSpecError, match=problem) as caught:
        parse_when(text)
    assert isinstance(caught.value, ValueError)
    assert caught.value.accepted == WHEN_FORMS


# --------------------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3d", timedelta(days=3)),
        ("24h", timedelta(hours=24)),
        ("90m", timedelta(minutes=90)),
        ("1w", timedelta(weeks=1)),
        ("2d12h", timedelta(days=2, hours=12)),
        (" 1W 2D ", timedelta(days=9)),
        ("3 days", timedelta(days=3)),
        ("1h30min", timedelta(minutes=90)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("0d", "longer than zero"),
        ("0h0m", "longer than zero"),
        ("3", "not a duration"),
        ("", "not a duration"),
        ("-1d", "not a duration"),
        ("3x", "unknown or repeated unit 'x'"),
        ("1d1d", "unknown or repeated unit 'd'"),
        ("99999999999w", "too long"),
    ],
)
def test_bad_durations(text: str, problem: str) -> None:
    with pytest.raises(ScheduleSpecError, match=problem) as caught:
        parse_duration(text)
    assert "2d12h" in str(caught.value)  # shows the accepted forms


@pytest.mark.parametrize("text", ["3d", "24h", "90m", "1w", "2d12h", "1w1d1h1m"])
def test_format_duration_round_trips(text: str) -> None:
    assert parse_duration(format_duration(parse_duration(text))) == parse_duration(text)
    assert format_duration(timedelta(hours=36)) == "1d12h"


# --------------------------------------------------------------------------- time zones


def test_validate_timezone_accepts_any_letter_case() -> None:
    assert validate_timezone("Europe/Berlin") == BERLIN
    assert validate_timezone(" europe/berlin ") == BERLIN
    assert validate_timezone("america/new york").key == "America/New_York"
    assert validate_timezone("UTC").key == "UTC"


def test_unknown_timezone_suggests_close_names() -> None:
    with pytest.raises(ScheduleSpecError, match="Unknown time zone 'Europe/Berln'") as caught:
        validate_timezone("Europe/Berln")
    assert "Did you mean Europe/Berlin" in str(caught.value)
    with pytest.raises(ScheduleSpecError, match="Did you mean Europe/Berlin"):
        validate_timezone("Berlin")
    with pytest.raises(ScheduleSpecError, match="Unknown time zone 'Mars/Olympus'"):
        validate_timezone("Mars/Olympus")
    with pytest.raises(ScheduleSpecError, match="Unknown time zone"):
        validate_timezone("../../etc/passwd")


# --------------------------------------------------------------------------- fire times


def test_weekly_monday_berlin_across_both_dst_changes() -> None:
    # Clocks change on Sunday 2026-03-29 (+1 -> +2) and Sunday 2026-10-25 (+2 -> +1).
    runs = fires("every monday 09:00", "Europe/Berlin", datetime(2026, 3, 14, tzinfo=BERLIN), 34)
    assert runs[0].date() == date(2026, 3, 16)
    assert runs[-1].date() == date(2026, 11, 2)
    for earlier, later in itertools.pairwise(runs):
        assert later.date() - earlier.date() == timedelta(days=7)  # exactly one a week
    for run in runs:
        assert (run.weekday(), run.hour, run.minute) == (0, 9, 0)
        assert run.tzinfo == BERLIN
        summer = date(2026, 3, 29) < run.date() < date(2026, 10, 25)
        assert run.utcoffset() == (CEST if summer else CET)
    by_date = {run.date(): run.isoformat() for run in runs}
    assert by_date[date(2026, 3, 23)] == "2026-03-23T09:00:00+01:00"
    assert by_date[date(2026, 3, 30)] == "2026-03-30T09:00:00+02:00"
    assert by_date[date(2026, 10, 19)] == "2026-10-19T09:00:00+02:00"
    assert by_date[date(2026, 10, 26)] == "2026-10-26T09:00:00+01:00"


def test_daily_0230_on_spring_forward_day_runs_once_at_0330_cest() -> None:
    # 02:30 does not exist on 2026-03-29 in Berlin; it runs once, an hour "late" by the wall
    # clock at 03:30 CEST (= 01:30 UTC, the instant APScheduler 3.11 itself would pick).
    runs = fires("every day 02:30", "Europe/Berlin", datetime(2026, 3, 27, 12, tzinfo=UTC), 4)
    assert [run.isoformat() for run in runs] == [
        "2026-03-28T02:30:00+01:00",
        "2026-03-29T03:30:00+02:00",
        "2026-03-30T02:30:00+02:00",
        "2026-03-31T02:30:00+02:00",
    ]
    assert runs[1].astimezone(UTC) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


def test_daily_0230_on_fall_back_day_runs_once_at_first_occurrence() -> None:
    runs = fires("every day 02:30", "Europe/Berlin", datetime(2026, 10, 23, 12, tzinfo=UTC), 4)
    assert [run.isoformat() for run in runs] == [
        "2026-10-24T02:30:00+02:00",
        "2026-10-25T02:30:00+02:00",
        "2026-10-26T02:30:00+01:00",
        "2026-10-27T02:30:00+01:00",
    ]
    assert len({run.date() for run in runs}) == len(runs)


def test_apscheduler_alone_doubles_and_skips_which_is_why_we_wrap_it() -> None:
    raw = CronTrigger(hour=2, minute=30, timezone=BERLIN)
    first = raw.get_next_fire_time(None, datetime(2026, 10, 25, tzinfo=BERLIN))
    second = raw.get_next_fire_time(first, first)
    assert (first.utcoffset(), second.utcoffset(), second.date()) == (CEST, CET, first.date())
    # Started after the spring-forward transition but before 03:30 CEST, it skips the day.
    late_start = datetime(2026, 3, 29, 3, 10, tzinfo=BERLIN)
    assert raw.get_next_fire_time(None, late_start).date() == date(2026, 3, 30)
    ours = next_fire_times(parse_when("30 2 * * *"), "Europe/Berlin", after=late_start, count=1)
    assert ours[0].isoformat() == "2026-03-29T03:30:00+02:00"


def test_starting_between_the_two_fall_back_occurrences_does_not_run_again() -> None:
    between = datetime(2026, 10, 25, 1, 10, tzinfo=UTC)  # 02:10 CET, after 02:30 CEST
    runs = fires("every day 02:30", "Europe/Berlin", between, 1)
    assert runs[0].isoformat() == "2026-10-26T02:30:00+01:00"


def test_every_15_minutes_through_the_fall_back_hour_keeps_wall_clock_semantics() -> None:
    runs = fires("*/15 * * * *", "Europe/Berlin", datetime(2026, 10, 25, 0, 50, tzinfo=BERLIN), 10)
    assert [run.strftime("%H:%M%z") for run in runs] == [
        "01:00+0200", "01:15+0200", "01:30+0200", "01:45+0200",
        "02:00+0200", "02:15+0200", "02:30+0200", "02:45+0200",
        "03:00+0100", "03:15+0100",
    ]  # fmt: skip


def test_new_york_daily_and_weekly_across_dst() -> None:
    spring = fires("every day 02:30", "America/New_York", datetime(2026, 3, 7, tzinfo=NEW_YORK), 3)
    assert [run.isoformat() for run in spring] == [
        "2026-03-07T02:30:00-05:00",
        "2026-03-08T03:30:00-04:00",
        "2026-03-09T02:30:00-04:00",
    ]
    fall = fires("every day 01:30", "America/New_York", datetime(2026, 10, 31, tzinfo=NEW_YORK), 3)
    assert [run.isoformat() for run in fall] == [
        "2026-10-31T01:30:00-04:00",
        "2026-11-01T01:30:00-04:00",
        "2026-11-02T01:30:00-05:00",
    ]
    weekly = fires("every monday 09:00", "America/New_York", datetime(2026, 3, 1, tzinfo=UTC), 2)
    assert [run.utcoffset() for run in weekly] == [EST, EDT]
    weekly = fires("every monday 09:00", "America/New_York", datetime(2026, 10, 26, tzinfo=UTC), 2)
    assert [run.utcoffset() for run in weekly] == [EDT, EST]
    assert all(run.hour == 9 for run in weekly)


@pytest.mark.parametrize("tz", ["Europe/Berlin", "America/New_York"])
def test_first_weekday_of_month(tz: str) -> None:
    runs = fires("first weekday of month 10:00", tz, datetime(2026, 1, 1, tzinfo=UTC), 12)
    assert [run.date() for run in runs] == [
        date(2026, 1, 1),  # Thursday
        date(2026, 2, 2),  # the 1st is a Sunday -> Monday the 2nd
        date(2026, 3, 2),  # Sunday again
        date(2026, 4, 1),
        date(2026, 5, 1),  # Friday
        date(2026, 6, 1),
        date(2026, 7, 1),
        date(2026, 8, 3),  # the 1st is a Saturday -> Monday the 3rd
        date(2026, 9, 1),
        date(2026, 10, 1),
        date(2026, 11, 2),  # Sunday
        date(2026, 12, 1),
    ]
    assert all((run.hour, run.minute, run.tzinfo) == (10, 0, ZoneInfo(tz)) for run in runs)


def test_nth_and_last_weekday_of_month() -> None:
    after = datetime(2026, 1, 1, tzinfo=UTC)
    firsts = fires("first monday of month 10:00", "Europe/Berlin", after, 3)
    assert [run.date() for run in firsts] == [date(2026, 1, 5), date(2026, 2, 2), date(2026, 3, 2)]
    lasts = fires("last friday of month 16:00", "Europe/Berlin", after, 3)
    assert [run.date() for run in lasts] == [
        date(2026, 1, 30),
        date(2026, 2, 27),
        date(2026, 3, 27),
    ]


def test_monthly_day_31_skips_short_months() -> None:
    runs = fires("monthly on 31 09:00", "Europe/Berlin", datetime(2026, 1, 1, tzinfo=UTC), 3)
    assert [run.date() for run in runs] == [date(2026, 1, 31), date(2026, 3, 31), date(2026, 5, 31)]


def test_cron_day_fields_follow_vixie_or_rule_and_sunday_numbering() -> None:
    runs = fires("0 9 1 * 1", "Europe/Berlin", datetime(2026, 5, 28, tzinfo=UTC), 3)
    assert [run.date() for run in runs] == [date(2026, 6, 1), date(2026, 6, 8), date(2026, 6, 15)]
    runs = fires("0 9 1 * 3", "Europe/Berlin", datetime(2026, 5, 28, tzinfo=UTC), 2)
    assert [run.date() for run in runs] == [date(2026, 6, 1), date(2026, 6, 3)]  # 1st OR Wed
    sundays = fires("0 9 * * 0", "Europe/Berlin", datetime(2026, 6, 1, tzinfo=UTC), 2)
    assert [run.weekday() for run in sundays] == [6, 6]  # from_crontab would make this Monday


def test_ordinary_days_agree_with_apscheduler_cron_trigger() -> None:
    raw = CronTrigger(minute="*/20", hour="9-10", day_of_week="mon-fri", timezone=BERLIN)
    after = datetime(2026, 6, 5, 10, 5, tzinfo=BERLIN)
    ours = fires("*/20 9-10 * * 1-5", "Europe/Berlin", after, 8)
    expected: list[datetime] = []
    previous = None
    while len(expected) < 8:
        previous = raw.get_next_fire_time(previous, previous or after)
        expected.append(previous)
    assert ours == expected
    assert [run.utcoffset() for run in ours] == [run.utcoffset() for run in expected]


def test_fire_times_are_strictly_after_and_need_an_aware_start() -> None:
    at_a_fire = datetime(2026, 6, 1, 9, 0, tzinfo=BERLIN)  # a Monday, 09:00
    assert fires("every monday 09:00", "Europe/Berlin", at_a_fire, 1)[0].date() == date(2026, 6, 8)
    assert fires("every monday 09:00", "Europe/Berlin", at_a_fire, 0) == []
    with pytest.raises(ValueError, match="timezone-aware"):
        fires("every monday 09:00", "Europe/Berlin", datetime(2026, 6, 1), 1)
    with pytest.raises(ScheduleSpecError, match="Unknown time zone"):
        fires("every monday 09:00", "Europe/Berln", at_a_fire, 1)


# --------------------------------------------------------------------------- make_trigger


def test_trigger_agrees_with_next_fire_times_through_dst() -> None:
    spec = parse_when("every day 02:30")
    after = datetime(2026, 3, 27, tzinfo=BERLIN)
    trigger = make_trigger(spec, "Europe/Berlin")
    assert isinstance(trigger, BaseTrigger)
    # Step it the way APScheduler's scheduler does: (previous fire, now).
    seen: list[datetime] = []
    previous, now = None, after + timedelta(microseconds=1)
    for _ in range(5):
        previous = trigger.get_next_fire_time(previous, now)
        seen.append(previous)
        now = previous
    assert seen == next_fire_times(spec, "Europe/Berlin", after=after, count=5)


def test_trigger_catches_up_missed_runs_like_cron_trigger() -> None:
    trigger = make_trigger(parse_when("every day 08:00"), "Europe/Berlin")
    previous = datetime(2026, 6, 1, 8, tzinfo=BERLIN)
    later = datetime(2026, 6, 4, 12, tzinfo=BERLIN)  # the scheduler was down for three days
    assert trigger.get_next_fire_time(previous, later) == datetime(2026, 6, 2, 8, tzinfo=BERLIN)


def test_trigger_pickles_for_job_stores() -> None:
    trigger = make_trigger(parse_when("first weekday of month 10:00"), "America/New_York")
    clone = pickle.loads(pickle.dumps(trigger))
    now = datetime(2026, 7, 15, tzinfo=UTC)
    assert clone.get_next_fire_time(None, now) == trigger.get_next_fire_time(None, now)
    assert str(clone) == "schedule[0 10 1W * * America/New_York]"


def test_scheduler_accepts_the_trigger() -> None:
    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.start(paused=True)
    try:
        before = datetime.now(UTC)
        job = scheduler.add_job(print, make_trigger(parse_when("0 3 1 1 *"), "Europe/Berlin"))
        expected = next_fire_times(parse_when("0 3 1 1 *"), "Europe/Berlin", after=before)[0]
        assert job.next_run_time == expected
    finally:
        scheduler.shutdown(wait=False)


# --------------------------------------------------------------------------- brute force


def _wall_clock_oracle(spec_text: str, zone: ZoneInfo, around: datetime) -> list[datetime]:
    """Every matching wall minute near ``around``, at its first real instant, deduplicated.

    That is the documented rule, computed the slow way: walk the wall clock minute by minute,
    read a time that happens twice as its first occurrence and one that never happens as
    fold=0 (PEP 495: shifted forward past the gap).
    """
    minute_text, hour_text = spec_text.split()[:2]
    minutes = {int(m) for m in minute_text.split(",")}
    hours = {int(h) for h in hour_text.split(",")}
    instants: set[datetime] = set()
    wall = around - timedelta(days=2)
    while wall < around + timedelta(days=4):
        if wall.minute in minutes and wall.hour in hours:
            instants.add(wall.replace(tzinfo=zone, fold=0).astimezone(UTC))
        wall += timedelta(minutes=1)
    return sorted(instants)


@pytest.mark.parametrize(
    ("tz", "around"),
    [
        ("Europe/Berlin", datetime(2026, 3, 29)),
        ("Europe/Berlin", datetime(2026, 10, 25)),
        ("America/New_York", datetime(2026, 11, 1)),
        ("Australia/Lord_Howe", datetime(2026, 10, 4)),  # a 30-minute DST shift
        ("Pacific/Apia", datetime(2011, 12, 30)),  # a whole day skipped
    ],
)
@pytest.mark.parametrize("cron", ["10,35 2 * * *", "5,50 1,2,3 * * *", "0 0,1,2,3,4 * * *"])
def test_fire_times_match_a_brute_force_wall_clock_walk(
    tz: str, around: datetime, cron: str
) -> None:
    zone = ZoneInfo(tz)
    oracle = _wall_clock_oracle(cron, zone, around)
    for minutes in range(-12 * 60, 12 * 60, 37):
        after = around.replace(tzinfo=zone).astimezone(UTC) + timedelta(minutes=minutes)
        expected = [moment for moment in oracle if moment > after][:4]
        got = next_fire_times(parse_when(cron), tz, after=after, count=4)
        assert [moment.astimezone(UTC) for moment in got] == expected, after
        assert all(moment.tzinfo == zone for moment in got)
