"""Answers written in batches (group commit): each keeps its own verdict, none is lost or
counted twice, and one bad answer cannot sink the others. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.model.domain import WorkspaceRef
from bot.model.records import AnswerWrite
from storage import answer_batch
from storage import models as m
from storage.answer_batch import AnswerRequest
from storage.database import create_engine, upgrade
from storage.sql_store import SqlStore

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass
class Poll:
    store: SqlStore
    workspace_id: int
    round_id: int
    attributes: list[int]

    async def answer(self, user: str, event_id: str, *, at: datetime = NOW) -> AnswerWrite:
        return await self.store.record_answer(
            self.workspace_id, user, self.round_id, self.attributes[:3], at=at, event_id=event_id
        )

    async def stored(self) -> dict[str, tuple[int, ...]]:
        return {a.user_id: a.ranking for a in await self.store.answers_for_round(self.round_id)}

    async def claimed(self) -> set[str]:
        async with self.store._sessions() as session:
            return set(await session.scalars(select(m.ProcessedEvent.event_id)))


async def _open_poll(store: SqlStore, invited: Sequence[str]) -> Poll:
    workspace = await store.ensure_workspace(
        WorkspaceRef("slack", "T1"),
        default_attributes=[("Price", ""), ("Quality", ""), ("Speed", ""), ("Support", "")],
    )
    people = await store.ensure_people(workspace.id, [(u, u) for u in [*invited, "outsider"]])
    ids = {p.user_id: p.id for p in people}
    opened = await store.open_round(
        workspace.id,
        question="?",
        top_k=3,
        audience="everyone",
        opened_at=NOW - timedelta(hours=1),
        deadline=NOW + timedelta(days=1),
        opened_by="test",
        person_ids=[ids[u] for u in invited],
    )
    assert opened is not None
    attributes = [a.id for a in await store.list_attributes(workspace.id)]
    return Poll(store, workspace.id, opened.id, attributes)


def _count_transactions(store: SqlStore) -> list[int]:
    begun = [0]

    def on_begin(_connection: object) -> None:
        begun[0] += 1

    event.listen(store._engine.sync_engine, "begin", on_begin)
    return begun


async def test_answers_arriving_together_share_one_transaction(store: SqlStore) -> None:
    users = [f"U{i:03d}" for i in range(60)]
    poll = await _open_poll(store, users)
    begun = _count_transactions(store)

    verdicts = await asyncio.gather(*(poll.answer(u, f"ev-{u}") for u in users))

    assert verdicts == [AnswerWrite.RECORDED] * 60
    assert begun[0] == 1  # one per answer without batching
    assert set(await poll.stored()) == set(users)


async def test_each_answer_in_a_batch_keeps_its_own_verdict(store: SqlStore) -> None:
    poll = await _open_poll(store, ["U1", "U2", "U3", "U4"])
    assert await poll.answer("U1", "ev-earlier") is AnswerWrite.RECORDED

    verdicts = await asyncio.gather(
        poll.answer("U2", "ev-new"),  # recorded
        poll.answer("U1", "ev-earlier"),  # a platform retry of an event already stored
        poll.answer("U3", "ev-twice"),  # recorded ...
        poll.answer("U3", "ev-twice"),  # ... and the same delivery again in the same batch
        poll.answer("outsider", "ev-outsider"),  # not invited
        poll.answer("U4", "ev-late", at=NOW + timedelta(days=2)),  # after the deadline
        poll.answer("U4", "ev-late", at=NOW + timedelta(days=2)),  # ... and its retry
        poll.answer("U2", "ev-change"),  # U2 again, a new submission: replaces the first
    )

    assert verdicts == [
        AnswerWrite.RECORDED,
        AnswerWrite.DUPLICATE,
        AnswerWrite.RECORDED,
        AnswerWrite.DUPLICATE,
        AnswerWrite.NOT_INVITED,
        AnswerWrite.CLOSED,
        AnswerWrite.CLOSED,  # told the same, not "already recorded"
        AnswerWrite.REPLACED,
    ]
    assert set(await poll.stored()) == {"U1", "U2", "U3"}
    # A refused answer leaves no trace, so sending it again later is not a "duplicate".
    claimed = await poll.claimed()
    assert {"ev-new", "ev-earlier", "ev-twice", "ev-change"} <= claimed
    assert not {"ev-outsider", "ev-late"} & claimed


async def test_the_later_of_two_answers_in_one_batch_is_the_one_kept(store: SqlStore) -> None:
    poll = await _open_poll(store, ["U1"])
    first, second = poll.attributes[:3], poll.attributes[1:4]

    verdicts = await asyncio.gather(
        store.record_answer(poll.workspace_id, "U1", poll.round_id, first, at=NOW, event_id="a"),
        store.record_answer(poll.workspace_id, "U1", poll.round_id, second, at=NOW, event_id="b"),
    )

    assert verdicts == [AnswerWrite.RECORDED, AnswerWrite.REPLACED]
    assert (await poll.stored())["U1"] == tuple(second)


async def test_a_failing_answer_does_not_sink_its_batch(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    poll = await _open_poll(store, ["U1", "U2", "U3"])
    real = answer_batch.write_answers

    async def failing_on_poison(
        connection: AsyncConnection, requests: Sequence[AnswerRequest]
    ) -> list[AnswerWrite]:
        if any(r.event_id == "poison" for r in requests):
            raise ValueError("this answer cannot be written")
        return await real(connection, requests)

    monkeypatch.setattr(answer_batch, "write_answers", failing_on_poison)

    results = await asyncio.gather(
        poll.answer("U1", "ev-1"),
        poll.answer("U2", "poison"),
        poll.answer("U3", "ev-3"),
        return_exceptions=True,
    )

    assert results[0] is AnswerWrite.RECORDED
    assert isinstance(results[1], ValueError)
    assert results[2] is AnswerWrite.RECORDED
    assert set(await poll.stored()) == {"U1", "U3"}
    assert "poison" not in await poll.claimed()


@pytest.mark.parametrize(
    "failure",
    [
        ConnectionRefusedError("no database"),
        OperationalError("INSERT …", {}, Exception("canceling statement due to timeout")),
        PoolTimeout("QueuePool limit of size 10 overflow 20 reached"),
    ],
    ids=["unreachable", "statement timeout", "no free connection"],
)
async def test_when_the_database_fails_every_answer_of_the_batch_is_told_at_once(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch, failure: Exception
) -> None:
    poll = await _open_poll(store, ["U1", "U2", "U3"])
    attempts: list[int] = []

    async def failing(
        connection: AsyncConnection, requests: Sequence[AnswerRequest]
    ) -> list[AnswerWrite]:
        attempts.append(len(requests))
        raise failure

    monkeypatch.setattr(answer_batch, "write_answers", failing)

    results = await asyncio.gather(
        *(poll.answer(u, f"ev-{u}") for u in ("U1", "U2", "U3")), return_exceptions=True
    )

    assert all(r is failure for r in results)
    # Not retried one by one: each would fail the same way, and slowly.
    assert attempts == [3]


async def test_closing_the_store_writes_the_answers_already_queued(database_url: str) -> None:
    engine = create_engine(database_url)
    await upgrade(engine)
    store = SqlStore(engine)
    poll = await _open_poll(store, ["U1", "U2", "U3"])
    submitted = [asyncio.ensure_future(poll.answer(u, f"ev-{u}")) for u in ("U1", "U2", "U3")]
    await asyncio.sleep(0)  # queued, not yet written

    await store.close()

    assert [s.result() for s in submitted] == [AnswerWrite.RECORDED] * 3
    reopened = SqlStore(create_engine(database_url))
    try:
        assert set(await Poll(reopened, poll.workspace_id, poll.round_id, []).stored()) == {
            "U1",
            "U2",
            "U3",
        }
    finally:
        await reopened.close()
