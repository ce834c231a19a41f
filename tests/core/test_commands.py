"""Every `/alignment …` command, typed into the console by someone with the right role.

Each test checks the words a person sees and the state left behind: a refused change is
followed by a re-list that proves nothing moved.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from adapters.console.port import LOCAL_WORKSPACE
from adapters.console.session import ConsoleSession
from bot.commands.parser import COMMANDS
from bot.model.defaults import DEFAULT_ATTRIBUTES, MAX_ATTRIBUTES, MIN_ATTRIBUTES
from bot.model.domain import Role
from bot.model.mirror import MirrorPage
from tests.core.conftest import EXAMPLES, World

ADMIN, MANAGER, EMPLOYEE = "boss", "mgr", "emp"

# What an admin sees before and after a change; a refused command must leave all of it as is.
SNAPSHOT = (
    "attributes list",
    "teams list",
    "research list",
    "schedule list",
    "admins list",
    "poll status",
    "audit",
    "mirror list",
)

# One valid line per command, with arguments that would change something if allowed.
SAMPLES: dict[str, str] = {
    "help": "help",
    "me": "me",
    "forget me": "forget me",
    "report": "report",
    "dashboard": "dashboard",
    "poll now": "poll now window:2h",
    "poll status": "poll status",
    "poll close": "poll close",
    "attributes list": "attributes list",
    "attributes add": 'attributes add "on-time delivery" "It arrives when promised"',
    "attributes remove": 'attributes remove "price"',
    "attributes rename": 'attributes rename "price" "total cost"',
    "research import": f"research import {EXAMPLES / 'research_ranking.csv'}",
    "research list": "research list",
    "research show": "research show 1",
    "teams list": "teams list",
    "teams add": 'teams add "Field Sales"',
    "teams remove": "teams remove sales",
    "teams members": "teams members sales add emp",
    "schedule list": "schedule list",
    "schedule add": "schedule add every friday 15:00 tz:Europe/Berlin",
    "schedule pause": "schedule pause 1",
    "schedule resume": "schedule resume 2",
    "schedule remove": "schedule remove 1",
    "schedule next": "schedule next 1",
    "admins list": "admins list",
    "admins add": "admins add emp role:manager",
    "admins remove": "admins remove mgr",
    "audit": "audit",
    "mirror create": "mirror create segment:smb k:3 name:'SMB customers'",
    "mirror list": "mirror list",
    "mirror close": "mirror close 1",
    "mirror publish": "mirror publish 1",
    "mirror links": "mirror links 1 count:2",
    "mirror open": "mirror open 1",
}

# Commands whose success shows in the snapshot (the rest only read).
CHANGES_STATE = {
    "poll now",
    "poll close",
    "attributes add",
    "attributes remove",
    "attributes rename",
    "research import",
    "teams add",
    "teams remove",
    "teams members",
    "schedule add",
    "schedule pause",
    "schedule resume",
    "schedule remove",
    "admins add",
    "admins remove",
    "mirror create",
    "mirror close",
    "mirror publish",
}

PRIVILEGED = [name for name, spec in COMMANDS.items() if spec.role is not Role.EMPLOYEE]
ADMIN_ONLY = [name for name, spec in COMMANDS.items() if spec.role is Role.ADMIN]


class Crowd:
    """One long-lived console session per person, so `unread()` shows only what is new."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._sessions: dict[str, ConsoleSession] = {}

    def __getitem__(self, user: str) -> ConsoleSession:
        if user not in self._sessions:
            self._sessions[user] = self.world.session(user)
        return self._sessions[user]

    async def cmd(self, user: str, line: str) -> str:
        out = await self[user].handle_line(f"/alignment {line}")
        await self.world.app.core.idle()  # queued polls, reports and feedback have gone out
        return out

    async def ok(self, user: str, line: str) -> str:
        out = await self.cmd(user, line)
        assert not out.startswith("Error"), f"{line!r} failed: {out}"
        return out

    async def report(self, user: str, line: str = "report") -> str:
        """A report run in the channel: what arrives there, and nothing older."""
        await self[user].unread()
        return await self.cmd(user, line)


async def snapshot(world: World) -> dict[str, str]:
    return {line: await world.run(ADMIN, f"/alignment {line}") for line in SNAPSHOT}


def _bullets(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("• ")]


async def _join(crowd: Crowd, *people: str) -> None:
    for person in people:
        await crowd[person].join()


async def _answer_round(
    crowd: Crowd, round_id: int, answers: dict[str, tuple[int, int, int]]
) -> None:
    for person, picks in answers.items():
        out = await crowd[person].handle_line(f"answer {round_id} {' '.join(map(str, picks))}")
        assert "recorded" in out, out


# Picks by poll number: 1 price, 2 product quality, 3 reliability, 4 delivery speed,
# 5 customer support, 6 ease of use, 7 innovation, 8 relationship/trust.
SALES_PICKS = [(1, 2, 3), (1, 2, 4), (1, 3, 5), (2, 1, 3), (1, 2, 6), (1, 7, 2)]
SUPPORT_PICKS = [(5, 3, 8), (5, 3, 4)]


