"""An attacker with the manager role tries to work out a person's answer (#11).

Hypothesis builds organisations (5–40 people, overlapping teams, research with segments,
1–3 rounds, some `forget me` calls) and plays them through the real core. The attacker
collects every figure a manager can reach: `poll status` and the round's report.json and
export rows after each answer (the round still open), and again after the close and after
each forget; at the end the chat reports of every round, team and segment. The attacker is
given more than a manager has: who answered each round.

Every published share of a group of n respondents is a count (share × n) of the group's
members who put an attribute in their top k; every person picks exactly k. For each round
that is a linear system in the unknowns x[person, attribute] ∈ {0, 1}. A pick is determined
when its unit vector lies in the row space of the system (the null space is zero there), or
when a count is 0 or n (then every member's pick is known). Neither may ever happen.

Before #11 this failed at once: the report of an open round after five answers and after
six gave the sixth answer; the organisation minus a team of one fewer gave that person.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.linalg import null_space

from adapters.console.port import LOCAL_WORKSPACE
from adapters.console.session import ConsoleSession
from bot.model.records import RoundState
from bot.model.settings import CoreSettings
from bot.runtime.app import App, build_app
from bot.runtime.outputs import export_rows
from tests.core.conftest import EXAMPLES, Clock

ADMIN = "boss"
K = 3
ATTRIBUTES = 8  # the default catalogue; poll numbers 1..8
MINIMUM = 5


@dataclass(frozen=True)
class RoundPlan:
    answers: Mapping[str, tuple[int, ...]]  # in the order given
    forget_after: tuple[str, ...]


@dataclass(frozen=True)
class Organisation:
    people: tuple[str, ...]
    teams: Mapping[str, tuple[str, ...]]
    rounds: tuple[RoundPlan, ...]


@st.composite
def organisations(draw: st.DrawFn) -> Organisation:
    size = draw(st.integers(5, 40))
    people = tuple(f"p{i}" for i in range(size))
    member_sets = st.lists(st.sampled_from(people), min_size=1, max_size=size, unique=True)
    teams = {f"t{j}": tuple(draw(member_sets)) for j in range(draw(st.integers(0, 4)))}
    picks = st.permutations(range(1, ATTRIBUTES + 1)).map(lambda order: tuple(order[:K]))
    rounds = []
    for _ in range(draw(st.integers(1, 3))):
        answering = draw(st.lists(st.sampled_from(people), unique=True, max_size=size))
        forgets = draw(st.lists(st.sampled_from(people), unique=True, max_size=2))
        rounds.append(RoundPlan({p: draw(picks) for p in answering}, tuple(forgets)))
    return Organisation(people, teams, tuple(rounds))


@dataclass
class Observation:
    """One group's published figures: its respondent count and per-attribute shares."""

    round_id: int
    group: str  # "all" or a team name
    n: int
    shares: Mapping[str, float]


@dataclass
class Truth:
    """What happened, for turning observations into equations over known people."""

    teams: Mapping[str, frozenset[str]]
    respondents: dict[int, list[str]] = field(default_factory=dict)  # per round, in order
    forgotten: set[str] = field(default_factory=set)
    observations: list[tuple[Observation, frozenset[str]]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)


class Attacker:
    def __init__(self, app: App, clock: Clock, org: Organisation) -> None:
        self.app, self.clock, self.org = app, clock, org
        self.sessions: dict[str, ConsoleSession] = {}
        self.truth = Truth({t: frozenset(m) for t, m in org.teams.items()})

    def session(self, user: str) -> ConsoleSession:
        if user not in self.sessions:
            self.sessions[user] = ConsoleSession(
                core=self.app.core, port=self.app.core.ports["console"], user_id=user
            )  # type: ignore[arg-type]
        return self.sessions[user]

    async def cmd(self, user: str, line: str) -> str:
        await self.session(user).unread()
        out = await self.session(user).handle_line(f"/alignment {line}")
        await self.app.core.idle()
        return out

    async def setup(self) -> None:
        await self.cmd(ADMIN, f"research import {EXAMPLES / 'research_top3.csv'}")
        for person in self.org.people:
            await self.session(person).join()
        for team, members in self.org.teams.items():
            await self.cmd(ADMIN, f"teams add {team}")
            await self.cmd(ADMIN, f"teams members {team} add {' '.join(members)}")

    async def play(self) -> None:
        await self.setup()
        for round_id, plan in enumerate(self.org.rounds, start=1):
            await self.cmd(ADMIN, "poll now window:2h")
            self.truth.respondents[round_id] = []
            await self.collect()
            for person, picks in plan.answers.items():
                if person in self.truth.forgotten:
                    continue
                line = f"answer {round_id} {' '.join(map(str, picks))}"
                assert "recorded" in await self.session(person).handle_line(line)
                self.truth.respondents[round_id].append(person)
                await self.collect()
            self.clock.advance(timedelta(hours=3))
            self.truth.texts.append(await self.cmd(ADMIN, "poll close"))
            await self.collect()
            for person in plan.forget_after:
                if person not in self.truth.forgotten:
                    await self.cmd(person, "forget me")
                    self.truth.forgotten.add(person)
                    await self.collect()
            self.clock.advance(timedelta(days=1))
        await self.collect_chat()

    async def collect(self) -> None:
        """Status, report.json and the export of every round, as a manager can get them."""
        self.truth.texts.append(await self.cmd(ADMIN, "poll status"))
        core = self.app.core
        workspace = await core.workspace(LOCAL_WORKSPACE)
        for round_info in await core.store.list_rounds(workspace.id, limit=10):
            analysis = await core.rounds.analysis(workspace, round_info)
            payload = analysis.to_json_dict()
            for observation in _from_json(round_info.id, payload):
                self.observe(observation)
            if round_info.state is RoundState.CLOSED:
                for observation in _from_export(export_rows(round_info, analysis)):
                    self.observe(observation)

    async def collect_chat(self) -> None:
        for round_id in self.truth.respondents:
            for team in (None, *self.org.teams):
                for segment in (None, "smb"):
                    line = f"report round:{round_id}"
                    line += f" team:{team}" if team else ""
                    line += f" segment:{segment}" if segment else ""
                    self.truth.texts.append(await self.cmd(ADMIN, line))

    def observe(self, observation: Observation) -> None:
        self.truth.observations.append((observation, self.covered(observation)))

    def covered(self, observation: Observation) -> frozenset[str]:
        """Whom a published figure covers: the group's respondents as they were (frozen
        figures) or as they are now (recomputed without the forgotten)."""
        answered = self.truth.respondents[observation.round_id]
        group = self.truth.teams.get(observation.group, frozenset(self.org.people))
        original = frozenset(p for p in answered if p in group)
        current = original - self.truth.forgotten
        for candidate in (original, current):
            if len(candidate) == observation.n:
                return candidate
        raise AssertionError(f"cannot tell whom {observation} covers")


