"""Privacy with the real core: nobody sees another person's answer, small groups stay hidden.

Eleven people answer two rounds: a sales team of 6, a support team of 3 (below the minimum
group size of 5) and 2 people in no team. Every individual ranking is distinct from every
aggregate (checked), so finding one in an output means an individual answer leaked.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.console.port import LOCAL_WORKSPACE
from adapters.console.session import ConsoleSession
from bot.model.records import RoundInfo, RoundState
from bot.reports.render_text import render_home_text, render_report_text
from bot.runtime.outputs import export_rows, rows_to_csv, write_report_folder
from tests.core.conftest import EXAMPLES, World

ADMIN, MANAGER = "boss", "mgr"
NAMES = {
    1: "price",
    2: "product quality",
    3: "reliability",
    4: "delivery speed",
    5: "customer support",
    6: "ease of use",
    7: "innovation",
    8: "relationship/trust",
}
SALES = {
    "u-sales-0": (1, 2, 5),
    "u-sales-1": (1, 3, 6),
    "u-sales-2": (2, 1, 7),
    "u-sales-3": (1, 6, 2),
    "u-sales-4": (4, 1, 3),
    "u-sales-5": (2, 4, 1),
}
SUPPORT = {"u-sup-0": (5, 8, 3), "u-sup-1": (8, 5, 6), "u-sup-2": (5, 7, 8)}
LONERS = {"u-free-0": (7, 4, 5), "u-free-1": (6, 8, 2)}
PICKS = {**SALES, **SUPPORT, **LONERS}
PEOPLE = list(PICKS)


def ranking(person: str) -> tuple[str, ...]:
    return tuple(NAMES[n] for n in PICKS[person])


def spellings(names: tuple[str, ...]) -> list[str]:
    """How a ranking could appear in text, JSON or CSV."""
    return [", ".join(names), ",".join(names), json.dumps(list(names)), " > ".join(names)]


def leaked_rankings(text: str, *, owner: str | None = None) -> list[str]:
    return [
        person
        for person in PEOPLE
        if person != owner and any(s in text for s in spellings(ranking(person)))
    ]


def leaked_ids(text: str, *, owner: str | None = None) -> list[str]:
    return [person for person in PEOPLE if person != owner and person in text]


class Crowd:
    def __init__(self, world: World) -> None:
        self.world = world
        self.sessions: dict[str, ConsoleSession] = {}

    def __getitem__(self, user: str) -> ConsoleSession:
        if user not in self.sessions:
            self.sessions[user] = self.world.session(user)
        return self.sessions[user]

    async def cmd(self, user: str, line: str) -> str:
        return await self[user].handle_line(f"/alignment {line}")

    async def ok(self, user: str, line: str) -> str:
        out = await self.cmd(user, line)
        assert not out.startswith("Error"), (line, out)
        return out

    async def report(self, line: str) -> str:
        await self[ADMIN].unread()
        return await self.cmd(ADMIN, line)


async def _round(world: World, crowd: Crowd, round_id: int, days: int) -> str:
    await crowd.ok(ADMIN, "poll now window:2h")
    await world.app.core.idle()
    for person in PEOPLE:
        out = await crowd[person].handle_line(
            f"answer {round_id} {' '.join(map(str, PICKS[person]))}"
        )
        assert "recorded" in out, out
    world.clock.advance(timedelta(hours=3))
    closed = await crowd.ok(ADMIN, "poll close")
    await world.app.core.idle()
    world.clock.advance(timedelta(days=days))
    return closed


@pytest.fixture
async def org(world: World) -> tuple[World, Crowd, list[str]]:
    """Two closed rounds; returns every text produced along the way."""
    crowd = Crowd(world)
    outputs: list[str] = []
    outputs.append(await crowd.ok(ADMIN, f"research import {EXAMPLES / 'research_top3.csv'}"))
    await crowd.ok(ADMIN, f"admins add {MANAGER} role:manager")
    for person in PEOPLE:
        await crowd[person].join()
    await crowd.ok(ADMIN, "teams add sales")
    await crowd.ok(ADMIN, f"teams members sales add {' '.join(SALES)}")
    await crowd.ok(ADMIN, "teams add support")
    await crowd.ok(ADMIN, f"teams members support add {' '.join(SUPPORT)}")
    outputs.append(await _round(world, crowd, 1, days=7))
    outputs.append(await _round(world, crowd, 2, days=1))
    return world, crowd, outputs


async def _closed_rounds(world: World) -> list[RoundInfo]:
    workspace = await world.app.core.workspace(LOCAL_WORKSPACE)
    return await world.app.core.store.list_rounds(workspace.id, state=RoundState.CLOSED)


def _aggregate_rankings(report_json: dict[str, Any]) -> Iterable[tuple[str, ...]]:
    def walk(value: Any) -> Iterable[tuple[str, ...]]:
        if isinstance(value, dict):
            for inner in value.values():
                yield from walk(inner)
        elif isinstance(value, list):
            if value and all(isinstance(v, str) for v in value):
                yield tuple(value[:3])
            for inner in value:
                yield from walk(inner)

    yield from walk(report_json)


async def test_no_output_shows_another_persons_answer_or_their_id(
    org: tuple[World, Crowd, list[str]], tmp_path: Path
) -> None:
    world, crowd, outputs = org
    core = world.app.core
    workspace = await core.workspace(LOCAL_WORKSPACE)

    # What managers and admins can run.
    shared: dict[str, str] = {}
    for line in (
        "report",
        "report round:1",
        "report round:2",
        "report team:sales",
        "report team:support",
        "report segment:smb",
        "report segment:enterprise",
        "poll status",
        "research list",
        "research show 1",
        "teams list",
        "admins list",
        "audit",
        "attributes list",
    ):
        shared[line] = await crowd.report(line)
        shared[f"{line} (manager)"] = await crowd.cmd(MANAGER, line)
    shared["closing outputs"] = "\n".join(outputs)
    shared["manager home"] = render_home_text(await core.home_for(crowd[MANAGER].user))
    for line, text in shared.items():
        assert not leaked_rankings(text), (line, leaked_rankings(text), text)
        if line.split(" (")[0] not in ("admins list", "audit"):
            assert not leaked_ids(text), (line, leaked_ids(text), text)

    # Files: report.md, report.json, chart.png of every round and team, and the export.
    files: dict[str, str] = {}
    aggregates: set[tuple[str, ...]] = set()
    rows: list[dict[str, Any]] = []
    for round_info in await _closed_rounds(world):
        for team in (None, "sales", "support"):
            out = tmp_path / f"r{round_info.id}-{team}"
            await write_report_folder(
                core.rounds, workspace, round_info, out, min_group_size=5, team=team
            )
            files[f"{out.name}/report.md"] = (out / "report.md").read_text()
            files[f"{out.name}/report.json"] = (out / "report.json").read_text()
            aggregates.update(_aggregate_rankings(json.loads(files[f"{out.name}/report.json"])))
            if (out / "chart.png").exists():
                files[f"{out.name}/chart.png"] = (out / "chart.png").read_bytes().decode("latin-1")
        rows += export_rows(round_info, await core.rounds.analysis(workspace, round_info))
    files["export.csv"] = rows_to_csv(rows)
    for name, text in files.items():
        assert not leaked_rankings(text), (name, leaked_rankings(text))
        assert not leaked_ids(text), (name, leaked_ids(text))

    # The check is meaningful: no individual ranking coincides with an aggregate one.
    individual = {ranking(p) for p in PEOPLE}
    assert not individual & aggregates, individual & aggregates

    # Each person sees their own answers (me, feedback DMs) and nobody else's.
    for person in PEOPLE:
        me = await crowd.cmd(person, "me")
        assert ", ".join(ranking(person)) in me, me
        inbox = await crowd[person].handle_line("inbox")
        home = render_home_text(await core.home_for(crowd[person].user))
        for text in (me, inbox, home):
            assert not leaked_rankings(text, owner=person), (person, text)
            assert not leaked_ids(text, owner=person), (person, text)


async def test_the_team_of_three_is_suppressed_everywhere_and_the_audit_is_admin_only(
    org: tuple[World, Crowd, list[str]], tmp_path: Path
) -> None:
    world, crowd, outputs = org
    core = world.app.core
    workspace = await core.workspace(LOCAL_WORKSPACE)

    for text in [*outputs[1:], await crowd.report("report"), await crowd.report("report round:1")]:
        assert "| support | too few answers | | | |" in text, text
        assert "| support | 3 " not in text
        assert "| sales | 6 |" in text
    for line in ("report team:support", "report team:support round:1"):
        text = await crowd.report(line)
        assert "Too few answers to report yet" in text, text
        for hidden in (
            "Alignment score",
            "Responses",
            "Staff top",
            "Surprises",
            "Since the previous",
        ):
            assert hidden not in text, (line, hidden, text)

    for round_info in await _closed_rounds(world):
        analysis = await core.rounds.analysis(workspace, round_info)
        payload = analysis.to_json_dict()
        assert payload["teams"]["support"] == {"suppressed": True}
        assert payload["teams"]["sales"]["n"] == 6
        rows = export_rows(round_info, analysis)
        assert {r["group"] for r in rows} == {"all", "sales"}
        exported = list(csv.DictReader(io.StringIO(rows_to_csv(rows))))
        assert "support" not in {r["group"] for r in exported}

        report = await core.rounds.report(workspace, round_info, team="support")
        assert report.figures is None
        assert report.trend == ()
        assert report.chart_png is None
        assert report.teams == ()
        assert report.surprises == ()
        rendered = render_report_text(report, min_answers=5)
        assert "3" not in rendered.split("Too few answers", 1)[1].replace("(minimum 5)", "")

        out = tmp_path / f"support-{round_info.id}"
        await write_report_folder(
            core.rounds, workspace, round_info, out, min_group_size=5, team="support"
        )
        assert not (out / "chart.png").exists()
        assert json.loads((out / "report.json").read_text())["teams"]["support"] == {
            "suppressed": True
        }
        overall = await core.rounds.report(workspace, round_info)
        support = next(line for line in overall.teams if line.name == "support")
        assert support.suppressed

    await _audit_is_complete_and_admin_only(crowd)


async def test_a_small_rounds_feedback_does_not_give_its_count(world: World) -> None:
    crowd = Crowd(world)
    await crowd.ok(ADMIN, f"research import {EXAMPLES / 'research_top3.csv'}")
    for person in SUPPORT:
        await crowd[person].join()
    await crowd.ok(ADMIN, "teams add support")
    await crowd.ok(ADMIN, f"teams members support add {' '.join(SUPPORT)}")
    await crowd.ok(ADMIN, "poll now team:support window:2h")
    await world.app.core.idle()
    for person in list(SUPPORT)[:2]:
        assert "recorded" in await crowd[person].handle_line(
            f"answer 1 {' '.join(map(str, PICKS[person]))}"
        )
    world.clock.advance(timedelta(hours=3))
    closed = await crowd.ok(ADMIN, "poll close")
    await world.app.core.idle()
    assert "Too few answers to report yet" in closed
    assert "Responses" not in closed
    for person in list(SUPPORT)[:2]:
        inbox = await crowd[person].handle_line("inbox")
        assert "of 3" not in inbox, inbox
        # "you had 2 of them" is the person's own score; the group's count must not appear.
        assert "people answered" not in inbox, inbox
        assert "Thank you for taking part." in inbox


async def test_forget_me_deletes_answers_and_identity(
    org: tuple[World, Crowd, list[str]],
) -> None:
    world, crowd, _ = org
    core, store = world.app.core, world.app.store
    workspace = await core.workspace(LOCAL_WORKSPACE)
    victim = "u-sales-3"
    person = await store.find_person(workspace.id, victim)
    assert person is not None
    before = await crowd.report("report round:1")
    assert "- Responses: 11 of 13" in before, before  # 11 answered; boss and mgr were invited
    assert "| sales | 6 |" in before

    out = await crowd.cmd(victim, "forget me")
    assert out.startswith("Done: your answers and your identity are deleted"), out

    assert await store.find_person(workspace.id, victim) is None
    assert victim not in {p.user_id for p in await store.list_people(workspace.id)}
    for round_info in await _closed_rounds(world):
        answers = await store.answers_for_round(round_info.id)
        assert person.id not in {a.person_id for a in answers}
        assert len(answers) == 10
    # A closed round's published figures are frozen (#11): recomputing them without the
    # person would let the report before and after be differenced into their answer.
    after = await crowd.report("report round:1")
    assert "- Responses: 11 of 13" in after, after
    assert "| sales | 6 |" in after, after
    audit = await crowd.cmd(ADMIN, "audit")
    assert "person forgotten at their request" in audit, audit
    assert victim not in audit, audit
    members = await crowd.cmd(ADMIN, "teams members sales")
    assert victim not in members
    # Their earlier answers no longer show anywhere, even to themselves.
    assert await crowd.cmd(victim, "me") == "You have not answered any poll yet."


async def _audit_is_complete_and_admin_only(crowd: Crowd) -> None:
    """The audit log records admin changes with the actor, and only admins can read it."""
    await crowd.ok(ADMIN, 'attributes add "warranty"')
    await crowd.ok(ADMIN, "admins add u-free-0 role:manager")
    audit = await crowd.cmd(ADMIN, "audit")
    actor = crowd[ADMIN].user.key
    for action in (
        "attribute added: warranty",
        "role u-free-0 -> manager",
        f"role {MANAGER} -> manager",
        "team added: sales",
        "team members changed: support",
        "research imported: research_top3.csv",
    ):
        assert f"{actor}: {action}" in audit, (action, audit)
    for reader in (MANAGER, "u-free-0", "u-sales-0"):
        refused = await crowd.cmd(reader, "audit")
        assert refused.startswith("Error: Only admins can use '/alignment audit'"), refused
        assert "attribute added" not in refused