async def _closed_round(world: World, crowd: Crowd) -> None:
    """Research, teams sales (6) and support (2), one closed round with 8 answers."""
    await crowd.ok(ADMIN, f"research import {EXAMPLES / 'research_top3.csv'}")
    sales = [f"s{i}" for i in range(6)]
    support = ["t0", "t1"]
    await _join(crowd, *sales, *support)
    await crowd.ok(ADMIN, "teams add sales")
    await crowd.ok(ADMIN, f"teams members sales add {' '.join(sales)}")
    await crowd.ok(ADMIN, "teams add support")
    await crowd.ok(ADMIN, "teams members support add t0 t1")
    await crowd.ok(ADMIN, "poll now window:2h")
    await world.app.core.idle()
    await _answer_round(
        crowd, 1, dict(zip(sales + support, SALES_PICKS + SUPPORT_PICKS, strict=True))
    )
    world.clock.advance(timedelta(hours=3))
    await crowd.ok(ADMIN, "poll close")


# -- help ----------------------------------------------------------------------------------


async def test_help_lists_exactly_the_commands_of_each_role(world: World) -> None:
    await world.run(ADMIN, f"/alignment admins add {MANAGER} role:manager")
    for user, role in [(EMPLOYEE, Role.EMPLOYEE), (MANAGER, Role.MANAGER), (ADMIN, Role.ADMIN)]:
        out = await world.run(user, "/alignment help")
        for name, spec in COMMANDS.items():
            line = f"• /alignment {spec.usage} — {spec.summary}"
            assert (line in out) is role.allows(spec.role), (user, name, out)
        assert len(_bullets(out)) == sum(role.allows(s.role) for s in COMMANDS.values())
        # An empty command is help too.
        assert await world.run(user, "/alignment") == out


async def test_an_employee_does_not_see_admin_or_manager_commands(world: World) -> None:
    out = await world.run(EMPLOYEE, "/alignment help")
    assert "/alignment me" in out
    assert "/alignment attributes list" in out
    for hidden in ("attributes add", "report", "poll now", "admins add", "audit", "research"):
        assert f"/alignment {hidden}" not in out, hidden


# -- me / forget me ------------------------------------------------------------------------


async def test_me_lists_my_answer_and_forget_me_keeps_published_figures_frozen(
    world: World,
) -> None:
    # Before #11 forgetting recomputed the closed round without the person, so the report
    # before and after gave their answer away; now a closed round's figures are frozen.
    crowd = Crowd(world)
    assert await crowd.cmd("s0", "me") == "You have not answered any poll yet."
    await _closed_round(world, crowd)
    out = await crowd.cmd("s5", "me")
    assert "Your top 3 in Round 1" in out
    assert "price, innovation, product quality" in out
    before = await crowd.report(ADMIN, "report round:1")
    assert "- Responses: 8 of 9" in before

    out = await crowd.cmd("s5", "forget me")
    assert out.startswith("Done: your answers and your identity are deleted"), out
    assert await crowd.cmd("s5", "me") == "You have not answered any poll yet."
    assert len(await world.app.core.store.answers_for_round(1)) == 7

    after = await crowd.report(ADMIN, "report round:1")
    assert _without_timestamp(after) == _without_timestamp(before)
    assert "person forgotten at their request" in await crowd.cmd(ADMIN, "audit")
    await crowd.ok("s4", "forget me")
    after = await crowd.report(ADMIN, "report round:1")
    assert _without_timestamp(after) == _without_timestamp(before)


def _without_timestamp(report: str) -> str:
    return "\n".join(line for line in report.splitlines() if not line.startswith("- Generated:"))


async def test_me_after_close_shows_customers_top_3(world: World) -> None:
    crowd = Crowd(world)
    await _closed_round(world, crowd)
    out = await crowd.cmd("s0", "me")
    assert out == (
        "Your top 3 in Round 1 (2026-03-02): price, product quality, reliability. "
        "Customers' top 3 were reliability, customer support, relationship/trust; "
        "you had 1 of them (reliability)."
    )


# -- report --------------------------------------------------------------------------------


async def test_report_before_any_round(world: World) -> None:
    out = await world.run(MANAGER, "/alignment report")
    assert out.startswith("Error: Only managers or admins"), out
    out = await world.run(ADMIN, "/alignment report")
    assert out == "Error: no round has run yet: start one with '/alignment poll now'"


async def test_report_says_too_few_answers_below_five_respondents(world: World) -> None:
    crowd = Crowd(world)
    await crowd.ok(ADMIN, f"research import {EXAMPLES / 'research.json'}")
    await _join(crowd, "a", "b", "c", "d")
    await crowd.ok(ADMIN, "poll now")
    await world.app.core.idle()
    await _answer_round(crowd, 1, {"a": (1, 2, 3), "b": (3, 2, 1), "c": (5, 3, 8), "d": (1, 4, 6)})
    world.clock.advance(timedelta(days=4))
    out = await crowd.ok(ADMIN, "poll close")
    assert "Too few answers to report yet (minimum 5)." in out, out
    assert "Alignment score" not in out
    out = await crowd.report(ADMIN)
    assert "Too few answers to report yet" in out, out
    assert "Too few answers to show results (at least 5 are needed)." in out
    assert "Alignment score" not in out
    assert "Responses" not in out  # not even the count of a suppressed group


