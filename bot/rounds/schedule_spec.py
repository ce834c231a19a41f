"""Survey schedules: parse what an admin types, validate it and compute when it fires.

An admin writes ``every monday 09:00`` or a plain cron line such as ``0 9 * * 1``; both become
the same ``CronSpec`` whose ``expression`` (a 5-field cron string) is what the database stores.

Fire times follow *wall-clock* semantics in the schedule's time zone, like Vixie cron:

* a time that does not exist because clocks spring forward fires once, shifted forward by the
  size of the gap (02:30 in Europe/Berlin on 2026-03-29 fires at 03:30 CEST, the instant
  APScheduler 3.11 itself picks, but reported as a real local time);
* a time that happens twice because clocks fall back fires once, at its first occurrence
  (APScheduler 3.11's own ``CronTrigger`` fires 02:30 twice on 2026-10-25 in Berlin).

To get there, APScheduler's ``CronTrigger`` is used only as a field matcher on the naive wall
clock (it runs in UTC, which has no DST), and this module maps each wall time to a real
instant itself. ``SpecTrigger`` wraps that so the scheduler and ``next_fire_times`` agree.
"""

from __future__ import annotations

import calendar
import difflib
import functools
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger

__all__ = [
    "DURATION_FORMS",
    "WHEN_FORMS",
    "CronSpec",
    "ScheduleSpecError",
    "SpecTrigger",
    "format_duration",
    "make_trigger",
    "next_fire_times",
    "parse_duration",
    "parse_when",
    "validate_timezone",
]

WHEN_FORMS: Final = (
    "every monday 09:00  (also: every monday and thursday 9:30am)",
    "every weekday 09:30  (Monday–Friday)",
    "every day 08:00",
    "first monday of month 10:00  (first/second/third/fourth/last)",
    "first weekday of month 10:00  (first Monday–Friday day of the month)",
    "monthly on 15 10:00  (or: every month on day 15 10:00)",
    "a 5-field cron line: minute hour day-of-month month day-of-week, e.g. 0 9 * * 1",
)
DURATION_FORMS: Final = ("90m", "24h", "3d", "1w", "2d12h")

_TICK: Final = timedelta(microseconds=1)
# How far back to look for a spring-forward jump: a wall time inside the gap fires *after* it,
# so a lookup starting just past the transition must rescan the wall clock from before it.
_GAP_PROBE: Final = timedelta(days=2)
_MAX_SCAN: Final = 100_000  # wall-clock candidates per lookup; far above any real need

# Both indexed by the cron number (0 = Sunday). APScheduler 3.x numbers days from Monday = 0,
# so weekdays are always handed to it by name.
_DAY_NAMES: Final = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_APS_DAY: Final = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_MONTH_NAMES: Final = tuple(calendar.month_name)  # index 1..12
_ORDINALS: Final = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth"}
_APS_ORDINALS: Final = {1: "1st", 2: "2nd", 3: "3rd", 4: "4th", 5: "5th"}
FIRST_WEEKDAY: Final = "1W"  # Quartz's "nearest weekday to the 1st", which stays in the month


class ScheduleSpecError(ValueError):
    """A schedule, duration or time zone the user typed that we cannot accept.

    ``problem`` says what is wrong; ``accepted`` lists forms that would work, so the command
    layer can render them however it likes. ``str()`` gives both as one message.
    """

    def __init__(self, problem: str, accepted: Sequence[str] = ()) -> None:
        self.problem = problem
        self.accepted = tuple(accepted)
        super().__init__(self._render())

    def _render(self) -> str:
        if not self.accepted:
            return self.problem
        forms = "\n".join(f"  • {form}" for form in self.accepted)
        return f"{self.problem}\nAccepted forms:\n{forms}"


def _when_error(problem: str) -> ScheduleSpecError:
    return ScheduleSpecError(problem, WHEN_FORMS)


# --------------------------------------------------------------------------- cron fields


@dataclass(frozen=True, slots=True)
class _FieldRule:
    label: str
    low: int
    high: int
    aliases: Mapping[str, int]


