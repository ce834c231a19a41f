"""SQLAlchemy tables. Constraints here, not application checks, keep retries and replicas safe:
one answer per person per round, one round per schedule fire time, one processed event id."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.types import UtcDateTime

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets a real BIGINT identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    pass


def _id() -> Mapped[int]:
    return mapped_column(BigId, primary_key=True, autoincrement=True)


def _workspace_fk() -> Mapped[int]:
    return mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)


class Workspace(Base):
    __tablename__ = "workspaces"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)

    id: Mapped[int] = _id()
    platform: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(200), default="")
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    top_k: Mapped[int] = mapped_column(Integer, default=3)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Person(Base):
    __tablename__ = "people"
    __table_args__ = (UniqueConstraint("workspace_id", "user_id"),)

    id: Mapped[int] = _id()
    workspace_id: Mapped[int] = _workspace_fk()
    user_id: Mapped[str] = mapped_column(String(128))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class RoleGrant(Base):
    __tablename__ = "role_grants"
    __table_args__ = (UniqueConstraint("workspace_id", "principal"),)

    id: Mapped[int] = _id()
    workspace_id: Mapped[int] = _workspace_fk()
    principal: Mapped[str] = mapped_column(String(160))  # a user id, or "usergroup:<id>"
    role: Mapped[str] = mapped_column(String(16))
    granted_by: Mapped[str] = mapped_column(String(160))
    granted_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Attribute(Base):
    __tablename__ = "attributes"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    id: Mapped[int] = _id()
    workspace_id: Mapped[int] = _workspace_fk()
    name: Mapped[str] = mapped_column(String(80))
    description: Mapped[str] = mapped_column(String(300), default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    # Removed attributes are retired, not deleted: old answers and studies still name them.
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Team(Base):
    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    id: Mapped[int] = _id()
    workspace_id: Mapped[int] = _workspace_fk()
    name: Mapped[str] = mapped_column(String(80))
    linked_source: Mapped[str | None] = mapped_column(String(200), default=None)


class TeamMember(Base):
    __tablename__ = "team_members"

    team_id: Mapped[int] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Study(Base):
    __tablename__ = "studies"
    # Importing the same file twice must not count its customers twice.
    __table_args__ = (UniqueConstraint("workspace_id", "content_hash"),)

    id: Mapped[int] = _id()
    workspace_id: Mapped[int] = _workspace_fk()
    source: Mapped[str] = mapped_column(String(200))
    segment: Mapped[str] = mapped_column(String(80), default="")  # "" = all customers
    form: Mapped[str] = mapped_column(String(16))
    conducted_on: Mapped[date | None] = mapped_column(Date, default=None)
    sample_size: Mapped[int | None] = mapped_column(Integer, default=None)
    content_hash: Mapped[str] = mapped_column(String(64))
    imported_at: Mapped[datetime] = mapped_column(UtcDateTime())
    imported_by: Mapped[str] = mapped_column(String(160))


class StudyRow(Base):
    __tablename__ = "study_rows"
    __table_args__ = (UniqueConstraint("study_id", "attribute_id"),)

    id: Mapped[int] = _id()
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), index=True)
    attribute_id: Mapped[int] = mapped_column(ForeignKey("attributes.id"))
    rank: Mapped[int | None] = mapped_column(Integer, default=None)
    importance: Mapped[float | None] = mapped_column(Float, default=None)
    top3_count: Mapped[int | None] = mapped_column(Integer, default=None)


class Schedule(Base):
    __tablename__ = "schedules"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    id: Mapped[int] = _id()
    workspace_id: Mapped[int] = _workspace_fk()
    name: Mapped[str] = mapped_column(String(80))
    when_expr: Mapped[str] = mapped_column(String(120))
    time_zone: Mapped[str] = mapped_column(String(64))
    audience: Mapped[str] = mapped_column(String(200))
    window_seconds: Mapped[int] = mapped_column(Integer)
    remind_before_seconds: Mapped[int | None] = mapped_column(Integer, default=None)
    report_channels: Mapped[list[Any]] = mapped_column(JSON, default=list)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(160))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Round(Base):
    __tablename__ = "rounds"
    # A schedule fires once per instant, whichever replica sees it first.
    __table_args__ = (UniqueConstraint("schedule_id", "fire_time"),)

    id: Mapped[int] = _id()
    workspace_id: Mapped[int] = _workspace_fk()
    question: Mapped[str] = mapped_column(Text)
    top_k: Mapped[int] = mapped_column(Integer)
    audience: Mapped[str] = mapped_column(String(200))
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime())
    deadline: Mapped[datetime] = mapped_column(UtcDateTime())
    state: Mapped[str] = mapped_column(String(16), index=True)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    opened_by: Mapped[str] = mapped_column(String(160))
    schedule_id: Mapped[int | None] = mapped_column(
        ForeignKey("schedules.id", ondelete="SET NULL"), default=None
    )
    fire_time: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    report_channels: Mapped[list[Any]] = mapped_column(JSON, default=list)
    remind_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    reminded_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    # Set once the report and feedback are in the outbox; a crash before that is redone.
    reported_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    # Set once every invited person's poll is in the outbox; likewise.
    polls_queued_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)


class RoundSnapshot(Base):
    """A closed round's published figures, frozen when it closed: later reports read them,
    so forgetting a person (which deletes their answers) never changes what was shown."""

    __tablename__ = "round_snapshots"

    round_id: Mapped[int] = mapped_column(
        ForeignKey("rounds.id", ondelete="CASCADE"), primary_key=True
    )
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    frozen_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Invitation(Base):
    __tablename__ = "invitations"
    __table_args__ = (UniqueConstraint("round_id", "person_id"),)

    id: Mapped[int] = _id()
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    conversation_id: Mapped[str | None] = mapped_column(String(200), default=None)
    message_id: Mapped[str | None] = mapped_column(String(200), default=None)


class Answer(Base):
    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("round_id", "person_id"),)

    id: Mapped[int] = _id()
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    ranking: Mapped[list[Any]] = mapped_column(JSON)  # attribute ids, best first
    answered_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revisions: Mapped[int] = mapped_column(Integer, default=1)


class ProcessedEvent(Base):
    """Platform event ids already acted on: a retried delivery finds its id here."""

    __tablename__ = "processed_events"

    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    processed_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class PlatformRecord(Base):
    """An adapter's own JSON records (installations, conversation references)."""

    __tablename__ = "platform_records"

    platform: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_workspace_at", "workspace_id", "at"),)

    id: Mapped[int] = _id()
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    actor: Mapped[str] = mapped_column(String(160))
    action: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UtcDateTime())