async def test_report_by_team_segment_and_round(world: World) -> None:
    crowd = Crowd(world)
    await _closed_round(world, crowd)

    everyone = await crowd.report(ADMIN)
    assert everyone.startswith(
        "[#general] # Do we know what our customers value? — Round 1 (2026-03-02) · all staff · "
        "vs enterprise customers (#2 research_top3.csv)\n"
    ), everyone
    assert "- Round: Round 1 (2026-03-02)" in everyone
    assert "- Responses: 8 of 9 (89%)" in everyone
    assert "- Staff top 3: price, product quality, reliability" in everyone
    # Everyone (8) minus sales (6) would show the two support answers (#11): sales is hidden.
    assert "| sales | hidden so that individual answers cannot be worked out | | | |" in everyone
    assert "| support | too few answers | | | |" in everyone
    assert everyone.count("[#general]") == 1

    sales = await crowd.report(ADMIN, "report team:sales")
    assert "# Do we know what our customers value? — Round 1 (2026-03-02) · team sales" in sales
    assert "These figures are hidden so that individual answers cannot be worked out." in sales
    assert "- Responses:" not in sales
    assert "## Teams" not in sales

    support = await crowd.report(ADMIN, "report team:support")
    assert "Too few answers to report yet" in support
    assert "Alignment score" not in support

    smb = await crowd.report(ADMIN, "report segment:smb")
    assert "- Customers' top 3: price, ease of use, delivery speed" in smb, smb
    enterprise = await crowd.report(ADMIN, "report segment:enterprise")
    assert "- Customers' top 3: reliability, customer support, relationship/trust" in enterprise

    # A second round: the plain report shows it, round:1 still shows the first.
    world.clock.advance(timedelta(days=7))
    await crowd.ok(ADMIN, "poll now team:sales")
    await world.app.core.idle()
    world.clock.advance(timedelta(days=4))
    await crowd.ok(ADMIN, "poll close")
    latest = await crowd.report(ADMIN)
    assert "- Round: Round 2 (2026-03-09)" in latest
    first = await crowd.report(ADMIN, "report round:1")
    assert "- Round: Round 1 (2026-03-02)" in first
    assert "- Responses: 8 of 9" in first

    assert await crowd.cmd(ADMIN, "report round:99") == "Error: there is no round 99"
    assert await crowd.cmd(ADMIN, "report round:one") == (
        "Error: round must be a number, not 'one'"
    )


async def test_report_for_an_unknown_team_says_so(world: World) -> None:
    crowd = Crowd(world)
    await _closed_round(world, crowd)
    before = await crowd[ADMIN].unread()
    out = await crowd.cmd(ADMIN, "report team:nosuchteam")
    assert out == "Error: there is no team 'nosuchteam'. Teams: sales, support", before
    assert await crowd[ADMIN].unread() == ""  # nothing was posted in the channel


async def test_report_for_an_unknown_segment_says_so(world: World) -> None:
    crowd = Crowd(world)
    await _closed_round(world, crowd)
    await crowd[ADMIN].unread()
    out = await crowd.cmd(ADMIN, "report segment:martians")
    assert out == (
        "Error: there is no research for segment 'martians'. Segments: enterprise, smb"
    ), out
    assert await crowd[ADMIN].unread() == ""


# -- poll ----------------------------------------------------------------------------------


async def test_poll_now_for_a_team_with_a_window_then_status_and_close(world: World) -> None:
    crowd = Crowd(world)
    await _join(crowd, "a", "b", "c", "outsider")
    await crowd.ok(ADMIN, "teams add sales")
    await crowd.ok(ADMIN, "teams members sales add a b c")

    out = await crowd.ok(ADMIN, "poll now team:sales window:2h")
    assert out == (
        "Round 1 (2026-03-02) is open: the poll is on its way to 3 people; "
        "answers close 2026-03-02 11:00 UTC."
    )
    await world.app.core.idle()
    for person in ("a", "b", "c"):
        inbox = await crowd[person].unread()
        assert inbox.count("Round 1: Which attributes") == 1, inbox
        assert "Deadline: 2026-03-02 11:00 UTC" in inbox
    assert "Round 1" not in await crowd["outsider"].unread()
    assert "Round 1" not in await crowd[ADMIN].unread()

    # Below the minimum group size the status shows no count (#11).
    below = "• Round 1 (2026-03-02): fewer than 5 answers so far, closes 2026-03-02 11:00 UTC"
    out = await crowd.ok(ADMIN, "poll status")
    assert out == below
    await _answer_round(crowd, 1, {"a": (1, 2, 3), "b": (2, 3, 4)})
    out = await crowd.ok(ADMIN, "poll status")
    assert out == below
    assert len(await world.app.core.store.answers_for_round(1)) == 2

    out = await crowd.ok(ADMIN, "poll close round:1")
    assert out.startswith("Round 1 (2026-03-02) is closed.\n"), out
    assert await crowd.ok(ADMIN, "poll status") == "No round is open."
    assert await crowd.cmd(ADMIN, "poll close") == "Error: Round 1 (2026-03-02) is already closed."
    assert await crowd.cmd(ADMIN, "poll close round:7") == "Error: there is no round 7"


async def test_poll_now_for_everyone_uses_the_default_window(world: World) -> None:
    crowd = Crowd(world)
    await _join(crowd, "a", "b")
    out = await crowd.ok(ADMIN, "poll now")
    default = world.app.core.settings.answer_window
    deadline = world.clock.now + default
    assert f"on its way to 3 people; answers close {deadline:%Y-%m-%d %H:%M} UTC." in out
    await world.app.core.idle()


async def test_poll_now_refused_for_an_unknown_or_empty_team_or_bad_window(
    world: World,
) -> None:
    crowd = Crowd(world)
    await _join(crowd, "a")
    await crowd.ok(ADMIN, "teams add empty")
    assert await crowd.cmd(ADMIN, "poll now team:ghosts") == (
        "Error: there is no team called 'ghosts'"
    )
    assert await crowd.cmd(ADMIN, "poll now team:empty") == (
        "Error: nobody is in the audience 'team:empty' yet"
    )
    out = await crowd.cmd(ADMIN, "poll now window:soon")
    assert out.startswith("Error: 'soon' is not a duration."), out
    assert await crowd.ok(ADMIN, "poll status") == "No round is open."
    assert "round opened" not in await crowd.cmd(ADMIN, "audit")
    assert await crowd["a"].unread() == ""


