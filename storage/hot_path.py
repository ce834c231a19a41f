"""Statements of the answer burst and the poll fan-out, built once as SQLAlchemy Core and run on a bare connection.

A poll reaches everyone at once and most of them answer within minutes, so these few
statements run thousands of times a minute. Building them per call and running them through
an ORM session cost more CPU than the database spent on them (profiled with ``bench/ack.py``):
here each is constructed once, its compiled form is cached by SQLAlchemy, and the values
arrive as parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final, cast

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    any_,
    bindparam,
    delete,
    literal,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.dml import ReturningInsert

from storage import models as m

_tables = m.Base.metadata.tables
_people = _tables["people"]
_rounds = _tables["rounds"]
_invitations = _tables["invitations"]
_answers = _tables["answers"]
_outbox = _tables["outbox"]
_claims = _tables["processed_events"]


def among(dialect: str, column: Any, values: Sequence[Any] | str) -> ColumnElement[bool]:
    """``column IN values``: ``values`` is the list itself, or the name of a parameter that
    carries it at run time (the statements built once here). On PostgreSQL ``= ANY(array)``:
    one parameter instead of one per value, so the statement text and its prepared plan are
    the same for any length."""
    if dialect == "postgresql":
        array = ARRAY(column.type)
        bound = (
            bindparam(values, type_=array)
            if isinstance(values, str)
            else literal(list(values), array)
        )
        return cast(ColumnElement[bool], column == any_(bound))
    if isinstance(values, str):
        return cast(ColumnElement[bool], column.in_(bindparam(values, expanding=True)))
    return cast(ColumnElement[bool], column.in_(values))


def dialect_insert(dialect: str, table: Any) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that can take ON CONFLICT, in the dialect's own construct."""
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


def _claim_events(statement: postgresql.Insert | sqlite.Insert) -> ReturningInsert[Any]:
    """Record event ids (run with one row each); returns those that were new."""
    return statement.on_conflict_do_nothing(index_elements=["event_id"]).returning(
        _claims.c.event_id
    )


def _invited(dialect: str) -> Select[Any]:
    """Who of these users is invited to which of these rounds, found by platform user id."""
    return (
        select(_people.c.workspace_id, _people.c.user_id, _invitations.c.round_id, _people.c.id)
        .join(_invitations, _invitations.c.person_id == _people.c.id)
        .where(
            among(dialect, _people.c.workspace_id, "workspace_ids"),
            among(dialect, _people.c.user_id, "user_ids"),
            among(dialect, _invitations.c.round_id, "round_ids"),
        )
    )


def _round_states(dialect: str) -> Select[Any]:
    query = select(_rounds.c.id, _rounds.c.state, _rounds.c.deadline).where(
        among(dialect, _rounds.c.id, "round_ids")
    )
    # Shared lock on PostgreSQL: answers do not wait for each other, only for a close.
    return query.with_for_update(read=True) if dialect == "postgresql" else query


def _upsert_answers(statement: postgresql.Insert | sqlite.Insert) -> ReturningInsert[Any]:
    """Insert or replace answers (run with one row each); returns each one's revision count
    (1 = first) by its round and person."""
    return statement.on_conflict_do_update(
        index_elements=["round_id", "person_id"],
        set_={
            "ranking": statement.excluded.ranking,
            "answered_at": statement.excluded.answered_at,
            "revisions": _answers.c.revisions + 1,
        },
    ).returning(_answers.c.round_id, _answers.c.person_id, _answers.c.revisions)


_DIALECTS: Final = ("postgresql", "sqlite")
CLAIM_EVENTS: Final = {d: _claim_events(dialect_insert(d, _claims)) for d in _DIALECTS}
UNCLAIM_EVENTS: Final = {
    d: delete(_claims).where(among(d, _claims.c.event_id, "event_ids")) for d in _DIALECTS
}
INVITED: Final = {d: _invited(d) for d in _DIALECTS}
ROUND_STATES: Final = {d: _round_states(d) for d in _DIALECTS}
# Each claimed message is marked just before its post (in batches), for crash recovery.
OUTBOX_STARTED: Final = {
    d: update(_outbox)
    .where(among(d, _outbox.c.id, "item_ids"))
    .values(send_started_at=bindparam("started_at"))
    for d in _DIALECTS
}
UPSERT_ANSWERS: Final = {d: _upsert_answers(dialect_insert(d, _answers)) for d in _DIALECTS}
# The fan-out renders a claimed batch of polls with one read of who already answered.
RANKINGS_OF: Final = {
    d: select(_answers.c.person_id, _answers.c.ranking).where(
        _answers.c.round_id == bindparam("round_id"),
        among(d, _answers.c.person_id, "person_ids"),
    )
    for d in _DIALECTS
}

