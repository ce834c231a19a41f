"""A closed round is analysed from answers counted in the database (#18), on both databases.

The reference is the path the bot took before: every answer read as an ``AnswerRecord``,
``analyse`` on one row per respondent and ``disclosure.decide`` on one entry per person,
earlier rounds' groups as sets of person ids. The counted path must give the same verdicts
and, for every figure that does not come from random draws, the same numbers to the last
bit (the snapshot both are frozen into is compared after the same JSON round trip).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import text

from bot.analytics import Settings, analyse
from bot.model.domain import WorkspaceRef
from bot.model.records import AnswerWrite, NewSchedule, RoundInfo, WorkspaceInfo
from bot.model.research import ResearchForm, ResearchRow, ResearchStudy
from bot.reports import disclosure, snapshot
from bot.rounds.service import RoundService
from storage.sql_store import SqlStore
from tests.analytics.same_figures import deterministic

ATTRIBUTES = ("price", "quality", "speed", "service", "range", "brand", "eco", "support")
TEAMS = ("ops", "sales", "eng", "hr")
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
USER_IDS: dict[int, str] = {}  # person id -> platform user id, filled as people are made


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


async def _workspace(store: SqlStore) -> WorkspaceInfo:
    return await store.ensure_workspace(
        WorkspaceRef("slack", "T-agg"), default_attributes=[(a, "") for a in ATTRIBUTES]
    )


async def _people(store: SqlStore, workspace: WorkspaceInfo, count: int, seed: int) -> list[int]:
    rng = np.random.default_rng(seed)
    people = await store.ensure_people(workspace.id, [(f"U{i:04d}", "") for i in range(count)])
    ids = [p.id for p in people]
    USER_IDS.update({p.id: p.user_id for p in people})
    for t, name in enumerate(TEAMS):
        team = await store.add_team(workspace.id, name, linked_source=None, actor="test")
        # Overlapping teams, and some people in none (the last few).
        members = [
            pid for i, pid in enumerate(ids[:-3]) if i % len(TEAMS) == t or rng.random() < 0.1
        ]
        await store.set_team_membership(workspace.id, team.id, add=members, actor="test")
    return ids


async def _round(
    store: SqlStore,
    clock: Clock,
    workspace: WorkspaceInfo,
    people: list[int],
    answering: list[int],
    seed: int,
    schedule_id: int | None = None,
) -> RoundInfo:
    rng = np.random.default_rng(seed)
    attributes = await store.list_attributes(workspace.id, include_retired=True)
    ids = [a.id for a in attributes]
    opened = await store.open_round(
        workspace.id,
        question="?",
        top_k=3,
        audience="everyone",
        opened_at=clock.now,
        deadline=clock.now + timedelta(days=1),
        opened_by="test",
        person_ids=people,
        schedule_id=schedule_id,
        fire_time=clock.now if schedule_id else None,
    )
    assert opened is not None
    weights = np.linspace(3.0, 0.5, len(ids))  # some agreement, so rankings repeat
    for pid in answering:
        keys = np.log(weights) + rng.gumbel(size=len(ids))
        length = 2 if pid % 9 == 0 else 3
        ranking = [ids[int(j)] for j in np.argsort(-keys)[:length]]
        written = await store.record_answer(
            workspace.id, USER_IDS[pid], opened.id, ranking,
            at=clock.now, event_id=f"e-{opened.id}-{pid}",
        )  # fmt: skip
        assert written is AnswerWrite.RECORDED, written
    clock.now += timedelta(days=2)
    assert await store.close_round(workspace.id, opened.id, clock.now, actor="test")
    closed = await store.get_round(workspace.id, opened.id)
    assert closed is not None
    return closed


async def _reference(
    store: SqlStore, service: RoundService, workspace: WorkspaceInfo, round_info: RoundInfo
) -> snapshot.Published:
    """The figures and verdicts as the bot computed them before #18 (one object per answer)."""
    answers = await store.answers_for_round(round_info.id)
    every = await store.list_attributes(workspace.id, include_retired=True)
    names = {a.id: a.name for a in every}
    rows = [(str(a.person_id), a.teams, tuple(names[x] for x in a.ranking)) for a in answers]
    asked = [a.name for a in every if a.active]
    for _, _, ranking in rows:
        asked.extend(name for name in ranking if name not in asked)
    studies = await store.latest_studies(workspace.id, as_of=round_info.closed_at)
    analysis = analyse(
        tuple(asked),
        rows,
        {(segment or None): study.to_study() for segment, study in studies.items()},
        k=round_info.top_k,
        settings=replace(Settings(), unanimity_guard=True),
    )
    earlier: list[frozenset[str]] = []
    if round_info.schedule_id is not None:
        for before in await store.list_rounds(workspace.id, limit=50):
            if before.schedule_id != round_info.schedule_id or before.id >= round_info.id:
                continue
            shown = await service.published(workspace, before)
            teams_of = {str(a.person_id): a.teams for a in await store.answers_for_round(before.id)}
            for name in shown.verdicts.published():
                members = frozenset(
                    p for p, t in teams_of.items() if name == disclosure.ORGANISATION or name in t
                )
                group = (
                    shown.analysis.overall
                    if name == disclosure.ORGANISATION
                    else shown.analysis.teams.get(name)
                )
                frozen = 0 if group is None else group.respondents
                gone = {f"forgotten:{before.id}:{i}" for i in range(frozen - len(members))}
                earlier.append(members | gone)
    verdicts = disclosure.decide(
        {str(a.person_id): a.teams for a in answers}, Settings().min_group_size, earlier=earlier
    )
    published = snapshot.Published(
        disclosure.apply(analysis, verdicts), verdicts, await store.invitation_count(round_info.id)
    )
    return snapshot.decode(snapshot.encode(published))