# -- attributes ----------------------------------------------------------------------------


async def test_attributes_list_shows_the_defaults(world: World) -> None:
    out = await world.run(EMPLOYEE, "/alignment attributes list")
    assert out.splitlines()[0] == f"{len(DEFAULT_ATTRIBUTES)} attributes:"
    assert _bullets(out) == [f"• {name} — {text}" for name, text in DEFAULT_ATTRIBUTES]


async def test_attributes_add_rename_remove_with_quoted_names(world: World) -> None:
    crowd = Crowd(world)
    out = await crowd.ok(ADMIN, 'attributes add "on-time delivery" "It arrives when promised"')
    assert out == "Added 'on-time delivery'."
    # Typographic quotes, as chat clients send them, work the same.
    assert await crowd.ok(ADMIN, "attributes add “green  credentials”") == (
        "Added 'green credentials'."
    )
    listed = await crowd.ok(EMPLOYEE, "attributes list")
    assert listed.startswith("10 attributes:")
    assert "• on-time delivery — It arrives when promised" in listed
    assert "• green credentials" in listed

    out = await crowd.ok(ADMIN, 'attributes rename "on-time delivery" "punctual delivery"')
    assert out == "Renamed 'on-time delivery' to 'punctual delivery'."
    assert await crowd.ok(ADMIN, 'attributes rename "Price" "price"') == (
        "Renamed 'price' to 'price'."
    )
    out = await crowd.ok(ADMIN, 'attributes remove "punctual delivery"')
    assert out == "Removed 'punctual delivery' (earlier answers that name it are kept)."
    listed = await crowd.ok(ADMIN, "attributes list")
    assert listed.startswith("9 attributes:")
    assert "punctual" not in listed
    assert "on-time" not in listed

    audit = await crowd.ok(ADMIN, "audit")
    assert "console:local:boss: attribute added: on-time delivery" in audit
    assert "console:local:boss: attribute renamed: on-time delivery -> punctual delivery" in audit
    assert "console:local:boss: attribute removed: punctual delivery" in audit


async def test_attributes_refusals_change_nothing(world: World) -> None:
    crowd = Crowd(world)
    before = await crowd.ok(ADMIN, "attributes list")
    known = ", ".join(name for name, _ in DEFAULT_ATTRIBUTES)

    assert await crowd.cmd(ADMIN, 'attributes add "Price"') == (
        "Error: Attribute 'price' already exists."
    )
    assert await crowd.cmd(ADMIN, 'attributes rename "price" "Reliability"') == (
        "Error: 'Reliability' is already taken."
    )
    assert await crowd.cmd(ADMIN, 'attributes rename "cost" "total cost"') == (
        f"Error: there is no attribute 'cost'. Known: {known}"
    )
    assert await crowd.cmd(ADMIN, 'attributes remove "speed"') == (
        f"Error: there is no attribute 'speed'. Known: {known}"
    )
    assert await crowd.cmd(ADMIN, 'attributes add "   "') == (
        "Error: an attribute name needs 1 to 80 characters"
    )
    assert await crowd.cmd(ADMIN, f'attributes add "{"x" * 81}"') == (
        "Error: an attribute name needs 1 to 80 characters"
    )
    assert await crowd.ok(ADMIN, "attributes list") == before
    assert await crowd.ok(ADMIN, "audit") == "No admin changes yet."


async def test_attributes_cannot_go_below_the_minimum(world: World) -> None:
    crowd = Crowd(world)
    names = [name for name, _ in DEFAULT_ATTRIBUTES]
    for name in names[: len(names) - MIN_ATTRIBUTES]:
        await crowd.ok(ADMIN, f'attributes remove "{name}"')
    before = await crowd.ok(ADMIN, "attributes list")
    assert before.startswith(f"{MIN_ATTRIBUTES} attributes:")
    out = await crowd.cmd(ADMIN, f'attributes remove "{names[-1]}"')
    assert out == f"Error: There must be at least {MIN_ATTRIBUTES} attributes; add one first."
    assert await crowd.ok(ADMIN, "attributes list") == before
    # A retired attribute can come back, and then removing is allowed again.
    assert (await crowd.ok(ADMIN, 'attributes add "price"')).startswith("Added 'price' back, ")
    assert (await crowd.ok(ADMIN, "attributes list")).startswith(
        f"{MIN_ATTRIBUTES + 1} attributes:"
    )


async def test_attributes_cannot_go_above_the_maximum(world: World) -> None:
    crowd = Crowd(world)
    for i in range(MAX_ATTRIBUTES - len(DEFAULT_ATTRIBUTES)):
        await crowd.ok(ADMIN, f'attributes add "extra {i}"')
    before = await crowd.ok(ADMIN, "attributes list")
    assert before.startswith(f"{MAX_ATTRIBUTES} attributes:")
    out = await crowd.cmd(ADMIN, 'attributes add "one too many"')
    assert out == f"Error: There can be at most {MAX_ATTRIBUTES} attributes; remove one first."
    assert await crowd.ok(ADMIN, "attributes list") == before