_MINUTE: Final = _FieldRule("minute", 0, 59, {})
_HOUR: Final = _FieldRule("hour", 0, 23, {})
_DOM: Final = _FieldRule("day of month", 1, 31, {})
_MONTH: Final = _FieldRule(
    "month", 1, 12, {name.lower(): i for i, name in enumerate(calendar.month_abbr) if name}
)
# Standard cron numbering: 0 and 7 are Sunday (CronTrigger.from_crontab would read 0 as Monday).
_DOW: Final = _FieldRule("day of week", 0, 7, {name: i for i, name in enumerate(_APS_DAY)})
_RULES: Final = (_MINUTE, _HOUR, _DOM, _MONTH, _DOW)

_ITEM_RE: Final = re.compile(r"(?P<lo>\*|[a-z0-9]+)(?:-(?P<hi>[a-z0-9]+))?(?:/(?P<step>\d+))?")
_NTH_RE: Final = re.compile(r"(?P<day>[0-7]|[a-z]{3})#(?P<nth>[1-5])")
_LAST_RE: Final = re.compile(r"(?P<day>[0-7]|[a-z]{3})l")


def _value(text: str, rule: _FieldRule) -> int:
    value = rule.aliases.get(text)
    if value is None and text.isdigit():
        value = int(text)
    if value is None or not rule.low <= value <= rule.high:
        raise _when_error(
            f"'{text}' is not a valid {rule.label}: use {rule.low}–{rule.high}"
            + (f" or a name such as {next(iter(rule.aliases))}" if rule.aliases else "")
        )
    return value


def _canonical_item(item: str, rule: _FieldRule) -> str:
    match = _ITEM_RE.fullmatch(item)
    if match is None:
        raise _when_error(f"'{item}' is not a valid {rule.label} entry")
    lo, hi, step = match["lo"], match["hi"], match["step"]
    suffix = "" if step is None or _step(step, rule) == 1 else f"/{int(step)}"
    if lo == "*":
        if hi is not None:
            raise _when_error(f"'{item}' is not a valid {rule.label} entry")
        return "*" + suffix
    if hi is None:
        if step is not None:  # cron only allows steps on '*' or a range
            raise _when_error(f"'{item}': a step needs a range such as 1-31/2 or */2")
        value = _value(lo, rule)
        return str(0 if rule is _DOW and value == 7 else value)
    return _canonical_range(item, _value(lo, rule), _value(hi, rule), rule) + suffix


def _canonical_range(item: str, lo: int, hi: int, rule: _FieldRule) -> str:
    if rule is _DOW and hi == 0 and lo > 0:
        hi = 7  # "fri-sun" means Friday to Sunday, not an empty range
    if lo > hi:
        raise _when_error(f"'{item}': a {rule.label} range must go from low to high")
    return f"{lo}-{hi}"


def _step(text: str, rule: _FieldRule) -> int:
    step = int(text)
    if step < 1:
        raise _when_error(f"a {rule.label} step must be at least 1")
    return step


def _canonical_special(raw: str, rule: _FieldRule) -> str | None:
    """The non-standard forms: ``1W`` (first weekday), ``1#2`` (2nd Monday), ``5L`` (last Fri)."""
    if rule is _DOM and raw.endswith("w"):
        if raw != "1w":
            raise _when_error(f"'{raw}': only 1W (the first weekday of the month) is supported")
        return FIRST_WEEKDAY
    if rule is not _DOW:
        return None
    if match := _NTH_RE.fullmatch(raw):
        return f"{_value(match['day'], _DOW) % 7}#{match['nth']}"
    if match := _LAST_RE.fullmatch(raw):
        return f"{_value(match['day'], _DOW) % 7}L"
    return None


def _canonical_field(raw: str, rule: _FieldRule) -> str:
    raw = raw.lower()
    special = _canonical_special(raw, rule)
    if special is not None:
        return special
    return ",".join(_canonical_item(item, rule) for item in raw.split(","))


def _expand(field: str, rule: _FieldRule) -> frozenset[int]:
    """All values a canonical (non-special) field matches; Sunday is always 0."""
    values: set[int] = set()
    for item in field.split(","):
        base, _, step_text = item.partition("/")
        lo, _, hi = base.partition("-")
        start = rule.low if lo == "*" else int(lo)
        stop = rule.high if lo == "*" else int(hi or lo)
        values.update(range(start, stop + 1, int(step_text or 1)))
    return frozenset(v % 7 for v in values) if rule is _DOW else frozenset(values)


