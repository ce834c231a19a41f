"""What a new admin tripped over on a first real use (#16), typed into the console."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.reports import reporting
from bot.reports.chart import ChartData
from bot.rounds.scheduler import Scheduler, SingleProcessLock
from bot.runtime.cli import cli
from tests.core.conftest import World, make_world
from tests.core.test_commands import (
    ADMIN,
    Crowd,
    _answer_round,
    _bullets,
    _closed_round,
    snapshot,
)

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


# -- reports name their scope and compare like with like ------------------------------------


def _score(report: str) -> int:
    line = next(x for x in report.splitlines() if x.startswith("## Alignment score: "))
    return int(line.removeprefix("## Alignment score: ").split("/")[0])


async def _two_rounds(world: World, crowd: Crowd) -> None:
    """Round 1 as in test_commands; in round 2 everyone picks the enterprise customers' top 3."""
    await _closed_round(world, crowd)
    world.clock.advance(timedelta(days=7))
    await crowd.ok(ADMIN, "poll now window:2h")
    await world.app.core.idle()
    people = [f"s{i}" for i in range(6)] + ["t0", "t1"]
    await _answer_round(crowd, 2, dict.fromkeys(people, (3, 5, 8)))
    world.clock.advance(timedelta(hours=3))
    await crowd.ok(ADMIN, "poll close")


async def test_a_segment_report_names_its_segment_and_trends_that_segment(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    charts: list[ChartData] = []
    monkeypatch.setattr(reporting, "render_chart", lambda data: charts.append(data) or b"png")
    crowd = Crowd(world)
    await _two_rounds(world, crowd)
    smb_before = _score(await crowd.report(ADMIN, "report segment:smb round:1"))
    headline_before = _score(await crowd.report(ADMIN, "report round:1"))
    assert smb_before != headline_before  # otherwise this test could not tell them apart

    charts.clear()
    smb = await crowd.report(ADMIN, "report segment:smb")

    assert "# Do we know what our customers value? — Round 2 (2026-03-09) · all staff · " in smb
    assert "· vs smb customers (#1 research_top3.csv)\n" in smb
    assert f"- Alignment score: {smb_before} → {_score(smb)} " in smb
    (chart,) = charts
    assert chart.subtitle == "Round 2 (2026-03-09) · all staff · vs smb customers (#1 research_top3.csv)"  # fmt: skip
    assert chart.trend == (("Round 1 (2026-03-02)", smb_before), ("Round 2 (2026-03-09)", _score(smb)))  # fmt: skip


async def test_the_headline_report_says_which_study_it_compares_with(world: World) -> None:
    crowd = Crowd(world)
    await _closed_round(world, crowd)
    report = await crowd.report(ADMIN)
    # No all-customers study: the headline is the enterprise segment, and the title says so.
    assert "· all staff · vs enterprise customers (#2 research_top3.csv)\n" in report


@pytest.fixture
async def team_world(database_url: str, tmp_path: Path) -> AsyncIterator[World]:
    """A world whose team figures can be shown. In these scenarios sales is 6 of 8 staff, so
    at the default minimum of 5 privacy hides sales (8 - 6 = 2 people could be worked out,
    tests/hardening/test_differencing.py); a minimum of 2 lets the team's own figures show."""
    async for world in make_world(database_url, tmp_path, min_group_size=2):
        yield world


async def test_a_team_report_trends_the_same_team(team_world: World) -> None:
    crowd = Crowd(team_world)
    await _two_rounds(team_world, crowd)
    # The chance-corrected score looks at the staff's top k only, which sales and the whole
    # organisation share in round 1; their internal agreement tells the two apart.
    before = _agreement(await crowd.report(ADMIN, "report team:sales round:1"))
    whole_before = _agreement(await crowd.report(ADMIN, "report round:1"))
    assert before != whole_before

    sales = await crowd.report(ADMIN, "report team:sales")

    assert "— Round 2 (2026-03-09) · team sales · vs enterprise customers" in sales
    assert "## Since the previous round" in sales
    assert f"- Agreement (Kendall's W): {before} → {_agreement(sales)} " in sales


def _agreement(report: str) -> str:
    line = next(x for x in report.splitlines() if x.startswith("- Internal agreement: "))
    return line.rsplit("(W=", 1)[1].rstrip(")")


def _png_files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if p.read_bytes().startswith(b"\x89PNG")}