def _from_json(round_id: int, payload: Mapping[str, Any]) -> list[Observation]:
    found = []
    if not payload.get("suppressed"):
        found.append(Observation(round_id, "all", payload["respondents"], _shares(payload)))
    for team, figures in payload["teams"].items():
        if not figures["suppressed"]:
            found.append(Observation(round_id, team, figures["n"], _shares(figures)))
    return found


def _shares(figures: Mapping[str, Any]) -> dict[str, float]:
    return dict(figures["employee_top_k_share"])


def _from_export(rows: Sequence[Mapping[str, Any]]) -> list[Observation]:
    by_group: dict[tuple[int, str], Observation] = {}
    for row in rows:
        key = (row["round"], row["group"])
        observation = by_group.setdefault(key, Observation(*key, row["respondents"], {}))
        observation.shares[row["attribute"]] = float(row["staff_top_k_share"])  # type: ignore[index]
    return list(by_group.values())


def determined_picks(truth: Truth) -> list[tuple[int, str, str]]:
    """(round, person, attribute) for every pick the published figures pin down."""
    found: list[tuple[int, str, str]] = []
    for round_id, people in truth.respondents.items():
        seen = [(o, cover) for o, cover in truth.observations if o.round_id == round_id]
        if not people or not seen:
            continue
        attributes = sorted({a for o, _ in seen for a in o.shares})
        found += _solve(round_id, people, attributes, seen)
    return found


def _solve(
    round_id: int,
    people: Sequence[str],
    attributes: Sequence[str],
    seen: Sequence[tuple[Observation, frozenset[str]]],
) -> list[tuple[int, str, str]]:
    index = {pa: i for i, pa in enumerate(itertools.product(people, attributes))}
    rows: list[np.ndarray] = []
    pinned: list[tuple[int, str, str]] = []
    for observation, cover in seen:
        for attribute, share in observation.shares.items():
            count = round(share * observation.n)
            if count in (0, observation.n):  # all or none: every member's pick is known
                pinned += [(round_id, p, attribute) for p in sorted(cover)]
            row = np.zeros(len(index))
            for person in cover:
                row[index[(person, attribute)]] = 1.0
            rows.append(row)
    for person in people:  # everyone picks exactly k
        row = np.zeros(len(index))
        for attribute in attributes:
            row[index[(person, attribute)]] = 1.0
        rows.append(row)
    free = null_space(np.unique(np.stack(rows), axis=0))
    for (person, attribute), i in index.items():
        if np.allclose(free[i], 0.0, atol=1e-8):
            pinned.append((round_id, person, attribute))
    return pinned


def small_counts(texts: Sequence[str]) -> list[str]:
    """Status lines and reports that show a count below the minimum."""
    found = []
    for text in texts:
        for answered, _ in re.findall(r"(\d+) of (\d+) answered", text):
            if int(answered) < MINIMUM:
                found.append(text)
        for count in re.findall(r"^\| [^|]+ \| (\d+) \|", text, re.MULTILINE):
            if int(count) < MINIMUM:
                found.append(text)
    return found


_RUNS = itertools.count()


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(org=organisations())
async def test_no_pick_can_be_worked_out_from_everything_a_manager_sees(
    org: Organisation, tmp_path: Path
) -> None:
    clock = Clock()
    database = tmp_path / f"attack-{next(_RUNS)}.db"
    settings_ = CoreSettings(database_url=f"sqlite+aiosqlite:///{database}", admins=(ADMIN,))
    app = await build_app(settings_, clock=clock, chart_dir=None, with_chat_adapters=False)
    try:
        attacker = Attacker(app, clock, org)
        await attacker.play()
    finally:
        await app.close()
    truth = attacker.truth
    assert not determined_picks(truth), determined_picks(truth)[:5]
    assert not small_counts(truth.texts), small_counts(truth.texts)[:2]