def _service(store: SqlStore, clock: Clock) -> RoundService:
    return RoundService(store=store, ports={}, clock=clock, analysis=Settings())


async def _research(store: SqlStore, workspace: WorkspaceInfo) -> None:
    counts = [120, 40, 95, 60, 10, 33, 70, 22]
    await store.save_studies(
        workspace.id,
        [
            ResearchStudy(
                "survey",
                ResearchForm.TOP3,
                tuple(
                    ResearchRow(a, top3_count=c) for a, c in zip(ATTRIBUTES, counts, strict=True)
                ),
                sample_size=150,
            ),
            ResearchStudy(
                "smb ranking",
                ResearchForm.RANKING,
                tuple(ResearchRow(a, rank=i + 1) for i, a in enumerate(ATTRIBUTES[::-1])),
                segment="smb",
            ),
        ],
        actor="test",
    )


async def test_answer_groups_count_what_answers_for_round_lists(store: SqlStore) -> None:
    clock = Clock()
    workspace = await _workspace(store)
    people = await _people(store, workspace, 120, seed=1)
    closed = await _round(store, clock, workspace, people, people[:110], seed=2)
    answers = await store.answers_for_round(closed.id)
    expected = Counter((a.ranking, tuple(sorted(a.teams))) for a in answers)
    groups = await store.answer_groups(closed.id)
    assert {(g.ranking, g.teams): g.count for g in groups} == dict(expected)
    assert len(groups) == len(expected) < len(answers)  # counted, not listed
    # In the order of the first answer with each ranking.
    first: dict[tuple[int, ...], int] = {}
    for a in answers:
        first.setdefault(a.ranking, len(first))
    order = [first[g.ranking] for g in groups]
    assert order == sorted(order)
    respondents = await store.respondent_groups(closed.id)
    by_teams = Counter(tuple(sorted(a.teams)) for a in answers)
    assert {r.teams: r.count for r in respondents} == dict(by_teams)
    assert all(r.also == () for r in respondents)


async def test_respondent_groups_flag_earlier_rounds_answered(store: SqlStore) -> None:
    clock = Clock()
    workspace = await _workspace(store)
    people = await _people(store, workspace, 40, seed=3)
    first = await _round(store, clock, workspace, people, people[:25], seed=4)
    second = await _round(store, clock, workspace, people, people[10:35], seed=5)
    third = await _round(store, clock, workspace, people, people[5:40], seed=6)
    answered = {
        r.id: {a.person_id for a in await store.answers_for_round(r.id)} for r in (first, second)
    }
    expected = Counter(
        (
            tuple(sorted(a.teams)),
            (a.person_id in answered[first.id], a.person_id in answered[second.id]),
        )
        for a in await store.answers_for_round(third.id)
    )
    rows = await store.respondent_groups(third.id, [first.id, second.id])
    assert {(r.teams, r.also): r.count for r in rows} == dict(expected)


