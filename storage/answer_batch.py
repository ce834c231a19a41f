"""Poll answers written in batches: group commit.

A poll reaches everyone at once, so answers arrive in bursts of hundreds a second. Written one
per transaction, each answer cost five round trips (BEGIN, claim, gate, upsert, COMMIT) and a
WAL flush, and those socket writes and SQLAlchemy's work around them were a third of the
server's CPU under ``bench/ack.py``. Here every answer that arrives while a batch is being
written joins the next batch, and a batch is one transaction of set-based statements, so the
cost is shared by all its answers. No answer waits for a timer: a lone answer is written at
once, and the batches grow only as fast as answers queue up behind the database.

An answer is acknowledged only after the transaction holding it has committed, so batching
loses nothing a crash could take. Each answer keeps its own verdict: a retried event is a
duplicate, a late one is refused, and a refused answer leaves no trace, not even its event
id. If a batch fails for a reason that may be one answer's, its answers are written again
one by one, so one bad answer cannot sink the others; if the database itself fails
(unreachable, timed out, out of connections), every answer of the batch is told at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Row
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.model.records import AnswerWrite, RoundState
from storage import hot_path as hot

# Far above a burst's natural batch (about the number of requests in flight), yet one
# statement's parameters stay well under SQLite's and asyncpg's limits.
MAX_BATCH: Final = 500
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AnswerRequest:
    """One person's answer as the platform delivered it, before anything is known of it."""

    workspace_id: int
    user_id: str
    round_id: int
    ranking: tuple[int, ...]
    at: datetime
    event_id: str


@dataclass
class _Queued:
    request: AnswerRequest
    verdict: asyncio.Future[AnswerWrite]


class AnswerBatcher:
    """Queues answers and writes whatever is queued in one transaction, one batch at a time."""

    def __init__(self, engine: AsyncEngine, *, max_batch: int = MAX_BATCH) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._queue: list[_Queued] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, request: AnswerRequest) -> AnswerWrite:
        """Store or replace the answer; returns once it is committed (or refused)."""
        loop = asyncio.get_running_loop()
        queued = _Queued(request, loop.create_future())
        self._queue.append(queued)
        if self._writer is None or self._writer.done():
            self._writer = loop.create_task(self._drain())
        return await queued.verdict

    async def flush(self) -> None:
        """Wait until every answer queued so far is written (shutdown, tests)."""
        while self._writer is not None and not self._writer.done():
            await asyncio.shield(self._writer)

    async def _drain(self) -> None:
        while self._queue:
            batch = self._queue[: self._max_batch]
            del self._queue[: self._max_batch]
            await self._settle(batch)

    async def _settle(self, batch: list[_Queued]) -> None:
        try:
            verdicts = await self._write([q.request for q in batch])
        except Exception as error:
            if len(batch) > 1 and not _systemic(error):
                _log.warning(
                    "a batch of %d answers failed (%s); writing them one by one",
                    len(batch),
                    type(error).__name__,
                )
                for queued in batch:
                    await self._settle([queued])
                return
            for queued in batch:
                _resolve(queued.verdict, error=error)
            return
        for queued, verdict in zip(batch, verdicts, strict=True):
            _resolve(queued.verdict, verdict=verdict)

    async def _write(self, requests: Sequence[AnswerRequest]) -> list[AnswerWrite]:
        async with self._engine.begin() as connection:
            return await write_answers(connection, requests)


def _resolve(
    future: asyncio.Future[AnswerWrite],
    *,
    verdict: AnswerWrite | None = None,
    error: BaseException | None = None,
) -> None:
    # The submitter may have been cancelled (its client went away): the answer still counts.
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        assert verdict is not None
        future.set_result(verdict)


def _systemic(error: BaseException) -> bool:
    """Whether the failure is the database's, not one answer's: unreachable, timed out, out
    of connections. Written one by one, every answer would then fail the same way, and
    slowly (a pool timeout is 30 s each)."""
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, OperationalError | InterfaceError | PoolTimeout | OSError)


async def write_answers(
    connection: AsyncConnection, requests: Sequence[AnswerRequest]
) -> list[AnswerWrite]:
    """Each request's verdict, in order, with every accepted answer written, in the caller's
    transaction. An event id already processed is a duplicate, whatever else holds; then only
    open rounds take answers, and only from people invited to them."""
    dialect = connection.dialect.name
    verdicts = [AnswerWrite.DUPLICATE] * len(requests)
    fresh = await _claim_events(connection, requests)
    invited = await _invited_people(connection, [requests[i] for i in fresh])
    rounds = await _round_states(connection, {requests[i].round_id for i in fresh})
    accepted: dict[int, int] = {}
    for i in sorted(fresh):
        request = requests[i]
        refusal = _refusal(rounds.get(request.round_id), request, invited)
        if refusal is None:
            accepted[i] = invited[(request.workspace_id, request.user_id, request.round_id)]
        else:
            verdicts[i] = refusal
    refused = [requests[i].event_id for i in fresh if i not in accepted]
    if refused:
        # Nothing of a refused answer may stick, so that sending it again can succeed.
        await connection.execute(hot.UNCLAIM_EVENTS[dialect], {"event_ids": refused})
    for i, verdict in (await _upsert(connection, requests, accepted)).items():
        verdicts[i] = verdict
    return _retries_answered_like_their_first(requests, fresh, verdicts)