def _is_special(dom: str, dow: str) -> bool:
    return dom == FIRST_WEEKDAY or "#" in dow or dow.endswith("L")


def _uses_or(dom: str, dow: str) -> bool:
    # Vixie cron: when both day fields are restricted (neither starts with '*') a day matches
    # if *either* does. APScheduler always ANDs them, so this case gets two triggers.
    return not _is_special(dom, dow) and not dom.startswith("*") and not dow.startswith("*")


def _check_day_fields(dom: str, month: str, dow: str) -> None:
    if dom == FIRST_WEEKDAY and dow != "*":
        raise _when_error("1W (first weekday of the month) needs '*' as the day of week")
    if ("#" in dow or dow.endswith("L")) and dom != "*":
        raise _when_error(f"'{dow}' (a weekday of the month) needs '*' as the day of month")
    if _is_special(dom, dow) or dom.startswith("*") or not dow.startswith("*"):
        return
    months = _expand(month, _MONTH)
    if min(_expand(dom, _DOM)) > max(calendar.monthrange(2024, m)[1] for m in months):
        raise _when_error(
            f"Day {dom} never happens{_describe_months(month)}: this would never run."
        )


def _canonical_cron(fields: Sequence[str]) -> tuple[str, str, str, str, str]:
    if len(fields) != 5:
        raise _when_error(
            f"a cron line needs 5 fields (minute hour day-of-month month day-of-week), "
            f"got {len(fields)}: '{' '.join(fields)}'"
        )
    minute, hour, dom, month, dow = (
        _canonical_field(raw, rule) for raw, rule in zip(fields, _RULES, strict=True)
    )
    _check_day_fields(dom, month, dow)
    return minute, hour, dom, month, dow


# --------------------------------------------------------------------------- the spec


@dataclass(frozen=True, slots=True)
class CronSpec:
    """A validated schedule in canonical 5-field cron form (standard numbering, 0 = Sunday).

    Beyond standard cron it allows ``1W`` as day of month (the first Monday–Friday day of the
    month) and ``D#N`` / ``DL`` as day of week (the Nth / last weekday D of the month).
    Build one with ``parse_when``; the constructor only accepts canonical fields so that
    ``parse_when(spec.expression) == spec`` always holds.
    """

    minute: str
    hour: str
    day_of_month: str
    month: str
    day_of_week: str

    def __post_init__(self) -> None:
        fields = (self.minute, self.hour, self.day_of_month, self.month, self.day_of_week)
        if _canonical_cron(fields) != fields:
            raise ScheduleSpecError(
                f"'{' '.join(fields)}' is not in canonical form; build CronSpec with parse_when"
            )

    @property
    def expression(self) -> str:
        """The canonical string to store; ``parse_when`` turns it back into this spec."""
        return " ".join((self.minute, self.hour, self.day_of_month, self.month, self.day_of_week))

    def describe(self) -> str:
        """Plain English, e.g. ``every Monday at 09:00``."""
        return f"{_describe_days(self)}{_describe_months(self.month)} {_describe_time(self)}"


def _describe_time(spec: CronSpec) -> str:
    if spec.minute.isdigit() and spec.hour.isdigit():
        return f"at {int(spec.hour):02d}:{int(spec.minute):02d}"
    minutes = "every minute" if spec.minute == "*" else f"at minute {spec.minute}"
    return minutes + ("" if spec.hour == "*" else f" of hour {spec.hour}")


def _describe_months(month: str) -> str:
    if month == "*":
        return ""
    return " in " + _join_names([_MONTH_NAMES[m] for m in sorted(_expand(month, _MONTH))])


