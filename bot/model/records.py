"""What the core reads back from storage: plain frozen records, no ORM objects."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from bot.model.domain import Role, WorkspaceRef
from bot.model.research import ResearchForm, ResearchRow, ResearchStudy


@dataclass(frozen=True, slots=True)
class WorkspaceInfo:
    id: int
    ref: WorkspaceRef
    name: str
    time_zone: str
    top_k: int


@dataclass(frozen=True, slots=True)
class PersonInfo:
    id: int
    user_id: str
    display_name: str


@dataclass(frozen=True, slots=True)
class AttributeInfo:
    id: int
    name: str
    description: str
    active: bool = True


@dataclass(frozen=True, slots=True)
class TeamInfo:
    id: int
    name: str
    member_count: int
    linked_source: str | None = None


@dataclass(frozen=True, slots=True)
class RoleGrantInfo:
    principal: str
    role: Role
    granted_by: str
    granted_at: datetime


@dataclass(frozen=True, slots=True)
class StudyInfo:
    id: int
    source: str
    segment: str  # "" = all customers
    form: ResearchForm
    conducted_on: date | None
    sample_size: int | None
    imported_at: datetime
    rows: tuple[ResearchRow, ...]

    def to_study(self) -> ResearchStudy:
        return ResearchStudy(
            source=self.source,
            form=self.form,
            rows=self.rows,
            conducted_on=self.conducted_on,
            segment=self.segment or None,
            sample_size=self.sample_size,
        )

    @property
    def label(self) -> str:
        when = f", {self.conducted_on.isoformat()}" if self.conducted_on else ""
        segment = f" [{self.segment}]" if self.segment else ""
        return f"#{self.id} {self.source}{segment}{when} ({self.form.value})"


class RoundState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class RoundInfo:
    id: int
    question: str
    top_k: int
    audience: str
    opened_at: datetime
    deadline: datetime
    state: RoundState
    closed_at: datetime | None
    schedule_id: int | None = None
    report_channels: tuple[str, ...] = ()
    remind_at: datetime | None = None

    @property
    def label(self) -> str:
        return f"Round {self.id} ({self.opened_at:%Y-%m-%d})"

    def accepts_answers_at(self, now: datetime) -> bool:
        return self.state is RoundState.OPEN and now < self.deadline


@dataclass(frozen=True, slots=True)
class AnswerRecord:
    person_id: int
    user_id: str
    ranking: tuple[int, ...]  # attribute ids, best first
    answered_at: datetime
    teams: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class InvitationInfo:
    person: PersonInfo
    conversation_id: str | None
    message_id: str | None


class AnswerWrite(StrEnum):
    RECORDED = "recorded"
    REPLACED = "replaced"
    DUPLICATE = "duplicate"
    CLOSED = "closed"
    NOT_INVITED = "not_invited"


@dataclass(frozen=True, slots=True)
class ScheduleInfo:
    id: int
    workspace_id: int
    name: str
    when_expr: str
    time_zone: str
    audience: str
    window_seconds: int
    remind_before_seconds: int | None
    report_channels: tuple[str, ...]
    paused: bool
    created_by: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class NewSchedule:
    name: str
    when_expr: str
    time_zone: str
    audience: str
    window_seconds: int
    remind_before_seconds: int | None
    report_channels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AuditInfo:
    actor: str
    action: str
    at: datetime


class OutboxKind(StrEnum):
    POLL = "poll"  # payload: round_id, person_id, user_id
    TEXT = "text"  # payload: user_id or channel, text
    REPORT = "report"  # payload: round_id, channel


@dataclass(frozen=True, slots=True)
class NewOutboxItem:
    dedupe_key: str
    kind: OutboxKind
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    workspace_id: int
    dedupe_key: str
    kind: OutboxKind
    payload: dict[str, Any]
    attempts: int
    claimed_at: datetime | None
    send_started: bool = False  # a post of it had begun (under some worker's claim)


@dataclass(frozen=True, slots=True)
class SentMessage:
    """An outbox message the platform accepted: where it went, and when."""

    item_id: int
    conversation_id: str
    message_id: str
    at: datetime
    poll_of: tuple[int, int] | None = None  # (round, person) of a poll


@dataclass(frozen=True, slots=True)
class DueRound:
    workspace_id: int
    round: RoundInfo