# -- research ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "labels", "first_row"),
    [
        ("research_top3.csv", ["research_top3.csv [smb] (top3)", "research_top3.csv [enterprise] (top3)"], "• price: 170"),
        ("research_ranking.csv", ["research_ranking.csv (ranking)"], "• reliability: 1"),
        ("research_importance.csv", ["research_importance.csv (importance)"], "• reliability: 6.21"),
        ("research.json", ["Customer survey Q3 2026 [enterprise], 2026-09-30 (top3)"], "• reliability: 210"),
    ],
)  # fmt: skip
async def test_research_import_each_example_file(
    world: World, filename: str, labels: list[str], first_row: str
) -> None:
    crowd = Crowd(world)
    out = await crowd.ok(ADMIN, f"research import {EXAMPLES / filename}")
    noun = "study" if len(labels) == 1 else "studies"
    numbered = [f"• #{i} {label}" for i, label in enumerate(labels, start=1)]
    assert out == f"Imported {len(labels)} {noun}:\n" + "\n".join(numbered)
    listed = await crowd.ok(ADMIN, "research list")
    assert _bullets(listed) == list(reversed(numbered))  # newest first
    shown = await crowd.ok(ADMIN, "research show 1")
    assert shown.splitlines()[0].startswith(f"#1 {labels[0]}")
    assert shown.splitlines()[1] == first_row
    assert len(_bullets(shown)) == len(DEFAULT_ATTRIBUTES)

    again = await crowd.cmd(ADMIN, f"research import {EXAMPLES / filename}")
    assert again.startswith("Error: this research ("), again
    assert "was already imported; nothing was saved again" in again
    assert await crowd.ok(ADMIN, "research list") == listed


async def test_research_import_with_a_segment_and_a_source(world: World) -> None:
    crowd = Crowd(world)
    out = await crowd.ok(ADMIN, f"research import {EXAMPLES / 'research_ranking.csv'} segment:smb")
    assert out == "Imported 1 study:\n• #1 research_ranking.csv [smb] (ranking)"
    out = await crowd.ok(
        ADMIN,
        f'research import {EXAMPLES / "research_top3.csv"} segment:enterprise source:"Panel 2026"',
    )
    assert out == "Imported 1 study:\n• #2 Panel 2026 [enterprise] (top3)"
    assert (await crowd.ok(ADMIN, "research show 2")).startswith(
        "#2 Panel 2026 [enterprise] (top3), 180 customers\n• reliability: 128"
    )
    before = await crowd.ok(ADMIN, "research list")
    out = await crowd.cmd(ADMIN, f"research import {EXAMPLES / 'research_top3.csv'} segment:mid")
    assert out == (
        "Error: research import refused, nothing was saved: line 1, field 'segment': "
        "segment 'mid' is not in the file; segments present: smb, enterprise"
    )
    assert await crowd.ok(ADMIN, "research list") == before


async def test_research_import_with_one_bad_row_names_it_and_saves_nothing(
    world: World, tmp_path: Path
) -> None:
    crowd = Crowd(world)
    lines = (EXAMPLES / "research_ranking.csv").read_text().splitlines()
    assert lines[3] == "customer support,3"
    lines[3] = "customer support,third"
    bad = tmp_path / "bad_ranking.csv"
    bad.write_text("\n".join(lines) + "\n")

    out = await crowd.cmd(ADMIN, f"research import {bad}")
    assert out.startswith("Error: research import refused, nothing was saved:"), out
    assert "line 4, field 'rank'" in out
    assert "third" in out
    assert await crowd.ok(ADMIN, "research list") == (
        "No research imported yet: use '/alignment research import'."
    )
    assert "research imported" not in await crowd.ok(ADMIN, "audit")

    out = await crowd.cmd(ADMIN, f"research import {tmp_path / 'missing.csv'}")
    assert out.startswith(f"Error: cannot read '{tmp_path / 'missing.csv'}'"), out
    # Without a file the console explains how to name one.
    out = await crowd.cmd(ADMIN, "research import")
    assert out == "In the console, name the file: /alignment research import FILE [segment:NAME]"
    assert (await crowd.ok(ADMIN, "research list")).startswith("No research imported yet")


async def test_research_show_bad_ids(world: World) -> None:
    crowd = Crowd(world)
    await crowd.ok(ADMIN, f"research import {EXAMPLES / 'research_ranking.csv'}")
    assert await crowd.cmd(ADMIN, "research show first") == (
        "Error: study id must be a number, not 'first'"
    )
    assert await crowd.cmd(ADMIN, "research show 2") == "Error: there is no study 2"


async def test_research_show_unknown_id_spells_study(world: World) -> None:
    out = await world.run(ADMIN, "/alignment research show 99")
    assert out == "Error: there is no study 99"


# -- teams ---------------------------------------------------------------------------------