def _join_names(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _weekday_list(dow: str) -> str:
    days = sorted(_expand(dow, _DOW), key=lambda d: (d + 6) % 7)  # Monday first
    if days == [1, 2, 3, 4, 5]:
        return "weekday (Monday–Friday)"
    return _join_names([_DAY_NAMES[d] for d in days])


def _describe_days(spec: CronSpec) -> str:
    dom, dow = spec.day_of_month, spec.day_of_week
    of_month = "of every month" if spec.month == "*" else "of the month"
    if dom == FIRST_WEEKDAY:
        return f"on the first weekday (Monday–Friday) {of_month}"
    if "#" in dow:
        day, nth = dow.split("#")
        return f"on the {_ORDINALS[int(nth)]} {_DAY_NAMES[int(day)]} {of_month}"
    if dow.endswith("L"):
        return f"on the last {_DAY_NAMES[int(dow[:-1])]} {of_month}"
    if dom == "*":
        return "every day" if dow == "*" else f"every {_weekday_list(dow)}"
    on_days = _describe_month_days(dom, of_month)
    if dow == "*":
        return on_days
    joiner = " and every " if _uses_or(dom, dow) else " if it is a "
    return on_days + joiner + _weekday_list(dow)


def _describe_month_days(dom: str, of_month: str) -> str:
    days = sorted(_expand(dom, _DOM))
    text = f"on day {days[0]}" if len(days) == 1 else f"on days {dom}"
    skipped = " (skipped in months without that day)" if days[0] > 28 else ""
    return f"{text} {of_month}{skipped}"


# --------------------------------------------------------------------------- parse_when

_CRON_START_RE: Final = re.compile(r"[\d*/,-]+")
_TIME_RE: Final = re.compile(r"(?P<h>\d{1,2})(?::(?P<m>\d{2}))?(?P<ampm>am|pm)?")
_DAY_NUMBER_RE: Final = re.compile(r"(?P<n>\d{1,2})(?:st|nd|rd|th)?")
_WEEKDAY_WORDS: Final = {
    word: number
    for number, name in enumerate(_DAY_NAMES)
    for word in (name.lower(), name.lower() + "s", name.lower()[:3])
} | {"tues": 2, "weds": 3, "thur": 4, "thurs": 4}
_NTH_WORDS: Final = {
    "first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3,
    "fourth": 4, "4th": 4, "last": 0,
}  # fmt: skip
_FILLER: Final = frozenset({"every", "each", "the", "and", "at", "of", "on", "in"})
_KEYWORDS: Final = frozenset(
    {"day", "days", "daily", "weekday", "weekdays", "workday", "month", "monthly"}
)
_REPEAT_WORDS: Final = frozenset({"week", "weeks", "fortnight", "biweekly", "fortnightly"})


def parse_when(text: str) -> CronSpec:
    """Parse a friendly schedule or a 5-field cron line (case-insensitive) into a CronSpec."""
    cleaned = " ".join(text.lower().split())
    if not cleaned:
        raise _when_error("The schedule is empty.")
    first = cleaned.split(" ", 1)[0]
    # A cron line starts with its minute field; every friendly form starts with a word.
    if _CRON_START_RE.fullmatch(first):
        return CronSpec(*_canonical_cron(cleaned.split(" ")))
    return _parse_friendly(cleaned)


def _parse_friendly(text: str) -> CronSpec:
    # "9 am" -> "9am" and commas -> spaces, so the time is always the last single token.
    tokens = re.sub(r"(\d)\s+(am|pm)\b", r"\1\2", text).replace(",", " ").split()
    minute, hour = _parse_time(tokens[-1])
    words = [word for word in tokens[:-1] if word not in _FILLER]
    dom, dow = _parse_days(words, text)
    return CronSpec(str(minute), str(hour), dom, "*", dow)


def _parse_time(token: str) -> tuple[int, int]:
    match = _TIME_RE.fullmatch(token)
    if match is None or (match["m"] is None and match["ampm"] is None):
        raise _when_error(f"The schedule must end with a time of day such as 09:00, not '{token}'.")
    hour, minute = int(match["h"]), int(match["m"] or 0)
    if match["ampm"]:
        if not 1 <= hour <= 12:
            raise _when_error(f"'{token}' is not a valid time: with am/pm the hour is 1–12.")
        hour = hour % 12 + (12 if match["ampm"] == "pm" else 0)
    if hour > 23 or minute > 59:
        raise _when_error(f"'{token}' is not a valid time: use 00:00–23:59.")
    return minute, hour


def _parse_days(words: list[str], text: str) -> tuple[str, str]:
    """(day of month, day of week) in canonical cron form for the words before the time."""
    if words in (["day"], ["daily"]):
        return "*", "*"
    if words in (["weekday"], ["weekdays"], ["workday"]):
        return "*", "1-5"
    if words and all(word in _WEEKDAY_WORDS for word in words):
        return "*", ",".join(str(d) for d in sorted({_WEEKDAY_WORDS[w] for w in words}))
    if len(words) == 3 and words[0] in _NTH_WORDS and words[2] == "month":
        return _nth_of_month(words[0], words[1], text)
    if day := _month_day(words):
        return day, "*"
    raise _diagnose(words, text)


def _nth_of_month(nth_word: str, day_word: str, text: str) -> tuple[str, str]:
    nth = _NTH_WORDS[nth_word]
    if day_word in ("weekday", "workday"):
        if nth != 1:
            raise _when_error(f"'{text}': only the *first* weekday of the month is supported.")
        return FIRST_WEEKDAY, "*"
    if day_word not in _WEEKDAY_WORDS:
        raise _diagnose([day_word], text)
    day = _WEEKDAY_WORDS[day_word]
    return "*", f"{day}L" if nth == 0 else f"{day}#{nth}"


def _month_day(words: list[str]) -> str | None:
    """``monthly 15``, ``month day 15``, ``15th month`` (fillers already removed) -> "15"."""
    rest = [word for word in words if word not in ("month", "monthly", "day")]
    if len(rest) != 1 or len(rest) == len(words) or not {"month", "monthly"} & set(words):
        return None
    match = _DAY_NUMBER_RE.fullmatch(rest[0])
    if match is None:
        return None
    day = int(match["n"])
    if not 1 <= day <= 31:
        raise _when_error(f"Day {day} does not exist: a day of the month is 1–31.")
    return str(day)


def _diagnose(words: list[str], text: str) -> ScheduleSpecError:
    """Say which word we could not understand, with a likely correction if there is one."""
    if _REPEAT_WORDS & set(words):
        return _when_error(f"'{text}': repeating every N weeks is not supported yet.")
    known = _KEYWORDS | _FILLER | set(_WEEKDAY_WORDS) | set(_NTH_WORDS)
    for word in words:
        if word in known or _DAY_NUMBER_RE.fullmatch(word):
            continue
        vocabulary = [name.lower() for name in _DAY_NAMES] + sorted(_KEYWORDS | set(_NTH_WORDS))
        close = difflib.get_close_matches(word, vocabulary, n=1, cutoff=0.6)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        return _when_error(f"I don't understand '{word}' in '{text}'.{hint}")
    return _when_error(f"I don't understand the schedule '{text}'.")


# --------------------------------------------------------------------------- durations

_DURATION_PART_RE: Final = re.compile(r"(\d+)\s*([a-z]+)\s*")
_UNITS: Final = {
    "weeks": ("w", "wk", "wks", "week", "weeks"),
    "days": ("d", "day", "days"),
    "hours": ("h", "hr", "hrs", "hour", "hours"),
    "minutes": ("m", "min", "mins", "minute", "minutes"),
}
_UNIT_OF: Final = {alias: unit for unit, aliases in _UNITS.items() for alias in aliases}


def parse_duration(text: str) -> timedelta:
    """``3d``, ``24h``, ``90m``, ``1w`` or ``2d12h`` (units w/d/h/m, each once) as a timedelta."""
    cleaned = text.strip().lower()
    parts = list(_DURATION_PART_RE.finditer(cleaned))
    if not parts or "".join(part[0] for part in parts) != cleaned:
        raise _duration_error(f"'{text}' is not a duration.")
    amounts: dict[str, int] = {}
    for part in parts:
        unit = _UNIT_OF.get(part[2])
        if unit is None or unit in amounts:
            raise _duration_error(f"'{text}': unknown or repeated unit '{part[2]}'.")
        amounts[unit] = int(part[1])
    try:
        duration = timedelta(**amounts)
    except OverflowError:
        raise _duration_error(f"'{text}' is too long.") from None
    if duration <= timedelta(0):
        raise _duration_error(f"'{text}': a duration must be longer than zero.")
    return duration


def _duration_error(problem: str) -> ScheduleSpecError:
    return ScheduleSpecError(problem, DURATION_FORMS)


def format_duration(duration: timedelta) -> str:
    """The compact form ``parse_duration`` reads, e.g. ``2d12h``; whole minutes only."""
    minutes = int(duration.total_seconds()) // 60
    if minutes <= 0:
        raise ValueError("only positive durations of at least a minute can be formatted")
    parts = []
    for unit, size in (("w", 7 * 24 * 60), ("d", 24 * 60), ("h", 60), ("m", 1)):
        count, minutes = divmod(minutes, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


# --------------------------------------------------------------------------- time zones


@functools.cache
def _zone_names() -> dict[str, str]:
    """Lower-cased zone name -> its proper spelling (the tzdata scan is slow, so cached)."""
    return {name.lower(): name for name in available_timezones()}


def validate_timezone(name: str) -> ZoneInfo:
    """The IANA zone called ``name`` (any letter case), or an error suggesting close names."""
    cleaned = name.strip().replace(" ", "_")
    proper = _zone_names().get(cleaned.lower())
    if proper is not None:
        try:
            return ZoneInfo(proper)
        except (ZoneInfoNotFoundError, ValueError):
            pass  # listed but unreadable: fall through to the same error as unknown names
    raise ScheduleSpecError(_unknown_zone_message(name, cleaned))


def _unknown_zone_message(name: str, cleaned: str) -> str:
    names = _zone_names()
    key = cleaned.lower()
    # A bare city ("berlin") matches the last part of "Europe/Berlin" better than difflib does.
    same_city = [proper for lower, proper in names.items() if lower.rsplit("/", 1)[-1] == key]
    close = difflib.get_close_matches(key, list(names), n=3, cutoff=0.6)
    suggestions = list(dict.fromkeys(same_city + [names[lower] for lower in close]))[:3]
    hint = f" Did you mean {' or '.join(suggestions)}?" if suggestions else ""
    return f"Unknown time zone '{name}'.{hint} Use an IANA name such as Europe/Berlin."


# --------------------------------------------------------------------------- fire times


def _wall_triggers(spec: CronSpec) -> tuple[Any, ...]:
    """CronTriggers in UTC used as pure wall-clock matchers for the spec's fields."""
    base = {"minute": spec.minute, "hour": spec.hour, "month": spec.month, "second": "0"}
    dom, dow = spec.day_of_month, spec.day_of_week
    if dom == FIRST_WEEKDAY:
        # The first Mon–Fri day is always the 1st, 2nd or 3rd; _is_first_weekday picks it.
        days = [{"day": "1-3", "day_of_week": "mon-fri"}]
    elif "#" in dow:
        day, nth = dow.split("#")
        days = [{"day": f"{_APS_ORDINALS[int(nth)]} {_APS_DAY[int(day)]}", "day_of_week": "*"}]
    elif dow.endswith("L"):
        days = [{"day": f"last {_APS_DAY[int(dow[:-1])]}", "day_of_week": "*"}]
    elif _uses_or(dom, dow):
        days = [{"day": dom, "day_of_week": "*"}, {"day": "*", "day_of_week": _aps_dow(dow)}]
    else:
        days = [{"day": dom, "day_of_week": _aps_dow(dow)}]
    return tuple(CronTrigger(**base, **day, timezone=UTC) for day in days)


def _aps_dow(dow: str) -> str:
    if dow == "*":
        return "*"
    return ",".join(_APS_DAY[d] for d in sorted(_expand(dow, _DOW)))


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _is_first_weekday(wall: datetime) -> bool:
    # Among Mon–Fri days 1–3: the 1st itself, or a Monday on the 2nd/3rd (1st was Sun/Sat).
    return wall.day == 1 or wall.weekday() == 0


def _to_instant(wall: datetime, zone: ZoneInfo) -> tuple[datetime, bool]:
    """(real local time for a naive wall time, whether that wall time exists as written).

    fold=0 (PEP 495) reads an ambiguous time as its first occurrence and a non-existent one
    with the pre-transition offset, i.e. shifted forward by the gap; the UTC round trip then
    turns it into a real local time (02:30+01:00 -> 03:30+02:00).
    """
    local = wall.replace(tzinfo=zone, fold=0).astimezone(UTC).astimezone(zone)
    return local, local.replace(tzinfo=None) == wall


class SpecTrigger(BaseTrigger):  # type: ignore[misc]  # apscheduler ships no type hints
    """The APScheduler trigger for a CronSpec in a zone; ``next_fire_times`` uses it too."""

    __slots__ = ("_walls", "spec", "timezone")

    def __init__(self, spec: CronSpec, zone: ZoneInfo) -> None:
        self._setup(spec, zone)

    def _setup(self, spec: CronSpec, zone: ZoneInfo) -> None:
        self.spec = spec
        self.timezone = zone
        self._walls = _wall_triggers(spec)

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        if previous_fire_time is None:
            return self.first_fire_at_or_after(now)
        # Like CronTrigger, resume right after the previous fire even when ``now`` is later, so
        # the scheduler sees (and can coalesce) runs it missed; never at the previous fire
        # itself, which would run it twice.
        return self.first_fire_at_or_after(_utc(previous_fire_time) + _TICK)

    def first_fire_at_or_after(self, start: datetime) -> datetime | None:
        """The earliest fire time at or after ``start`` (any aware datetime), or None."""
        start_utc = start.astimezone(UTC)
        best: datetime | None = None
        for wall in self._walls_from(self._scan_start(start_utc)):
            fire, exists = _to_instant(wall, self.timezone)
            # Compare in UTC: same-zone comparisons ignore fold and get DST overlaps wrong.
            if (
                fire >= start_utc
                and self._accepts(wall)
                and (best is None or _utc(fire) < _utc(best))
            ):
                best = fire
            # Wall times that exist map to instants in order, so once one is past ``start``
            # nothing later can be earlier; only gap-shifted times can jump ahead of it.
            if best is not None and exists and fire >= start_utc:
                break
        return best

    def _scan_start(self, start_utc: datetime) -> datetime:
        """Naive wall time to scan from: ``start``'s, minus any gap clocks just jumped over."""
        local = start_utc.astimezone(self.timezone)
        earlier = (start_utc - _GAP_PROBE).astimezone(self.timezone)
        jump = (local.utcoffset() or timedelta(0)) - (earlier.utcoffset() or timedelta(0))
        return local.replace(tzinfo=None) - max(jump, timedelta(0))

    def _walls_from(self, wall: datetime) -> Iterator[datetime]:
        cursor = wall.replace(tzinfo=UTC)
        for _ in range(_MAX_SCAN):
            found = [t.get_next_fire_time(None, cursor) for t in self._walls]
            candidates = [c for c in found if c is not None]
            if not candidates:
                return
            nearest = min(candidates)
            yield nearest.replace(tzinfo=None)
            cursor = nearest + _TICK

    def _accepts(self, wall: datetime) -> bool:
        return self.spec.day_of_month != FIRST_WEEKDAY or _is_first_weekday(wall)

    # Jobs are pickled by APScheduler's job stores: keep the stored form small and stable.
    def __getstate__(self) -> dict[str, object]:
        return {"version": 1, "expression": self.spec.expression, "zone": self.timezone.key}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._setup(parse_when(state["expression"]), ZoneInfo(state["zone"]))

    def __str__(self) -> str:
        return f"schedule[{self.spec.expression} {self.timezone.key}]"

    def __repr__(self) -> str:
        return f"<SpecTrigger ({self.spec.expression!r}, timezone={self.timezone.key!r})>"


def make_trigger(spec: CronSpec, tz: str) -> SpecTrigger:
    """The trigger to hand to ``scheduler.add_job``; it agrees with ``next_fire_times``."""
    return SpecTrigger(spec, validate_timezone(tz))


def next_fire_times(spec: CronSpec, tz: str, *, after: datetime, count: int = 5) -> list[datetime]:
    """The next ``count`` fire times strictly after ``after``, as aware times in zone ``tz``."""
    if after.tzinfo is None or after.utcoffset() is None:
        raise ValueError("'after' must be a timezone-aware datetime")
    if count < 0:
        raise ValueError("'count' must not be negative")
    trigger = make_trigger(spec, tz)
    fires: list[datetime] = []
    previous: datetime | None = None
    now = after.astimezone(UTC) + _TICK
    while len(fires) < count:
        fire = trigger.get_next_fire_time(previous, now)
        if fire is None:
            break
        fires.append(fire)
        previous = now = fire
    return fires
