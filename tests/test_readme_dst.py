"""README and the scheduler say the same about a run inside the spring-forward gap."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bot.rounds.schedule_spec import next_fire_times, parse_when

README = Path(__file__).resolve().parents[1] / "README.md"


def test_a_run_in_the_spring_forward_gap_is_shifted_by_the_gap_as_readme_says() -> None:
    readme = " ".join(README.read_text().split())
    assert "spring-forward gap happens once, shifted forward by the length of the gap" in readme
    assert "(`30 2 28 3 *` in Europe/Berlin runs at 03:30 CEST on 2027-03-28)" in readme

    (fire,) = next_fire_times(
        parse_when("30 2 28 3 *"), "Europe/Berlin", after=datetime(2027, 1, 1, tzinfo=UTC), count=1
    )
    assert f"{fire:%Y-%m-%d %H:%M %Z}" == "2027-03-28 03:30 CEST"


def test_two_runs_inside_one_gap_stay_apart_and_in_order() -> None:
    fires = next_fire_times(
        parse_when("15,45 2 28 3 *"),
        "Europe/Berlin",
        after=datetime(2027, 3, 27, tzinfo=UTC),
        count=2,
    )
    assert [f"{fire:%H:%M %Z}" for fire in fires] == ["03:15 CEST", "03:45 CEST"]