async def test_teams_add_members_remove(world: World) -> None:
    crowd = Crowd(world)
    assert await crowd.ok(EMPLOYEE, "teams list") == (
        "No teams yet: add one with '/alignment teams add NAME'."
    )
    assert await crowd.ok(ADMIN, 'teams add "Field Sales"') == "Added team 'Field Sales'."
    assert await crowd.cmd(ADMIN, 'teams add "field   sales"') == (
        "Error: A team called 'field sales' already exists."
    )
    assert await crowd.ok(ADMIN, "teams add ops channel:#ops") == (
        "Added team 'ops'. Members come from channel:ops."
    )
    out = await crowd.ok(ADMIN, 'teams members "field sales" add ann @bob cat')
    assert out == "Team 'Field Sales' (3): ann, bob, cat"
    out = await crowd.ok(ADMIN, 'teams members "Field Sales" remove bob add dan')
    assert out == "Team 'Field Sales' (3): ann, cat, dan"
    assert await crowd.ok(ADMIN, 'teams members "Field Sales"') == (
        "Team 'Field Sales' (3): ann, cat, dan"
    )
    assert await crowd.ok(EMPLOYEE, "teams list") == (
        "• Field Sales: 3 members\n• ops: 0 members (from channel:ops)"
    )
    # Members added by name are real people: a poll for the team reaches them.
    assert "on its way to 3 people" in await crowd.ok(ADMIN, 'poll now "team:Field Sales"')
    await world.app.core.idle()
    assert "Round 1:" in await crowd["dan"].unread()

    before = await crowd.ok(ADMIN, "teams list")
    assert await crowd.cmd(ADMIN, "teams members nope add ann") == (
        "Error: there is no team 'nope'. Teams: Field Sales, ops"
    )
    assert await crowd.cmd(ADMIN, "teams remove nope") == (
        "Error: there is no team 'nope'. Teams: Field Sales, ops"
    )
    out = await crowd.cmd(ADMIN, 'teams members "Field Sales" bob')
    assert out == f"Error: usage: /alignment {COMMANDS['teams members'].usage}"
    assert await crowd.ok(ADMIN, "teams list") == before

    assert await crowd.ok(ADMIN, 'teams remove "field sales"') == "Removed team 'Field Sales'."
    assert await crowd.ok(ADMIN, "teams list") == "• ops: 0 members (from channel:ops)"
    audit = await crowd.ok(ADMIN, "audit")
    for action in ("team added: Field Sales", "team members changed: Field Sales", "team removed: Field Sales"):  # fmt: skip
        assert f"console:local:boss: {action}" in audit


# -- schedules -----------------------------------------------------------------------------


async def test_schedule_add_list_next_pause_resume_remove(world: World) -> None:
    crowd = Crowd(world)
    assert await crowd.ok(ADMIN, "schedule list") == (
        "No schedules yet: add one with '/alignment schedule add …'."
    )
    out = await crowd.ok(
        ADMIN, "schedule add every monday 09:00 tz:Europe/Berlin window:3d remind:24h"
    )
    assert out == (
        "Schedule #1 added: every Monday at 09:00 (Europe/Berlin), answers open for 3 days. "
        "Next: 2026-03-09 09:00 CET."
    )
    out = await crowd.ok(ADMIN, 'schedule add "0 9 * * 1" name:weekly window:2d')
    assert out == (
        "Schedule #2 added: every Monday at 09:00 (UTC), answers open for 2 days. "
        "Next: 2026-03-09 09:00 UTC."
    )
    assert await crowd.ok(ADMIN, "schedule list") == (
        "• #1 every Monday at 09:00 (Europe/Berlin, everyone): "
        "every Monday at 09:00 (Europe/Berlin), everyone, "
        "next 2026-03-09 09:00 CET\n"
        "• #2 weekly: every Monday at 09:00 (UTC), everyone, next 2026-03-09 09:00 UTC"
    )
    assert await crowd.ok(ADMIN, "schedule next 1") == "\n".join(
        [
            "• Mon 2026-03-09 09:00 CET",
            "• Mon 2026-03-16 09:00 CET",
            "• Mon 2026-03-23 09:00 CET",
            "• Mon 2026-03-30 09:00 CEST",
            "• Mon 2026-04-06 09:00 CEST",
        ]
    )
    assert await crowd.ok(ADMIN, "schedule pause 1") == "Schedule #1 paused."
    paused = "every Monday at 09:00 (Europe/Berlin), everyone, paused"
    assert f"#1 every Monday at 09:00 (Europe/Berlin, everyone): {paused}" in (
        await crowd.ok(ADMIN, "schedule list")
    )
    assert await crowd.ok(ADMIN, "schedule resume #1") == "Schedule #1 resumed."
    assert "everyone, next 2026-03-09 09:00 CET" in await crowd.ok(ADMIN, "schedule list")
    assert await crowd.ok(ADMIN, "schedule remove 2") == (
        "Schedule #2 removed; rounds it already ran are kept."
    )
    listed = await crowd.ok(ADMIN, "schedule list")
    assert len(_bullets(listed)) == 1
    assert "weekly" not in listed
    audit = await crowd.ok(ADMIN, "audit")
    for action in ("schedule added: weekly", "schedule paused: every Monday at 09:00 (Europe/Berlin, everyone)", "schedule resumed: every Monday at 09:00 (Europe/Berlin, everyone)", "schedule removed: weekly"):  # fmt: skip
        assert f"console:local:boss: {action}" in audit


async def test_schedule_for_a_team_with_a_report_channel(world: World) -> None:
    crowd = Crowd(world)
    await crowd.ok(ADMIN, "teams add sales")
    out = await crowd.ok(
        ADMIN, "schedule add every weekday 08:30 audience:team:sales report:#sales name:daily"
    )
    assert out.startswith("Schedule #1 added: ")
    listed = await crowd.ok(ADMIN, "schedule list")
    assert listed.startswith("• #1 daily: "), listed
    assert ", team:sales, next 2026-03-03 08:30 UTC" in listed


