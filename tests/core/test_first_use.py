"""What a new admin tripped over on a first real use (#16), typed into the console."""

from __future__ import annotations

import pytest

from tests.core.conftest import World
from tests.core.test_commands import ADMIN, Crowd, _bullets, snapshot

# -- two schedules at the same time ---------------------------------------------------------

SAME_TIME_ELSEWHERE = [
    ("every monday 09:00", '"0 9 * * 1" tz:Europe/Berlin'),
    ("every monday 09:00", "every monday 09:00 tz:Europe/Berlin"),
    ("every day 02:30 tz:Europe/Berlin", "every day 02:30 tz:Asia/Tokyo"),
    ("every monday 09:00", "every monday 09:00 audience:team:sales"),
]


@pytest.mark.parametrize(("first", "second"), SAME_TIME_ELSEWHERE)
async def test_two_offices_polling_at_the_same_local_time_get_two_schedules(
    world: World, first: str, second: str
) -> None:
    crowd = Crowd(world)
    await crowd.ok(ADMIN, "teams add sales")
    await crowd.ok(ADMIN, f"schedule add {first}")
    await crowd.ok(ADMIN, f"schedule add {second}")
    names = [line.split(": ", 1)[0] for line in _bullets(await crowd.ok(ADMIN, "schedule list"))]
    assert len(names) == 2
    assert len(set(names)) == 2


async def test_default_name_says_when_where_and_for_whom(world: World) -> None:
    crowd = Crowd(world)
    await crowd.ok(ADMIN, "teams add Sales")
    await crowd.ok(ADMIN, "schedule add every monday 09:00 tz:Asia/Tokyo audience:team:sales")
    (line,) = _bullets(await crowd.ok(ADMIN, "schedule list"))
    assert line.startswith("• #1 every Monday at 09:00 (Asia/Tokyo, team:Sales): ")


DUPLICATES = [
    (
        "schedule add every monday 09:00 tz:Europe/Berlin",
        "Error: schedule #1 'every Monday at 09:00 (Europe/Berlin, everyone)' already polls "
        "everyone at these times in Europe/Berlin; nothing was added",
    ),
    (
        'schedule add "0 9 * * 1" tz:europe/berlin name:other',
        "Error: schedule #1 'every Monday at 09:00 (Europe/Berlin, everyone)' already polls",
    ),
    (
        "schedule add every friday 15:00 name:weekly",
        "Error: schedule #2 is already called 'weekly': give this one another name with name:NAME",
    ),
    (
        "schedule add every friday 15:00 name:WEEKLY",
        "Error: schedule #2 is already called 'weekly'",
    ),
]


async def test_a_duplicate_schedule_is_refused_with_a_clear_message(world: World) -> None:
    crowd = Crowd(world)
    await crowd.ok(ADMIN, "schedule add every monday 09:00 tz:Europe/Berlin")
    await crowd.ok(ADMIN, "schedule add every day 07:00 name:weekly")
    before = await snapshot(world)
    for line, expected in DUPLICATES:
        out = await crowd.cmd(ADMIN, line)
        assert out.startswith(expected), (line, out)
    assert await snapshot(world) == before


async def test_a_name_taken_in_a_race_is_a_clear_refusal_not_a_traceback(world: World) -> None:
    # Both admins pass the handler's check before either commits: the database's unique key
    # decides, and the loser gets words, not an IntegrityError.
    crowd = Crowd(world)
    store = world.app.core.store
    real_list = store.list_schedules

    async def nothing_yet(workspace_id: int | None = None) -> list[object]:
        return []

    await crowd.ok(ADMIN, "schedule add every monday 09:00 name:weekly")
    store.list_schedules = nothing_yet  # type: ignore[method-assign,assignment]
    try:
        out = await crowd.cmd(ADMIN, "schedule add every friday 15:00 name:weekly")
    finally:
        store.list_schedules = real_list  # type: ignore[method-assign]
    assert out == (
        "Error: there is a schedule called 'weekly' already: give this one another name with "
        "name:NAME; nothing was added"
    )
    assert len(_bullets(await crowd.ok(ADMIN, "schedule list"))) == 1


# -- smaller ones ---------------------------------------------------------------------------


async def test_a_zone_is_stored_by_its_canonical_iana_name(world: World) -> None:
    crowd = Crowd(world)
    out = await crowd.ok(ADMIN, "schedule add every monday 09:00 tz:europe/berlin")
    assert "(Europe/Berlin)" in out
    listed = await crowd.ok(ADMIN, "schedule list")
    assert "(Europe/Berlin), everyone" in listed
    assert "europe/berlin" not in listed


async def test_one_day_is_singular(world: World) -> None:
    crowd = Crowd(world)
    out = await crowd.ok(ADMIN, "schedule add every day 01:00 window:1d")
    assert "answers open for 1 day." in out
    out = await crowd.ok(ADMIN, "schedule add every day 02:00 window:1h")
    assert "answers open for 1 hour." in out


@pytest.mark.parametrize(
    "line",
    ["schedule add every monday 09:00 name:", "schedule add every monday 09:00 name: weekly"],
)
async def test_an_option_without_a_value_says_so(world: World, line: str) -> None:
    out = await Crowd(world).cmd(ADMIN, line)
    assert out.startswith("Error: 'name:' needs a value right after the colon, e.g. name:VALUE")


async def test_a_schedule_for_a_team_that_does_not_exist_is_refused(world: World) -> None:
    crowd = Crowd(world)
    await crowd.ok(ADMIN, "teams add sales")
    before = await snapshot(world)
    out = await crowd.cmd(ADMIN, "schedule add every monday 09:00 audience:team:nope")
    assert out == "Error: there is no team 'nope'. Teams: sales"
    assert await snapshot(world) == before
