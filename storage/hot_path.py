"""Statements of the answer burst and the poll fan-out, built once as SQLAlchemy Core and run on a bare connection.

A poll reaches everyone at once and most of them answer within minutes, so these few
statements run thousands of times a minute. Building them per call and running them through
an ORM session cost more CPU than the database spent on them (profiled with ``bench/ack.py``):
here each is constructed once, its compiled form is cached by SQLAlchemy, and the values
arrive as parameters.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import Select, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert, ReturningInsert

from storage import models as m

_tables = m.Base.metadata.tables
_people = _tables["people"]
_rounds = _tables["rounds"]
_invitations = _tables["invitations"]
_answers = _tables["answers"]
_outbox = _tables["outbox"]

# Parameters: event_id, kind, processed_at. A second insert of one id is a retry.
CLAIM_EVENT: Final[Insert] = insert(_tables["processed_events"])


def _answer_gate(*, lock: bool) -> Select[Any]:
    """The round's state and deadline, and the id of the person answering if they are invited
    (found by their platform user id, so the answer needs no lookup of its own), in one query.
    """
    person = (
        select(_people.c.id)
        .where(
            _people.c.workspace_id == bindparam("workspace_id"),
            _people.c.user_id == bindparam("user_id"),
        )
        .scalar_subquery()
    )
    invited = (
        select(_invitations.c.person_id)
        .where(_invitations.c.round_id == bindparam("round_id"), _invitations.c.person_id == person)
        .scalar_subquery()
        .label("invited")
    )
    query = select(_rounds.c.state, _rounds.c.deadline, invited).where(
        _rounds.c.id == bindparam("round_id")
    )
    # Shared lock on PostgreSQL: answers do not wait for each other, only for a close.
    return query.with_for_update(read=True, of=_rounds) if lock else query


def _upsert_answer(
    statement: postgresql.Insert | sqlite.Insert,
) -> ReturningInsert[Any]:
    """Insert or replace one person's answer; returns its revision count (1 = first)."""
    return statement.on_conflict_do_update(
        index_elements=["round_id", "person_id"],
        set_={
            "ranking": statement.excluded.ranking,
            "answered_at": statement.excluded.answered_at,
            "revisions": _answers.c.revisions + 1,
        },
    ).returning(_answers.c.revisions)


ANSWER_GATE: Final = {"postgresql": _answer_gate(lock=True), "sqlite": _answer_gate(lock=False)}
UPSERT_ANSWER: Final = {
    "postgresql": _upsert_answer(postgresql.insert(_answers)),
    "sqlite": _upsert_answer(sqlite.insert(_answers)),
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