SCHEDULE_REFUSALS = [
    (
        "schedule add every monday 09:00 tz:Mars/Olympus",
        "Error: Unknown time zone 'Mars/Olympus'. Use an IANA name such as Europe/Berlin.",
    ),
    (
        "schedule add whenever it suits",
        "Error: The schedule must end with a time of day such as 09:00",
    ),
    (
        "schedule add every monday 09:00 window:2h remind:2h",
        "Error: the reminder must come before the deadline: make remind: shorter than window:",
    ),
    (
        "schedule add every monday 09:00 window:1d remind:2d",
        "Error: the reminder must come before the deadline",
    ),
    (
        "schedule add every monday 09:00 audience:planet:mars",
        "Error: unknown audience 'planet:mars': use everyone, team:NAME, channel:ID or usergroup:ID",
    ),
    ("schedule add every monday 09:00 window:later", "Error: 'later' is not a duration."),
    ("schedule pause 99", "Error: there is no schedule 99"),
    ("schedule resume 99", "Error: there is no schedule 99"),
    ("schedule remove 99", "Error: there is no schedule 99"),
    ("schedule next 99", "Error: there is no schedule #99"),
    ("schedule pause one", "Error: schedule id must be a number, not 'one'"),
]


async def test_schedule_refusals_change_nothing(world: World) -> None:
    crowd = Crowd(world)
    await crowd.ok(ADMIN, "schedule add every day 07:00")
    before = await snapshot(world)
    for line, expected in SCHEDULE_REFUSALS:
        out = await crowd.cmd(ADMIN, line)
        assert out.startswith(expected), (line, out)
    assert await snapshot(world) == before


# -- admins and audit ----------------------------------------------------------------------


async def test_admins_add_list_remove(world: World) -> None:
    crowd = Crowd(world)
    assert await crowd.ok(ADMIN, "admins list") == "• boss: admin (ALIGNMENT_ADMINS)"
    assert await crowd.ok(ADMIN, "admins add mgr role:manager") == "mgr is now manager."
    assert await crowd.ok(ADMIN, "admins add mgr role:manager") == "mgr already is manager."
    assert await crowd.ok(ADMIN, "admins add @adm") == "adm is now admin."
    expected = "• boss: admin (ALIGNMENT_ADMINS)\n• adm: admin\n• mgr: manager"
    assert await crowd.ok(ADMIN, "admins list") == expected
    assert await crowd.ok(MANAGER, "admins list") == expected

    # A manager can read reports but not change attributes.
    assert "Error: no round has run yet" in await crowd.cmd(MANAGER, "report")
    assert await crowd.cmd(MANAGER, 'attributes add "speed"') == (
        "Error: Only admins can use '/alignment attributes add'; nothing was changed. "
        "An admin can grant it: '/alignment admins add mgr'."
    )
    assert "• speed" not in await crowd.ok(MANAGER, "attributes list")
    # The new admin can change attributes.
    assert await crowd.ok("adm", 'attributes add "speed"') == "Added 'speed'."

    before = await crowd.ok(ADMIN, "admins list")
    assert await crowd.cmd(ADMIN, "admins add x role:king") == (
        "Error: role: must be admin or manager"
    )
    assert await crowd.cmd("adm", "admins remove adm") == (
        "Error: You cannot remove your own role; ask another admin."
    )
    assert await crowd.cmd(ADMIN, "admins remove boss") == (
        "Error: You cannot remove your own role; ask another admin."
    )
    assert await crowd.ok(ADMIN, "admins list") == before

    assert await crowd.ok("adm", "admins remove mgr") == "mgr has no role now."
    assert await crowd.ok("adm", "admins remove mgr") == "mgr had no role."
    assert await crowd.ok(ADMIN, "admins list") == "• boss: admin (ALIGNMENT_ADMINS)\n• adm: admin"
    assert (await crowd.cmd(MANAGER, "report")).startswith("Error: Only managers or admins")

    # Promote a manager to admin and back.
    assert await crowd.ok(ADMIN, "admins add adm role:manager") == "adm is now manager."
    assert (await crowd.cmd("adm", 'attributes add "x"')).startswith("Error: Only admins")


async def test_audit_records_admin_changes_with_the_actor(world: World) -> None:
    crowd = Crowd(world)
    await _join(crowd, "ann")
    assert await crowd.ok(ADMIN, "audit") == "No admin changes yet."
    await crowd.ok(ADMIN, "admins add adm")
    await crowd.ok("adm", 'attributes add "speed"')
    await crowd.ok("adm", "teams add ops")
    await crowd.ok(ADMIN, "poll now")
    await world.app.core.idle()
    # Reading changes nothing in the audit.
    await crowd.ok(ADMIN, "attributes list")
    audit = await crowd.ok(ADMIN, "audit")
    actions = [line.split(" ", 3)[3] for line in _bullets(audit)]
    assert actions == [  # newest first
        "console:local:boss: round opened: 1 for everyone",
        "console:local:adm: team added: ops",
        "console:local:adm: attribute added: speed",
        "console:local:boss: role adm -> admin",
    ]


# -- roles ---------------------------------------------------------------------------------


def test_every_command_has_a_sample_line() -> None:
    assert set(SAMPLES) == set(COMMANDS)
    assert set(COMMANDS) >= CHANGES_STATE


async def _furnish(world: World, crowd: Crowd) -> None:
    """A workspace where every sample line has something to act on."""
    await _join(crowd, EMPLOYEE, "ann")
    await crowd.ok(ADMIN, f"admins add {MANAGER} role:manager")
    await crowd.ok(ADMIN, f"research import {EXAMPLES / 'research_top3.csv'}")
    await crowd.ok(ADMIN, "teams add sales")
    await crowd.ok(ADMIN, "teams members sales add ann")
    await crowd.ok(ADMIN, "schedule add every monday 09:00")
    await crowd.ok(ADMIN, "schedule add every tuesday 09:00")
    await crowd.ok(ADMIN, "schedule pause 2")
    await crowd.ok(ADMIN, "poll now")
    await world.app.core.idle()
    await _mirror_with_answers(world, crowd, 5)