# The fan-out renders each poll with the person's current answer (a retried poll may come
# after they answered) and marks each one sent: once per person of the audience.
ANSWER_OF: Final = select(_answers.c.person_id, _answers.c.ranking, _answers.c.answered_at).where(
    _answers.c.round_id == bindparam("round_id"),
    _answers.c.person_id == bindparam("person_id"),
)


# Bound names differ from the columns': SQLAlchemy keeps those for the SET clause.
POLL_DELIVERED_TO: Final = (
    update(_invitations)
    .where(
        _invitations.c.round_id == bindparam("of_round"),
        _invitations.c.person_id == bindparam("of_person"),
    )
    .values(conversation_id=bindparam("to_conversation"), message_id=bindparam("to_message"))
)
OUTBOX_SENT: Final = (
    update(_outbox)
    .where(_outbox.c.id == bindparam("item_id"))
    .values(
        state="sent",
        sent_at=bindparam("sent"),
        conversation_id=bindparam("to_conversation"),
        message_id=bindparam("to_message"),
        last_error=None,
    )
)


# --- the outbox's claim ---------------------------------------------------------------------
# Each claim of a fan-out reads a few dozen due messages of each workspace with messages
# queued, through the index on (state, workspace_id, id, not_before): its cost does not grow
# with the number of messages still queued, as a window over all of them did
# (bench/fanout.py).

# The workspaces with messages pending, one index probe each (a "skip scan" written out: the
# smallest workspace id, then the smallest above it, ...), never a read of every pending row.
QUEUED_WORKSPACES: Final = text(
    """
    WITH RECURSIVE queued(workspace_id) AS (
        SELECT min(workspace_id) FROM outbox WHERE state = 'pending'
        UNION ALL
        SELECT (
            SELECT min(o.workspace_id) FROM outbox AS o
            WHERE o.state = 'pending' AND o.workspace_id > queued.workspace_id
        )
        FROM queued WHERE queued.workspace_id IS NOT NULL
    )
    SELECT workspace_id FROM queued WHERE workspace_id IS NOT NULL
    """
).columns()
# SQLite allows at most 500 arms in one compound SELECT: a claim asks in parts of this many.
MAX_ARMS: Final = 100


def due_in(workspaces: Sequence[int], now: datetime, per_workspace: int) -> CompoundSelect[Any]:
    """(id, workspace_id) of the first ``per_workspace`` messages due by ``now`` in each of
    ``workspaces``, oldest first within each: one indexed range read per workspace."""
    arms = [
        select(_outbox.c.id, _outbox.c.workspace_id)
        .where(
            _outbox.c.state == "pending",
            _outbox.c.workspace_id == workspace_id,
            _outbox.c.not_before <= now,
        )
        .order_by(_outbox.c.id)
        .limit(per_workspace)
        .subquery()
        for workspace_id in workspaces
    ]
    return union_all(*(select(arm.c.id, arm.c.workspace_id) for arm in arms))


def _not_by_index(column: Any) -> Any:
    """``column`` as an expression no index serves (``column || ''``), for a condition that
    only double-checks rows already named by id. Given ``id IN (…) AND state = 'pending'``
    SQLite's planner, which has no statistics, walked the state index over every pending
    message instead of looking the ids up: each claim of a fan-out cost time in proportion
    to all the messages still queued."""
    return column + ""


# Take the picked messages, unless another worker took one in the meantime.
CLAIM: Final = {
    d: update(_outbox)
    .where(among(d, _outbox.c.id, "item_ids"), _not_by_index(_outbox.c.state) == "pending")
    .values(
        state="sending",
        claimed_by=bindparam("worker"),
        claimed_at=bindparam("now"),
        send_started_at=None,
    )
    .returning(*_outbox.c)
    for d in _DIALECTS
}


def _stale_claims() -> Any:
    """Claims of another worker that stopped renewing them (it died): ``cutoff``, ``worker``,
    ``limit``; each row taken over for ``worker`` at ``now``."""
    stale = (
        _outbox.c.state == "sending",
        _outbox.c.claimed_at < bindparam("cutoff", type_=_outbox.c.claimed_at.type),
        _outbox.c.claimed_by != bindparam("worker"),
    )
    oldest = (
        select(_outbox.c.id)
        .where(*stale)
        .order_by(_outbox.c.id)
        .limit(bindparam("limit"))
        .scalar_subquery()
    )
    return (
        update(_outbox)
        .where(_outbox.c.id.in_(oldest), *stale)
        .values(claimed_by=bindparam("worker"), claimed_at=bindparam("now"))
        .returning(*_outbox.c)
    )


RECLAIM: Final = _stale_claims()
