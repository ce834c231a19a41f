"""Answer counts are COUNT(*) queries (issue #18): closing a round, an open round's report and
the manager's App Home count answers in the database instead of loading every answer row, and
`me` / App Home read the research once, not once per closed round. The counts must be those
the rows give: per team (the team's members now), after `forget me`, and at closing."""

from __future__ import annotations

from datetime import timedelta

from adapters.console.port import LOCAL_WORKSPACE
from bot.model.domain import Role
from bot.model.records import AnswerRecord, TeamInfo
from bot.model.store import Store
from tests.core.conftest import EXAMPLES, World
from tests.core.test_rounds import ADMIN, PICKS, Crowd, _open

SALES = ["p0", "p1", "p2", "p3", "p4", "p5"]
SUPPORT = ["p5", "p6"]  # p5 is in both teams
PEOPLE = [f"p{i}" for i in range(8)]  # p7 is in no team


def _rows(answers: list[AnswerRecord], team: TeamInfo | None) -> int:
    return len([a for a in answers if team is None or team.name in a.teams])


async def _counts(store: Store, teams: list[TeamInfo | None]) -> list[int]:
    return [await store.answer_count(1, team_id=t.id if t else None) for t in teams]


async def _teams(world: World, crowd: Crowd) -> list[TeamInfo | None]:
    await crowd.cmd(ADMIN, "teams add sales")
    await crowd.cmd(ADMIN, f"teams members sales add {' '.join(SALES)}")
    await crowd.cmd(ADMIN, "teams add support")
    await crowd.cmd(ADMIN, f"teams members support add {' '.join(SUPPORT)}")
    workspace = await world.app.core.workspace(LOCAL_WORKSPACE)
    by_name = {t.name: t for t in await world.app.core.store.list_teams(workspace.id)}
    return [None, by_name["sales"], by_name["support"]]


async def test_answer_count_agrees_with_the_rows_per_team_and_after_forget_me(
    world: World,
) -> None:
    crowd = Crowd(world)
    store = world.app.core.store
    for person in PEOPLE:
        await crowd[person].join()
    teams = await _teams(world, crowd)
    await _open(world, crowd, PEOPLE)
    assert await _counts(store, teams) == [0, 0, 0]
    for person, picks in zip(PEOPLE, PICKS, strict=True):
        assert "recorded" in await crowd.answer(person, 1, picks)
    assert "updated" in await crowd.answer("p0", 1, PICKS[1])  # a change of mind: still one

    answers = await store.answers_for_round(1)
    assert await _counts(store, teams) == [_rows(answers, t) for t in teams] == [8, 6, 2]

    # The open round's report per team shows the team's own count (6 of its 6: 100%).
    sales = await crowd.report("report team:sales")
    assert "Response rate so far: 100%." in sales, sales

    await crowd.cmd("p5", "forget me")  # in both teams
    await crowd.cmd("p7", "forget me")  # in none
    answers = await store.answers_for_round(1)
    assert await _counts(store, teams) == [_rows(answers, t) for t in teams] == [6, 5, 1]

    # A person leaving a team leaves its count, as they leave answers_for_round's teams.
    await crowd.cmd(ADMIN, "teams members sales remove p4")
    answers = await store.answers_for_round(1)
    assert await _counts(store, teams) == [_rows(answers, t) for t in teams] == [6, 4, 1]
    assert await store.answer_count(999) == 0  # no such round


async def test_closing_counts_its_respondents_and_the_manager_home_its_answers(
    world: World,
) -> None:
    crowd = Crowd(world)
    core = world.app.core
    await _open(world, crowd, PEOPLE)
    for person, picks in zip(PEOPLE[:7], PICKS[:7], strict=True):
        await crowd.answer(person, 1, picks)
    workspace = await core.workspace(LOCAL_WORKSPACE)
    manager = await core.store.ensure_person(workspace.id, ADMIN)
    home = await core.rounds.home_view(workspace, manager, Role.ADMIN)
    assert home.response_rate == 7 / await core.store.invitation_count(1)  # 7 of 9

    world.clock.advance(timedelta(hours=2))
    round_info = await core.store.get_round(workspace.id, 1)
    assert round_info is not None
    closed = await core.rounds.close(workspace, round_info, actor=ADMIN)
    assert closed is not None
    assert closed.respondents == 7 == len(await core.store.answers_for_round(1))


async def test_my_answers_read_the_research_once_for_all_closed_rounds(world: World) -> None:
    crowd = Crowd(world)
    core = world.app.core
    out = await crowd.cmd(ADMIN, f"research import {EXAMPLES / 'research_top3.csv'}")
    assert out.startswith("Imported"), out
    for number in (1, 2, 3):
        await _open(world, crowd, PEOPLE, research=False)
        for person, picks in zip(PEOPLE, PICKS, strict=True):
            await crowd.answer(person, number, picks)
        world.clock.advance(timedelta(hours=3))
        await crowd.cmd(ADMIN, "poll close")

    reads: list[int] = []
    store = core.store
    list_studies = store.list_studies

    async def counted(workspace_id: int):  # type: ignore[no-untyped-def]
        reads.append(workspace_id)
        return await list_studies(workspace_id)

    store.list_studies = counted  # type: ignore[method-assign]
    try:
        out = await crowd.cmd("p0", "me")
    finally:
        del store.list_studies
    assert out.count("Your top 3 in Round") == 3, out
    assert out.count("Customers' top 3 were") == 3, out
    assert len(reads) == 1  # one read of the studies for the three closed rounds
