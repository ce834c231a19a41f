"""The life of a round through the console: answering, deadlines, duplicates, closing, the
report and each respondent's feedback."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

import pytest

from adapters.console.port import LOCAL_WORKSPACE
from adapters.console.session import ConsoleSession
from bot.model.domain import UserRef
from bot.model.events import AnswerStatus, AnswerSubmitted
from bot.model.records import RoundInfo, WorkspaceInfo
from bot.model.views import PollState
from tests.core.conftest import EXAMPLES, World

ADMIN = "boss"

# Poll numbers: 1 price, 2 product quality, 3 reliability, 4 delivery speed,
# 5 customer support, 6 ease of use, 7 innovation, 8 relationship/trust.
PICKS = [(1, 2, 3), (1, 2, 4), (1, 3, 5), (2, 1, 3), (1, 2, 6), (1, 7, 2), (5, 3, 8), (5, 3, 4)]
# Customers' top 3 in the enterprise study of research_top3.csv (the headline segment).
CUSTOMERS_TOP = "reliability, customer support, relationship/trust"


class Crowd:
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

    async def answer(self, user: str, round_id: int, picks: tuple[int, ...]) -> str:
        out = await self[user].handle_line(f"answer {round_id} {' '.join(map(str, picks))}")
        await self.world.app.core.idle()
        return out

    async def report(self, line: str = "report") -> str:
        await self[ADMIN].unread()
        return await self.cmd(ADMIN, line)

    async def status(self) -> str:
        return await self.cmd(ADMIN, "poll status")


async def _open(world: World, crowd: Crowd, people: list[str], *, research: bool = True) -> None:
    if research:
        out = await crowd.cmd(ADMIN, f"research import {EXAMPLES / 'research_top3.csv'}")
        assert out.startswith("Imported"), out
    for person in people:
        await crowd[person].join()
    out = await crowd.cmd(ADMIN, "poll now window:2h")
    assert "is open" in out, out
    await world.app.core.idle()


async def _workspace(world: World) -> WorkspaceInfo:
    return await world.app.core.workspace(LOCAL_WORKSPACE)


async def _round(world: World, round_id: int) -> RoundInfo:
    workspace = await _workspace(world)
    found = await world.app.core.store.get_round(workspace.id, round_id)
    assert found is not None
    return found


async def _attribute_ids(world: World) -> list[str]:
    workspace = await _workspace(world)
    return [str(a.id) for a in await world.app.core.store.list_attributes(workspace.id)]


def _score(report: str) -> int:
    found = re.search(r"^## Alignment score: (\d+)/100$", report, re.MULTILINE)
    assert found is not None, report
    return int(found.group(1))


def _status_line(answered: int, invited: int) -> str:
    # Below the minimum group size (5) the status shows no count (#11).
    shown = f"{answered} of {invited} answered ({answered / invited:.0%})"
    if answered < 5:
        shown = "fewer than 5 answers so far"
    return f"• Round 1 (2026-03-02): {shown}, closes 2026-03-02 11:00 UTC"


async def _status_is(world: World, crowd: Crowd, answered: int, invited: int) -> None:
    """The status line a manager sees, and the answers actually stored behind it."""
    assert await crowd.status() == _status_line(answered, invited)
    stored = await world.app.core.store.answers_for_round(1)
    assert len(stored) == answered


# -- answering -----------------------------------------------------------------------------


async def test_answering_twice_before_the_deadline_replaces_the_answer(world: World) -> None:
    crowd = Crowd(world)
    people = [f"p{i}" for i in range(5)]
    await _open(world, crowd, people)
    invited = len(people) + 1  # the admin is a person of the workspace too

    out = await crowd.answer("p0", 1, (1, 2, 3))
    assert out == "Thanks! Your answer is recorded: price, product quality, reliability."
    world.clock.advance(timedelta(minutes=30))
    out = await crowd.answer("p0", 1, (5, 3, 8))
    assert out == "Your answer is updated: customer support, reliability, relationship/trust."
    await _status_is(world, crowd, 1, invited)
    poll = await crowd["p0"].handle_line("poll 1")
    assert "Your current answer: 5. customer support, 3. reliability, 8. relationship/trust" in poll
    assert "You can change your answer until the deadline." in poll
    me = await crowd.cmd("p0", "me")
    assert me.startswith(
        "Your top 3 in Round 1 (2026-03-02): customer support, reliability, relationship/trust."
    ), me
    assert me.count("Round 1") == 1

    for person, picks in zip(people[1:], PICKS[1:], strict=False):
        assert "recorded" in await crowd.answer(person, 1, picks)
    await _status_is(world, crowd, 5, invited)
    world.clock.advance(timedelta(hours=2))
    closed = await crowd.cmd(ADMIN, "poll close")
    assert f"- Responses: 5 of {invited}" in closed, closed


async def test_an_answer_after_the_deadline_is_refused_politely(world: World) -> None:
    crowd = Crowd(world)
    await _open(world, crowd, ["p0", "p1"])
    assert "recorded" in await crowd.answer("p0", 1, (1, 2, 3))

    world.clock.advance(timedelta(hours=2))  # exactly the deadline: already too late
    closed_text = (
        "Sorry, this round has closed, so answers are no longer accepted. "
        "You will get the next poll when it opens."
    )
    assert await crowd.answer("p1", 1, (1, 2, 3)) == closed_text
    assert await crowd.answer("p0", 1, (5, 3, 8)) == closed_text
    poll = await crowd["p0"].handle_line("poll 1")
    assert "This round is closed." in poll
    assert "Your current answer: 1. price, 2. product quality, 3. reliability" in poll
    await _status_is(world, crowd, 1, 3)  # still open in name, nothing new

    await crowd.cmd(ADMIN, "poll close")
    assert await crowd.answer("p1", 1, (1, 2, 3)) == closed_text
    me = await crowd.cmd("p0", "me")
    assert "price, product quality, reliability" in me
    assert await crowd.cmd("p1", "me") == "You have not answered any poll yet."


MALFORMED = [
    ((1, 1, 2), "Each attribute can be picked only once; please choose different ones."),
    ((3, 3, 3), "Each attribute can be picked only once; please choose different ones."),
    ((1, 2), "Please pick exactly 3 attributes, one per place."),
    ((1, 2, 3, 4), "Please pick exactly 3 attributes, one per place."),
    ((1, 2, 9), "Pick numbers between 1 and 8."),
    ((0, 1, 2), "Pick numbers between 1 and 8."),
]


async def test_a_malformed_answer_is_refused_and_not_stored(world: World) -> None:
    crowd = Crowd(world)
    await _open(world, crowd, ["p0"], research=False)
    for picks, expected in MALFORMED:
        assert await crowd.answer("p0", 1, picks) == expected, picks
    await _status_is(world, crowd, 0, 2)
    assert await crowd.cmd("p0", "me") == "You have not answered any poll yet."
    assert "Usage: answer ROUND" in await crowd["p0"].handle_line("answer 1 price")
    assert await crowd["p0"].handle_line("answer 9 1 2 3") == "There is no round 9."


async def test_a_malformed_answer_through_the_core_is_refused(world: World) -> None:
    crowd = Crowd(world)
    await _open(world, crowd, ["p0"], research=False)
    ids = await _attribute_ids(world)
    user = UserRef(LOCAL_WORKSPACE, "p0", "p0")
    core = world.app.core
    outcome = await core.submit_answer(AnswerSubmitted("e1", user, 1, (ids[0], ids[0], ids[1])))
    assert outcome.status is AnswerStatus.REFUSED
    assert outcome.message.startswith("Each attribute can be picked only once")
    outcome = await core.submit_answer(AnswerSubmitted("e2", user, 1, (ids[0], "99999", ids[1])))
    assert outcome.status is AnswerStatus.REFUSED
    assert outcome.message == "One of the picks is no longer on the list; please pick again."
    outcome = await core.submit_answer(AnswerSubmitted("e3", user, 42, (ids[0], ids[1], ids[2])))
    assert outcome.status is AnswerStatus.REFUSED
    assert outcome.message == "That poll no longer exists."
    await _status_is(world, crowd, 0, 2)


async def test_the_same_answer_event_delivered_twice_is_stored_once(world: World) -> None:
    crowd = Crowd(world)
    await _open(world, crowd, ["p0", "p1"], research=False)
    ids = await _attribute_ids(world)
    user = UserRef(LOCAL_WORKSPACE, "p0", "p0")
    core = world.app.core

    first = await core.submit_answer(AnswerSubmitted("evt-1", user, 1, (ids[0], ids[1], ids[2])))
    assert first.status is AnswerStatus.RECORDED
    # The platform retries the same event (even with other picks): it must not count again.
    again = await core.submit_answer(AnswerSubmitted("evt-1", user, 1, (ids[0], ids[1], ids[2])))
    assert again.status is AnswerStatus.DUPLICATE
    assert again.message == "Your answer was already recorded."
    other = await core.submit_answer(AnswerSubmitted("evt-1", user, 1, (ids[4], ids[5], ids[6])))
    assert other.status is AnswerStatus.DUPLICATE

    answers = await core.store.answers_for_round(1)
    assert len(answers) == 1
    assert answers[0].ranking == tuple(int(i) for i in ids[:3])
    await _status_is(world, crowd, 1, 3)

    # Two deliveries at the same moment: still one answer.
    twin = AnswerSubmitted("evt-2", UserRef(LOCAL_WORKSPACE, "p1", "p1"), 1, tuple(ids[3:6]))
    outcomes = await asyncio.gather(core.submit_answer(twin), core.submit_answer(twin))
    assert sorted(o.status for o in outcomes) == sorted(
        [AnswerStatus.RECORDED, AnswerStatus.DUPLICATE]
    )
    assert len(await core.store.answers_for_round(1)) == 2
    # A new event from the same person is a change of mind, not a duplicate.
    changed = await core.submit_answer(AnswerSubmitted("evt-3", user, 1, tuple(ids[3:6])))
    assert changed.status is AnswerStatus.REPLACED
    assert len(await core.store.answers_for_round(1)) == 2


async def test_someone_outside_the_audience_cannot_answer(world: World) -> None:
    crowd = Crowd(world)
    for person in ("a", "b", "outsider"):
        await crowd[person].join()
    await crowd.cmd(ADMIN, "teams add sales")
    await crowd.cmd(ADMIN, "teams members sales add a b")
    assert "on its way to 2 people" in await crowd.cmd(ADMIN, "poll now team:sales window:2h")
    await world.app.core.idle()
    out = await crowd.answer("outsider", 1, (1, 2, 3))
    assert out == (
        "This poll was not sent to you, so an answer from you cannot count in it. "
        "You will be asked in the next round you are part of."
    )
    await _status_is(world, crowd, 0, 2)
    assert await crowd.cmd("outsider", "me") == "You have not answered any poll yet."
    assert "recorded" in await crowd.answer("a", 1, (1, 2, 3))
    await _status_is(world, crowd, 1, 2)


# -- delivering ----------------------------------------------------------------------------


async def test_a_poll_is_delivered_once_per_person_even_if_delivery_runs_twice(
    world: World,
) -> None:
    crowd = Crowd(world)
    people = ["p0", "p1", "p2"]
    await _open(world, crowd, people, research=False)
    workspace = await _workspace(world)
    round_info = await _round(world, 1)
    core = world.app.core

    # Queueing again (a retry, a restart) adds nothing; draining again sends nothing.
    assert await core.rounds.queue_polls(workspace, round_info) == 0
    assert await core.rounds.queue_polls(workspace, round_info) == 0
    await core.idle()
    await asyncio.gather(core.outbox.drain(), core.outbox.drain())
    assert await core.outbox.drain() == 0
    for person in [*people, ADMIN]:
        inbox = await crowd[person].handle_line("inbox")
        assert inbox.count("Round 1: Which attributes") == 1, (person, inbox)
        assert inbox.count("[DM]") == 1
    invitations = await core.store.invitations(1)
    assert len(invitations) == 4
    assert all(i.message_id is not None for i in invitations)


async def test_the_fan_out_reads_who_answered_once_per_batch_not_once_per_poll(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    crowd = Crowd(world)
    store = world.app.core.store
    calls = {"answer_of": 0, "rankings_of": 0}
    for name in calls:
        original = getattr(store, name)

        async def counted(*args: Any, _name: str = name, _original: Any = original) -> Any:
            calls[_name] += 1
            return await _original(*args)

        monkeypatch.setattr(store, name, counted)
    people = [f"p{i}" for i in range(12)]
    await _open(world, crowd, people, research=False)
    for person in [*people, ADMIN]:
        assert (await crowd[person].handle_line("inbox")).count("Round 1: Which") == 1
    assert calls["answer_of"] == 0, calls
    assert 1 <= calls["rankings_of"] <= 2, calls  # 13 polls fit one claimed window


async def test_a_batch_renders_each_poll_as_it_would_be_rendered_alone(world: World) -> None:
    """Rendered for a batch or alone, a poll shows the same: open for who has not answered,
    the current answer for who has (a poll retried after the person answered)."""
    crowd = Crowd(world)
    people = ["p0", "p1", "p2"]
    await _open(world, crowd, people, research=False)
    assert "recorded" in await crowd.answer("p1", 1, (3, 1, 2))
    workspace = await _workspace(world)
    rounds = world.app.core.rounds
    ids = [p.id for p in await world.app.core.store.list_people(workspace.id)]
    together = await rounds.polls_for_people(workspace, 1, ids)
    alone = {i: await rounds.poll_for_person(workspace, 1, i) for i in ids}
    assert together == alone
    assert sorted(p.state.name for p in together.values()) == ["ANSWERED", "OPEN", "OPEN", "OPEN"]
    # Who has not answered shares one view, so a port can render it once for all of them.
    assert len({id(p) for p in together.values() if p.state is PollState.OPEN}) == 1


# -- closing -------------------------------------------------------------------------------


async def _answered_round(world: World, crowd: Crowd, n: int) -> list[str]:
    people = [f"p{i}" for i in range(n)]
    await _open(world, crowd, people)
    for person, picks in zip(people, PICKS, strict=False):
        assert "recorded" in await crowd.answer(person, 1, picks)
    for person in [*people, ADMIN]:
        await crowd[person].unread()  # the polls are old news
    world.clock.advance(timedelta(hours=2))
    return people


async def test_closing_twice_posts_one_report(world: World) -> None:
    crowd = Crowd(world)
    people = await _answered_round(world, crowd, 6)
    workspace = await _workspace(world)
    stale = await _round(world, 1)
    rounds = world.app.core.rounds

    results = await asyncio.gather(rounds.close(workspace, stale), rounds.close(workspace, stale))
    assert sum(r is not None for r in results) == 1
    closed = next(r for r in results if r is not None)
    assert closed.respondents == 6
    assert await rounds.close(workspace, stale) is None
    out = await crowd.cmd(ADMIN, "poll close round:1")
    assert out == "Error: Round 1 (2026-03-02) is already closed."

    channel = await crowd["observer"].unread()  # someone who only reads the channel
    assert channel.count("[#general] # Do we know what our customers value?") == 1, channel
    assert channel.count("## Alignment score:") == 1
    for person in people:
        inbox = await crowd[person].unread()
        assert inbox.count("Thank you for taking part") == 1, (person, inbox)


async def test_each_respondent_gets_personal_feedback_after_close(world: World) -> None:
    crowd = Crowd(world)
    people = await _answered_round(world, crowd, 6)
    await crowd["quiet"].join()  # joined after the round opened, so not invited
    out = await crowd.cmd(ADMIN, "poll close")
    assert out.startswith("Round 1 (2026-03-02) is closed.")
    assert f"- Customers' top 3: {CUSTOMERS_TOP}" in out

    expected_hits = {
        "p0": "you had 1 of them (reliability)",
        "p2": "you had 2 of them (reliability, customer support)",
        "p5": "you had none of them",
    }
    for person in people:
        inbox = await crowd[person].unread()
        dms = [m for m in inbox.split("\n\n") if m.startswith("[DM]")]
        assert len(dms) == 1, (person, inbox)
        assert f"Customers' top 3 were {CUSTOMERS_TOP}" in dms[0]
        assert "Thank you for taking part — 6 of 7 people answered." in dms[0]
        assert dms[0].startswith("[DM] Your top 3 in Round 1 (2026-03-02): "), dms[0]
        if person in expected_hits:
            assert expected_hits[person] in dms[0], dms[0]
    # The admin was invited but did not answer: the report, but no feedback.
    admin_inbox = await crowd[ADMIN].unread()
    assert "Customers' top 3 were" not in admin_inbox
    assert "## Alignment score:" in admin_inbox
    assert "Customers' top 3 were" not in await crowd["quiet"].unread()


async def test_the_second_rounds_report_shows_the_trend(world: World) -> None:
    crowd = Crowd(world)
    people = await _answered_round(world, crowd, 6)
    first = await crowd.cmd(ADMIN, "poll close")
    assert "## Alignment score:" in first
    assert "Since the previous round" not in first

    world.clock.advance(timedelta(days=7))
    assert "Round 2 (2026-03-09) is open" in await crowd.cmd(ADMIN, "poll now window:2h")
    await world.app.core.idle()
    # Everyone now puts the customers' own top 3 first.
    for person in people:
        assert "recorded" in await crowd.answer(person, 2, (3, 5, 8))
    world.clock.advance(timedelta(hours=2))
    second = await crowd.cmd(ADMIN, "poll close")
    assert "- Top-3 match: 3 of 3" in second, second
    assert "## Since the previous round" in second
    trend = second.split("## Since the previous round", 1)[1]
    assert "- Top-k match: 1 → 3 (+2)" in trend
    before, after = _score(first), _score(second)
    assert after > before
    assert f"- Alignment score: {before} → {after} (+{after - before})" in trend

    # The first round's report still has no trend, however often it is asked for.
    assert "Since the previous round" not in await crowd.report("report round:1")
    assert "Since the previous round" in await crowd.report("report round:2")


async def test_a_team_below_five_is_suppressed(world: World) -> None:
    crowd = Crowd(world)
    people = [f"p{i}" for i in range(8)]
    await crowd.cmd(ADMIN, "teams add sales")
    await crowd.cmd(ADMIN, f"teams members sales add {' '.join(people[:5])}")
    await crowd.cmd(ADMIN, "teams add support")
    await crowd.cmd(ADMIN, f"teams members support add {' '.join(people[5:])}")
    await _open(world, crowd, people)
    for person, picks in zip(people, PICKS, strict=True):
        assert "recorded" in await crowd.answer(person, 1, picks)
    world.clock.advance(timedelta(hours=2))
    out = await crowd.cmd(ADMIN, "poll close")

    assert "- Responses: 8 of 9 (89%)" in out
    # Sales has 5, but everyone minus sales would be support's 3 (#11): sales is hidden too.
    assert "| sales | hidden so that individual answers cannot be worked out | | | |" in out, out
    assert "| support | too few answers | | | |" in out
    assert "| support | 3 " not in out

    support = await crowd.report("report team:support")
    assert "# Do we know what our customers value? — Round 1 (2026-03-02) · team support" in support
    assert "Too few answers to report yet" in support
    assert "Too few answers to show results (at least 5 are needed)." in support
    for hidden in ("Alignment score", "Responses", "Staff top", "Surprises"):
        assert hidden not in support, hidden
    sales = await crowd.report("report team:sales")
    assert "These figures are hidden so that individual answers cannot be worked out." in sales
    assert "## Alignment score:" not in sales

    # The people in a suppressed team still get their own feedback.
    inbox = await crowd["p7"].unread()
    assert f"Customers' top 3 were {CUSTOMERS_TOP}" in inbox