@pytest.mark.parametrize("seed", [7, 8])
async def test_a_closed_round_publishes_todays_figures_and_verdicts(
    store: SqlStore, seed: int
) -> None:
    clock = Clock()
    workspace = await _workspace(store)
    await _research(store, workspace)
    people = await _people(store, workspace, 260, seed=seed)
    # A retired attribute that answers still name must keep its place among the asked.
    closed = await _round(store, clock, workspace, people, people[:250], seed=seed + 1)
    attributes = await store.list_attributes(workspace.id)
    await store.retire_attribute(workspace.id, attributes[1].id, actor="test")
    service = _service(store, clock)
    expected = await _reference(store, service, workspace, closed)
    published = await service.published(workspace, closed)
    assert published.verdicts == expected.verdicts
    assert published.invited == expected.invited
    assert published.analysis.attributes == expected.analysis.attributes
    assert deterministic(published.analysis) == deterministic(expected.analysis)
    assert published.analysis.overall is not None
    assert any(group is not None for group in published.analysis.teams.values())


@pytest.mark.parametrize("seed", [11, 12, 13])
async def test_verdicts_across_a_schedules_rounds_match_per_person_sets(
    store: SqlStore, seed: int
) -> None:
    # Small rounds of one schedule, overlapping respondents, a person forgotten between
    # them: the rule that compares groups with earlier rounds' must decide as before.
    rng = np.random.default_rng(seed)
    clock = Clock()
    workspace = await _workspace(store)
    schedule = await store.add_schedule(
        workspace.id,
        NewSchedule("weekly", "every monday 09:00", "UTC", "everyone", 86_400, None, ()),
        actor="test",
    )
    people = await _people(store, workspace, 30, seed=seed)
    service = _service(store, clock)
    first = [p for p in people if rng.random() < 0.7]
    gone = first[1]
    turns = [
        first,
        # Round 1's people but the one forgotten: the organisation nests in round 1's and
        # differs by that one person, so it must be hidden.
        [p for p in first if p != gone],
        [p for p in people if p != gone and rng.random() < 0.8],
    ]
    outcomes = []
    for turn, answering in enumerate(turns):
        closed = await _round(
            store,
            clock,
            workspace,
            people,
            answering,
            seed=seed * 10 + turn,
            schedule_id=schedule.id,
        )
        expected = await _reference(store, service, workspace, closed)
        published = await service.published(workspace, closed)
        assert published.verdicts == expected.verdicts, turn
        assert deterministic(published.analysis) == deterministic(expected.analysis)
        outcomes.append(published.verdicts)
        if turn == 0:
            await store.forget_person(workspace.id, gone, actor="test")
            people.remove(gone)
    assert outcomes[0].of(None).published
    assert outcomes[1].of(None) == disclosure.Verdict(False, disclosure.HIDDEN)


async def test_the_same_ranking_spelled_twice_is_counted_once(store: SqlStore) -> None:
    # JSON allows "[1, 2, 3]" and "[1,2,3]"; the database groups text, the store adds up.
    clock = Clock()
    workspace = await _workspace(store)
    people = await _people(store, workspace, 30, seed=21)
    closed = await _round(store, clock, workspace, people, people, seed=22)
    before = {(g.ranking, g.teams): g.count for g in await store.answer_groups(closed.id)}
    async with store._engine.begin() as connection:
        rows = (
            await connection.execute(
                text("SELECT id, ranking FROM answers WHERE round_id = :r"), {"r": closed.id}
            )
        ).all()
        for answer_id, ranking in rows[::2]:
            ids = ranking if isinstance(ranking, list) else json.loads(ranking)
            spelled = "[" + ",".join(str(x) for x in ids) + "]"
            assert spelled != json.dumps(ids)  # the store writes "[1, 2, 3]"
            await connection.execute(
                text("UPDATE answers SET ranking = :s WHERE id = :i"),
                {"s": spelled, "i": answer_id},
            )
    after = {(g.ranking, g.teams): g.count for g in await store.answer_groups(closed.id)}
    assert after == before
