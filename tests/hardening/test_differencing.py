"""Privacy that survives differencing (#11), through the console adapter and the real core.

The scenario of the issue: an organisation of 6 answers, a team `sales` of 5 and one person
outside it. Before #11 the `all` and `sales` rows of the export (and report.json, and the
chat reports) gave, per attribute, 6·share(all) − 5·share(sales) = the sixth person's picks.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.console.port import LOCAL_WORKSPACE
from adapters.console.session import ConsoleSession
from adapters.slack.render import report_blocks
from adapters.teams.cards import report_card
from bot.model.records import RoundInfo, RoundState
from bot.reports.render_text import render_home_text
from bot.runtime.outputs import export_rows, write_report_folder
from tests.core.conftest import EXAMPLES, World

ADMIN = "boss"
HIDDEN = "hidden so that individual answers cannot be worked out"
# Poll numbers: 1 price, 2 product quality, 3 reliability, 4 delivery speed,
# 5 customer support, 6 ease of use, 7 innovation, 8 relationship/trust.
SALES = {"s0": (1, 2, 3), "s1": (1, 2, 4), "s2": (1, 3, 5), "s3": (2, 1, 3), "s4": (1, 2, 6)}
SIXTH = {"o0": (7, 8, 4)}  # nobody in sales picked innovation or relationship/trust


_SESSIONS: dict[tuple[int, str], ConsoleSession] = {}


@pytest.fixture(autouse=True)
def _fresh_sessions() -> Iterator[None]:
    yield
    _SESSIONS.clear()  # ids of a finished test's world may be reused by the next one


def _session(world: World, user: str) -> ConsoleSession:
    """One session per person and world, so `unread()` shows only what is new."""
    return _SESSIONS.setdefault((id(world), user), world.session(user))


async def _cmd(world: World, user: str, line: str) -> str:
    """What the command answers, without the messages that arrived before it."""
    await _session(world, user).unread()
    out = await _session(world, user).handle_line(f"/alignment {line}")
    await world.app.core.idle()
    assert not out.startswith("Error"), (line, out)
    return out


async def _answer(world: World, round_id: int, answers: dict[str, tuple[int, ...]]) -> None:
    for person, picks in answers.items():
        line = f"answer {round_id} {' '.join(map(str, picks))}"
        assert "recorded" in await world.session(person).handle_line(line)
    await world.app.core.idle()


async def _six_and_five(world: World) -> None:
    await _cmd(world, ADMIN, f"research import {EXAMPLES / 'research_top3.csv'}")
    for person in [*SALES, *SIXTH]:
        await world.session(person).join()
    await _cmd(world, ADMIN, "teams add sales")
    await _cmd(world, ADMIN, f"teams members sales add {' '.join(SALES)}")
    await _cmd(world, ADMIN, "poll now window:2h")


async def _closed(world: World) -> RoundInfo:
    workspace = await world.app.core.workspace(LOCAL_WORKSPACE)
    rounds = await world.app.core.store.list_rounds(workspace.id, state=RoundState.CLOSED)
    return rounds[0]


def _groups_with_figures(payload: dict[str, Any]) -> set[str]:
    teams = {name for name, team in payload["teams"].items() if not team["suppressed"]}
    return teams | ({"all"} if not payload.get("suppressed") else set())


async def test_the_sixth_persons_answer_cannot_be_recovered(world: World, tmp_path: Path) -> None:
    await _six_and_five(world)
    await _answer(world, 1, {**SALES, **SIXTH})
    world.clock.advance(timedelta(hours=3))
    closing = await _cmd(world, ADMIN, "poll close")
    core, round_info = world.app.core, await _closed(world)
    workspace = await core.workspace(LOCAL_WORKSPACE)

    # Export: only the organisation's row set; no second group to subtract from it.
    rows = export_rows(round_info, await core.rounds.analysis(workspace, round_info))
    assert {row["group"] for row in rows} == {"all"}

    # report.json, for the organisation and for the team: only the organisation.
    for team in (None, "sales"):
        folder = tmp_path / f"report-{team}"
        await write_report_folder(
            core.rounds, workspace, round_info, folder, min_group_size=5, team=team
        )
        payload = json.loads((folder / "report.json").read_text())
        assert _groups_with_figures(payload) == {"all"}
        assert "mean_ranks" not in json.dumps(payload)
    assert not (tmp_path / "report-sales" / "chart.png").exists()

    # Chat: the team's report says why it is hidden and shows nothing of it.
    everyone = await _cmd(world, ADMIN, "report")
    assert f"| sales | {HIDDEN} | | | |" in everyone, everyone
    assert f"| sales | {HIDDEN} | | | |" in closing
    for line in ("report team:sales", "report team:sales segment:smb"):
        sales = await _cmd(world, ADMIN, line)
        assert f"These figures are {HIDDEN}." in sales, sales
        for figure in ("Alignment score", "Responses", "Staff top", "of staff", "Surprises"):
            assert figure not in sales, (line, figure)


async def test_an_open_round_shows_no_figures_and_a_rate_only_from_five_answers(
    world: World,
) -> None:
    await _six_and_five(world)
    await _answer(world, 1, SALES)
    at_five = await _cmd(world, ADMIN, "report round:1")
    assert "No figures while the round is open." in at_five
    assert "Response rate so far: 71%." in at_five  # 5 of the 7 invited (the admin too)
    await _answer(world, 1, SIXTH)
    at_six = await _cmd(world, ADMIN, "report round:1")
    for figure in ("Alignment score", "Staff top", "of staff", "| sales |"):
        assert figure not in at_five + at_six, figure
    assert "Response rate so far: 86%." in at_six


async def test_an_open_round_below_five_answers_shows_no_rate(world: World) -> None:
    await _six_and_five(world)
    await _answer(world, 1, {"s0": SALES["s0"], "s1": SALES["s1"]})
    out = await _cmd(world, ADMIN, "report round:1")
    assert "Response rate" not in out
    assert "%" not in out
    assert "fewer than 5 answers so far" in await _cmd(world, ADMIN, "poll status")
    home = await world.app.core.home_for(world.session(ADMIN).user)
    assert home.response_rate is None
    assert "Response rate" not in render_home_text(home)


async def test_report_without_a_round_uses_the_latest_closed_one(world: World) -> None:
    await _six_and_five(world)
    await _answer(world, 1, {**SALES, **SIXTH})
    world.clock.advance(timedelta(hours=3))
    await _cmd(world, ADMIN, "poll close")
    await _cmd(world, ADMIN, "poll now window:2h")
    out = await _cmd(world, ADMIN, "report")
    assert "- Round: Round 1 " in out, out
    assert "## Alignment score" in out


async def test_forgetting_never_changes_a_closed_rounds_published_figures(
    world: World, tmp_path: Path
) -> None:
    await _six_and_five(world)
    await _answer(world, 1, {**SALES, **SIXTH})
    world.clock.advance(timedelta(hours=3))
    await _cmd(world, ADMIN, "poll close")
    core, round_info = world.app.core, await _closed(world)
    workspace = await core.workspace(LOCAL_WORKSPACE)

    async def everything(name: str) -> tuple[list[dict[str, Any]], str, str]:
        folder = tmp_path / name
        await write_report_folder(core.rounds, workspace, round_info, folder, min_group_size=5)
        rows = export_rows(round_info, await core.rounds.analysis(workspace, round_info))
        report = await core.rounds.report(workspace, round_info)
        shown = (report.figures, report.teams, report.invited, report.surprises, report.notes)
        return rows, (folder / "report.json").read_text(), repr(shown)

    before = await everything("before")
    assert await _cmd(world, "o0", "forget me")
    assert await _cmd(world, "s0", "forget me")
    assert len(await core.store.answers_for_round(round_info.id)) == 4  # raw answers are gone
    assert await everything("after") == before


async def test_suppressed_notices_in_slack_and_teams_give_no_count(world: World) -> None:
    await _six_and_five(world)
    await _answer(world, 1, {"s0": SALES["s0"], "s1": SALES["s1"]})
    world.clock.advance(timedelta(hours=3))
    await _cmd(world, ADMIN, "poll close")
    workspace = await world.app.core.workspace(LOCAL_WORKSPACE)
    report = await world.app.core.rounds.report(workspace, await _closed(world))
    _, blocks = report_blocks(report)
    card = report_card(report)
    for rendered in (json.dumps(blocks), json.dumps(card)):
        assert "Too few answers to show results." in rendered
        assert "invited" not in rendered
        assert "7" not in rendered.split("Too few answers", 1)[1].split('"', 1)[0]
    for person in ("s0", "s1"):
        inbox = await world.session(person).handle_line("inbox")
        assert "Thank you for taking part." in inbox
        assert "answered" not in inbox.split("Thank you", 1)[1]


async def test_a_unanimous_pick_is_not_shown_as_everyone(world: World, tmp_path: Path) -> None:
    """Unanimity: six people all put price first. "100% of staff" would tell each one's
    first pick; the share is shown as 5 of 6 at most, and agreement is capped below 1."""
    await _six_and_five(world)
    same = (1, 2, 3)
    await _answer(world, 1, dict.fromkeys([*SALES, *SIXTH], same))
    world.clock.advance(timedelta(hours=3))
    await _cmd(world, ADMIN, "poll close")
    core, round_info = world.app.core, await _closed(world)
    workspace = await core.workspace(LOCAL_WORKSPACE)
    await write_report_folder(core.rounds, workspace, round_info, tmp_path, min_group_size=5)
    payload = json.loads((tmp_path / "report.json").read_text())
    shares = payload["employee_top_k_share"]
    assert max(shares.values()) == 5 / 6
    assert min(shares.values()) == 1 / 6
    assert payload["share_exact_match"] < 1
    assert payload["kendall_w"] <= 0.9
    for surprise in payload["surprises"]:
        assert 1 / 6 <= surprise["employee_share"] <= 5 / 6
    rows = export_rows(round_info, await core.rounds.analysis(workspace, round_info))
    assert all(0 < row["staff_top_k_share"] < 1 for row in rows)
    text = await _cmd(world, ADMIN, "report")
    assert "100%" not in text.split("Customers' top", 1)[0]
    assert "W=1.00" not in text