async def _mirror_with_answers(world: World, crowd: Crowd, count: int) -> None:
    """Mirror survey 1, open, with enough customers' answers to be published."""
    await crowd.ok(ADMIN, "mirror create segment:smb")
    links = await crowd.cmd(ADMIN, f"mirror links 1 count:{count}")
    tokens = [line.rsplit("/m/", 1)[1] for line in links.splitlines() if "/m/" in line]
    workspace = await world.app.core.workspace(LOCAL_WORKSPACE)
    ids = [str(a.id) for a in await world.app.core.store.list_attributes(workspace.id)]
    for token in tokens:
        outcome = await world.app.core.mirror.mirror_submit(token, tuple(ids[:3]))
        assert outcome.page is MirrorPage.THANKS


@pytest.mark.parametrize("name", PRIVILEGED)
async def test_privileged_command_is_refused_below_its_role_and_changes_nothing(
    world: World, name: str
) -> None:
    crowd = Crowd(world)
    await _furnish(world, crowd)
    spec = COMMANDS[name]
    line = SAMPLES[name]
    words = "admins" if spec.role is Role.ADMIN else "managers or admins"
    refusal = f"Error: Only {words} can use '/alignment {name}'; nothing was changed."
    grant = " role:manager" if spec.role is Role.MANAGER else ""
    before = await snapshot(world)
    channel_before = await crowd[EMPLOYEE].unread()

    assert await crowd.cmd(EMPLOYEE, line) == (
        f"{refusal} An admin can grant it: '/alignment admins add {EMPLOYEE}{grant}'."
    )
    if spec.role is Role.ADMIN:
        assert await crowd.cmd(MANAGER, line) == (
            f"{refusal} An admin can grant it: '/alignment admins add {MANAGER}'."
        )
    await world.app.core.idle()
    assert await snapshot(world) == before
    assert await crowd[EMPLOYEE].unread() == "", channel_before  # nothing posted or sent

    # The same line from someone allowed does work, so the refusal above was about the role.
    allowed = MANAGER if spec.role is Role.MANAGER else ADMIN
    await crowd.ok(allowed, line)
    await world.app.core.idle()
    if name in CHANGES_STATE:
        assert await snapshot(world) != before


async def test_everyone_commands_work_for_an_employee(world: World) -> None:
    crowd = Crowd(world)
    for name in [n for n, spec in COMMANDS.items() if spec.role is Role.EMPLOYEE]:
        out = await crowd.cmd(EMPLOYEE, SAMPLES[name])
        assert not out.startswith("Error"), (name, out)


# -- bad input -----------------------------------------------------------------------------


BAD_INPUT = [
    ("frobnicate", "Error: unknown command 'frobnicate'. Try '/alignment help' for the list of commands."),
    ("attributes delete price", "Error: 'attributes' needs one of: add, list, remove, rename (not 'delete'). Usage: attributes add \"NAME\" [\"DESCRIPTION\"]; attributes list; attributes remove \"NAME\"; attributes rename \"OLD\" \"NEW\""),
    ("teams", "Error: 'teams' needs one of: add, list, members, remove. Usage: "),
    ("report colour:red", "Error: unknown option 'colour:' for 'report'. Usage: /alignment report [team:NAME] [segment:NAME] [round:ID]"),
    ('teams add "Ops" colour:red', "Error: unknown option 'colour:' for 'teams add \"NAME\"'. Usage: /alignment teams add"),
    ("attributes add", 'Error: usage: /alignment attributes add "NAME" ["DESCRIPTION"]'),
    ("attributes rename price", 'Error: usage: /alignment attributes rename "OLD" "NEW"'),
    ("attributes remove price quality", 'Error: usage: /alignment attributes remove "NAME"'),
    ("teams add", 'Error: usage: /alignment teams add "NAME" [channel:#CHANNEL] [usergroup:@GROUP]'),
    ("schedule add", "Error: usage: /alignment schedule add WHEN"),
    ("schedule pause", "Error: usage: /alignment schedule pause ID"),
    ("research show", "Error: usage: /alignment research show ID"),
    ("admins add", "Error: usage: /alignment admins add @PERSON [role:manager]"),
    ("poll status now", "Error: usage: /alignment poll status"),
    ('attributes add "on-time delivery', "Error: could not read the command: No closing quotation (check your quotes)"),
    ("teams add 'Field Sales", "Error: could not read the command: No closing quotation (check your quotes)"),
]  # fmt: skip


async def test_bad_input_gets_a_usage_message_and_changes_nothing(world: World) -> None:
    before = await snapshot(world)
    for line, expected in BAD_INPUT:
        out = await world.run(ADMIN, f"/alignment {line}")
        assert out.startswith(expected), (line, out)
        # The employee gets the same usage message: parsing comes before permissions.
        assert await world.run(EMPLOYEE, f"/alignment {line}") == out
    assert await snapshot(world) == before


async def test_a_line_that_is_not_a_command_gets_console_help(world: World) -> None:
    out = await world.run(EMPLOYEE, "hello there")
    assert out.startswith("I don't know 'hello'."), out
    assert "/alignment help" in out