def _retries_answered_like_their_first(
    requests: Sequence[AnswerRequest], fresh: set[int], verdicts: list[AnswerWrite]
) -> list[AnswerWrite]:
    """A copy of an event that came in the same batch as the event itself gets its verdict:
    a duplicate if it was stored, the same refusal if it was refused."""
    verdict_of: dict[str, AnswerWrite] = {requests[i].event_id: verdicts[i] for i in fresh}
    stored = (AnswerWrite.RECORDED, AnswerWrite.REPLACED)
    answered = list(verdicts)
    for i, request in enumerate(requests):
        first = verdict_of.get(request.event_id)
        if i not in fresh and first is not None and first not in stored:
            answered[i] = first
    return answered


async def _claim_events(connection: AsyncConnection, requests: Sequence[AnswerRequest]) -> set[int]:
    """Record each new event id; the indexes of the requests that claimed one. The second of
    two requests with one id (a retry inside the batch) claims nothing."""
    first_of: dict[str, int] = {}
    for i, request in enumerate(requests):
        first_of.setdefault(request.event_id, i)
    # In key order, so two batches claiming the same ids lock them in the same order.
    rows = [
        {"event_id": event_id, "kind": "answer", "processed_at": requests[i].at}
        for event_id, i in sorted(first_of.items())
    ]
    claimed = await connection.execute(hot.CLAIM_EVENTS[connection.dialect.name], rows)
    return {first_of[event_id] for event_id in claimed.scalars()}


async def _invited_people(
    connection: AsyncConnection, requests: Sequence[AnswerRequest]
) -> dict[tuple[int, str, int], int]:
    """(workspace, user id, round) -> the person's id, for those invited to that round."""
    if not requests:
        return {}
    rows = await connection.execute(
        hot.INVITED[connection.dialect.name],
        {
            "workspace_ids": sorted({r.workspace_id for r in requests}),
            "user_ids": sorted({r.user_id for r in requests}),
            "round_ids": sorted({r.round_id for r in requests}),
        },
    )
    return {(row[0], row[1], row[2]): row[3] for row in rows}


async def _round_states(connection: AsyncConnection, round_ids: set[int]) -> dict[int, Row[Any]]:
    if not round_ids:
        return {}
    rows = await connection.execute(
        hot.ROUND_STATES[connection.dialect.name], {"round_ids": sorted(round_ids)}
    )
    return {row.id: row for row in rows}


def _refusal(
    round_row: Row[Any] | None,
    request: AnswerRequest,
    invited: dict[tuple[int, str, int], int],
) -> AnswerWrite | None:
    if (
        round_row is None
        or round_row.state != RoundState.OPEN.value
        or request.at >= round_row.deadline
    ):
        return AnswerWrite.CLOSED
    if (request.workspace_id, request.user_id, request.round_id) not in invited:
        return AnswerWrite.NOT_INVITED
    return None


async def _upsert(
    connection: AsyncConnection, requests: Sequence[AnswerRequest], accepted: dict[int, int]
) -> dict[int, AnswerWrite]:
    """Insert or replace the accepted answers; RECORDED or REPLACED for each."""
    verdicts: dict[int, AnswerWrite] = {}
    for wave in _waves(requests, accepted):
        rows = [
            {
                "round_id": requests[i].round_id,
                "person_id": accepted[i],
                "ranking": list(requests[i].ranking),
                "answered_at": requests[i].at,
                "revisions": 1,
            }
            for i in wave
        ]
        written = await connection.execute(hot.UPSERT_ANSWERS[connection.dialect.name], rows)
        revisions = {(row[0], row[1]): row[2] for row in written}
        for i in wave:
            count = revisions[(requests[i].round_id, accepted[i])]
            verdicts[i] = AnswerWrite.RECORDED if count == 1 else AnswerWrite.REPLACED
    return verdicts


def _waves(requests: Sequence[AnswerRequest], accepted: dict[int, int]) -> list[list[int]]:
    """The accepted requests split so that no person answers one round twice in one statement
    (PostgreSQL refuses that); a second answer replaces the first in a later wave. Each wave
    is in key order, so concurrent batches lock the same rows in the same order."""
    waves: list[list[int]] = []
    taken: list[set[tuple[int, int]]] = []
    for i in sorted(accepted):
        key = (requests[i].round_id, accepted[i])
        level = next((n for n, keys in enumerate(taken) if key not in keys), len(waves))
        if level == len(waves):
            waves.append([])
            taken.append(set())
        waves[level].append(i)
        taken[level].add(key)
    return [sorted(wave, key=lambda i: (requests[i].round_id, accepted[i])) for wave in waves]