async def test_filtered_reports_write_distinct_chart_files(
    team_world: World, tmp_path: Path
) -> None:
    crowd = Crowd(team_world)
    await _closed_round(team_world, crowd)
    paths = []
    for line in ("report", "report team:sales", "report segment:smb", "report team:sales segment:smb"):  # fmt: skip
        out = await crowd.report(ADMIN, line)
        paths.append(out.rsplit("Chart: ", 1)[1].strip())
    assert len(set(paths)) == 4, paths
    assert (
        {Path(p).name for p in paths}
        == _png_files(tmp_path / "charts")
        == {
            "chart-round-1--2026-03-02.png",
            "chart-round-1--2026-03-02--segment-smb.png",
            "chart-round-1--2026-03-02--team-sales--segment-smb.png",
            "chart-round-1--2026-03-02--team-sales.png",
        }
    )


async def test_a_team_report_shows_the_teams_own_response_rate(team_world: World) -> None:
    crowd = Crowd(team_world)
    await _closed_round(team_world, crowd)  # all six sales people answered, eight of nine overall
    whole = await crowd.report(ADMIN)
    sales = await crowd.report(ADMIN, "report team:sales")
    assert "- Responses: 8 of 9 (89%)" in whole
    assert "- Responses: 6 of 6 (100%)" in sales


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--team=nope", "there is no team 'nope'. Teams: sales, support; nothing was written."),
        ("--segment=nope", "there is no research for segment 'nope'. Segments: enterprise, smb"),
    ],
)
async def test_the_cli_report_refuses_an_unknown_team_or_segment(
    world: World, database_url: str, tmp_path: Path, option: str, message: str
) -> None:
    crowd = Crowd(world)
    await _closed_round(world, crowd)
    out = tmp_path / "report"
    env = {"DATABASE_URL": database_url}
    result = await asyncio.to_thread(
        CliRunner().invoke, cli, ["report", "--out", str(out), option], env=env
    )
    assert result.exit_code == 1, result.output
    assert message in result.stderr
    assert not out.exists()


# -- roles, attributes, rounds and files ------------------------------------------------------


async def test_a_refusal_says_how_to_get_the_role(world: World) -> None:
    out = await Crowd(world).cmd("emp", 'attributes add "speed"')
    assert out == (
        "Error: Only admins can use '/alignment attributes add'; nothing was changed. "
        "An admin can grant it: '/alignment admins add emp'."
    )
    out = await Crowd(world).cmd("emp", "report")
    assert out.endswith("An admin can grant it: '/alignment admins add emp role:manager'.")


async def test_in_a_workspace_without_admins_a_refusal_names_alignment_admins(
    world: World,
) -> None:
    core = world.app.core
    core.settings = core.settings.model_copy(update={"admins": ()})
    out = await Crowd(world).cmd("ann", "schedule add every monday 09:00")
    assert out == (
        "Error: Only admins can use '/alignment schedule add'; nothing was changed. "
        "This workspace has no admin yet: whoever runs the bot sets ALIGNMENT_ADMINS to the "
        "first admins' user ids (e.g. ALIGNMENT_ADMINS=ann) and restarts it."
    )