class OutboxMessage(Base):
    """A message the bot owes someone. Written before it is sent, marked after: a crash at
    any point leaves a row that the next process finishes, and ``dedupe_key`` keeps a
    message from being queued twice."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("dedupe_key"),
        # A claim reads each workspace's oldest pending messages (storage/hot_path.py); with
        # not_before in the index it passes over messages waiting for a retry without
        # reading their rows.
        Index("ix_outbox_queue", "state", "workspace_id", "id", "not_before"),
    )

    id: Mapped[int] = _id()
    workspace_id: Mapped[int] = _workspace_fk()
    dedupe_key: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime] = mapped_column(UtcDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(64), default=None)
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    # Set just before the post: a claim left with it set was in flight when its worker died.
    send_started_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    conversation_id: Mapped[str | None] = mapped_column(String(200), default=None)
    message_id: Mapped[str | None] = mapped_column(String(200), default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)


class MirrorStudy(Base):
    """A mirror survey: customers of one segment rank the staff's attributes on a web form."""

    __tablename__ = "mirror_studies"

    id: Mapped[int] = _id()
    workspace_id: Mapped[int] = _workspace_fk()
    name: Mapped[str] = mapped_column(String(120))
    segment: Mapped[str] = mapped_column(String(80))
    top_k: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(160))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    closes_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    study_id: Mapped[int | None] = mapped_column(
        ForeignKey("studies.id", ondelete="SET NULL"), default=None
    )


class MirrorLinkRow(Base):
    """An invitation link, known only by its token's SHA-256: the token itself is shown once."""

    __tablename__ = "mirror_links"
    __table_args__ = (UniqueConstraint("token_hash"),)

    id: Mapped[int] = _id()
    mirror_id: Mapped[int] = mapped_column(
        ForeignKey("mirror_studies.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64))
    reusable: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)


class MirrorResponse(Base):
    """One customer's ranking. Deliberately holds no link, address or time of day: a response
    cannot be traced back to the invitation (and so to the CRM row) it came from."""

    __tablename__ = "mirror_responses"

    id: Mapped[int] = _id()
    mirror_id: Mapped[int] = mapped_column(
        ForeignKey("mirror_studies.id", ondelete="CASCADE"), index=True
    )
    ranking: Mapped[list[Any]] = mapped_column(JSON)  # attribute ids, best first