async def test_re_adding_a_removed_attribute_says_which_description_it_has(
    world: World,
) -> None:
    crowd = Crowd(world)
    await crowd.ok(ADMIN, 'attributes add "speed" "Old words"')
    await crowd.ok(ADMIN, 'attributes remove "speed"')
    out = await crowd.ok(ADMIN, 'attributes add "speed"')
    assert out == (
        "Added 'speed' back, with its earlier description 'Old words'; "
        "its earlier answers count again."
    )
    assert "• speed — Old words" in await crowd.ok(ADMIN, "attributes list")
    await crowd.ok(ADMIN, 'attributes remove "speed"')
    out = await crowd.ok(ADMIN, 'attributes add "speed" "New words"')
    assert out == "Added 'speed' back, described as 'New words'; its earlier answers count again."
    assert "• speed — New words" in await crowd.ok(ADMIN, "attributes list")
    await crowd.ok(ADMIN, 'attributes add "pace"')
    await crowd.ok(ADMIN, 'attributes remove "pace"')
    out = await crowd.ok(ADMIN, 'attributes add "pace"')
    assert out == "Added 'pace' back, with no description; its earlier answers count again."


async def test_closing_a_round_is_in_the_audit_log(world: World) -> None:
    crowd = Crowd(world)
    await crowd.ok(ADMIN, "poll now window:2h")
    await crowd.ok(ADMIN, "poll close")
    await crowd.ok(ADMIN, "poll now window:2h")
    world.clock.advance(timedelta(hours=3))
    scheduler = Scheduler(core=world.app.core, lock=SingleProcessLock(), clock=world.clock)
    assert (await scheduler.run_due(world.clock.now)).closed == 1
    audit = await crowd.ok(ADMIN, "audit")
    assert "console:local:boss: round closed: 1" in audit
    assert "deadline: round closed: 2" in audit


async def test_a_second_open_round_for_the_same_people_is_warned_about(world: World) -> None:
    crowd = Crowd(world)
    await crowd["s1"].join()
    await crowd.ok(ADMIN, "teams add sales")
    await crowd.ok(ADMIN, "teams members sales add s1")
    first = await crowd.ok(ADMIN, "poll now")
    assert "Note:" not in first
    other_team = await crowd.ok(ADMIN, "poll now team:sales")
    assert "Note:" not in other_team
    second = await crowd.ok(ADMIN, "poll now")
    assert second.endswith(
        "\nNote: Round 1 (2026-03-02) for everyone is still open too, so these people have 2 "
        "polls to answer; if that was not meant, close the older one with "
        "'/alignment poll close round:1'."
    )


async def test_a_binary_research_file_is_refused_in_words(world: World, tmp_path: Path) -> None:
    workbook = tmp_path / "research.xlsx"
    await asyncio.to_thread(workbook.write_bytes, b"PK\x03\x04\x14\x00\xc8\x00 not text")
    out = await Crowd(world).cmd(ADMIN, f"research import {workbook}")
    assert out == (
        "Error: 'research.xlsx' is not a UTF-8 text file (byte 0xc8 at position 6): research "
        "must be CSV or JSON saved as UTF-8; save a spreadsheet (.xlsx, .ods) as 'CSV UTF-8' "
        "first."
    )


async def test_the_cli_report_for_a_team_names_its_scope_in_every_file(
    team_world: World, database_url: str, tmp_path: Path
) -> None:
    crowd = Crowd(team_world)
    await _closed_round(team_world, crowd)
    out = tmp_path / "report"
    env = {"DATABASE_URL": database_url, "ALIGNMENT_MIN_GROUP_SIZE": "2"}
    result = await asyncio.to_thread(
        CliRunner().invoke, cli, ["report", "--out", str(out), "--team", "SALES"], env=env
    )
    assert result.exit_code == 0, result.output
    title = "Round 1 (2026-03-02) · team sales · vs enterprise customers (#2 research_top3.csv)"
    report = json.loads(await asyncio.to_thread((out / "report.json").read_text))
    assert report["title"].endswith(title)
    assert report["team"] == "sales"
    markdown = await asyncio.to_thread((out / "report.md").read_text)
    assert markdown.startswith(f"# Do we know what our customers value? — {title}\n")
    assert "- Responses: 6 of 6 (100%)" in markdown
