"""The storage port: every read and write the core makes, as one protocol.

``storage.sql_store.SqlStore`` implements it on SQLAlchemy; each method is one transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.model.domain import Role, WorkspaceRef
from bot.model.mirror import MirrorStore
from bot.model.records import (
    AnswerRecord,
    AnswerWrite,
    AttributeInfo,
    AuditInfo,
    DueRound,
    InvitationInfo,
    NewOutboxItem,
    NewSchedule,
    OutboxItem,
    PersonInfo,
    RoleGrantInfo,
    RoundInfo,
    RoundState,
    ScheduleInfo,
    SentMessage,
    StudyInfo,
    TeamInfo,
    WorkspaceInfo,
)
from bot.model.research import ResearchStudy


class NotFoundError(LookupError):
    """A row named by id does not exist in this workspace."""


class NameTakenError(ValueError):
    """Another row of the workspace already has this name (two requests raced to create it)."""

    def __init__(self, what: str, name: str) -> None:
        super().__init__(f"{what} '{name}' already exists.")


class DuplicateStudyError(ValueError):
    """The same study (same source, segment and figures) was imported before."""

    def __init__(self, source: str, segment: str | None) -> None:
        where = f" for segment '{segment}'" if segment else ""
        super().__init__(
            f"this research ('{source}'{where}) was already imported; nothing was saved again"
        )


class DuplicateScheduleError(ValueError):
    """The workspace has a schedule of that name already (names are unique per workspace)."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"there is a schedule called '{name}' already: give this one another name with "
            "name:NAME; nothing was added"
        )


@dataclass(frozen=True, slots=True)
class AnswerGroup:
    """``count`` answers of a round with the same ranking from people in the same teams."""

    ranking: tuple[int, ...]  # attribute ids, best first
    teams: tuple[str, ...]  # the respondents' team names, sorted
    count: int


@dataclass(frozen=True, slots=True)
class RespondentGroup:
    """``count`` respondents of a round in the same teams who also answered the same of
    the earlier rounds asked about (``also[i]``: answered ``also_answered[i]``)."""

    teams: tuple[str, ...]  # sorted team names
    also: tuple[bool, ...]
    count: int


class Store(MirrorStore, Protocol):
    @property
    def dialect(self) -> str: ...

    async def close(self) -> None: ...

    async def ping(self) -> bool: ...

    async def ensure_workspace(
        self,
        ref: WorkspaceRef,
        *,
        name: str = "",
        time_zone: str = "UTC",
        top_k: int = 3,
        default_attributes: Sequence[tuple[str, str]] = (),
    ) -> WorkspaceInfo: ...

    async def get_workspace(self, ref: WorkspaceRef) -> WorkspaceInfo | None: ...

    async def workspace_by_id(self, workspace_id: int) -> WorkspaceInfo: ...

    async def ensure_person(
        self, workspace_id: int, user_id: str, display_name: str = ""
    ) -> PersonInfo: ...

    async def find_person(self, workspace_id: int, user_id: str) -> PersonInfo | None: ...

    async def ensure_people(
        self, workspace_id: int, people: Sequence[tuple[str, str]]
    ) -> list[PersonInfo]:
        """Many people at once (a channel's members when a round opens), in their order.

        New people are inserted in bulk; names of known people are left as they are."""
        ...

    async def person_by_id(self, workspace_id: int, person_id: int) -> PersonInfo | None: ...

    async def list_people(self, workspace_id: int) -> list[PersonInfo]: ...

    async def role_grants(self, workspace_id: int) -> list[RoleGrantInfo]: ...

    async def set_role(
        self, workspace_id: int, principal: str, role: Role | None, *, actor: str
    ) -> bool:
        """Grant ``role`` (or revoke with None). Returns whether anything changed."""
        ...

    async def list_attributes(
        self, workspace_id: int, *, include_retired: bool = False
    ) -> list[AttributeInfo]: ...

    async def add_attribute(
        self, workspace_id: int, name: str, description: str, *, actor: str
    ) -> AttributeInfo: ...

    async def retire_attribute(
        self, workspace_id: int, attribute_id: int, *, actor: str
    ) -> None: ...

    async def rename_attribute(
        self, workspace_id: int, attribute_id: int, new_name: str, *, actor: str
    ) -> None: ...

    async def list_teams(self, workspace_id: int) -> list[TeamInfo]: ...

    async def add_team(
        self, workspace_id: int, name: str, *, linked_source: str | None, actor: str
    ) -> TeamInfo: ...

    async def remove_team(self, workspace_id: int, team_id: int, *, actor: str) -> None: ...

    async def set_team_membership(
        self,
        workspace_id: int,
        team_id: int,
        *,
        add: Iterable[int] = (),
        remove: Iterable[int] = (),
        actor: str,
    ) -> None: ...

    async def team_members(self, team_id: int) -> list[PersonInfo]: ...

    async def save_studies(
        self, workspace_id: int, studies: Sequence[ResearchStudy], *, actor: str
    ) -> list[StudyInfo]:
        """All studies or none. Re-importing identical content raises DuplicateStudyError."""
        ...

    async def list_studies(self, workspace_id: int) -> list[StudyInfo]: ...

    async def get_study(self, workspace_id: int, study_id: int) -> StudyInfo: ...

    async def latest_studies(
        self, workspace_id: int, *, as_of: datetime | None = None
    ) -> dict[str, StudyInfo]:
        """The newest study per segment ("" = all customers), as known at ``as_of``."""
        ...

    async def latest_studies_at(
        self, workspace_id: int, moments: Sequence[datetime | None]
    ) -> list[dict[str, StudyInfo]]:
        """``latest_studies`` as of each moment, in order, from one read of the studies."""
        ...

    async def open_round(
        self,
        workspace_id: int,
        *,
        question: str,
        top_k: int,
        audience: str,
        opened_at: datetime,
        deadline: datetime,
        opened_by: str,
        person_ids: Sequence[int],
        schedule_id: int | None = None,
        fire_time: datetime | None = None,
        report_channels: Sequence[str] = (),
        remind_at: datetime | None = None,
    ) -> RoundInfo | None:
        """Open a round and invite people. None when this schedule already fired at that time."""
        ...

    async def get_round(self, workspace_id: int, round_id: int) -> RoundInfo | None: ...

    async def list_rounds(
        self, workspace_id: int, *, state: RoundState | None = None, limit: int = 20
    ) -> list[RoundInfo]: ...

    async def close_round(
        self, workspace_id: int, round_id: int, at: datetime, *, actor: str = "deadline"
    ) -> bool:
        """Close an open round and write it in the audit log (``actor``: who closed it early,
        or "deadline"). False if it was already closed (another replica did it)."""
        ...

    async def invitations(self, round_id: int) -> list[InvitationInfo]: ...

    async def invitation_count(self, round_id: int) -> int: ...

    async def answer_count(self, round_id: int, *, team_id: int | None = None) -> int:
        """How many people answered the round (a COUNT, no rows read); with ``team_id``, how
        many of them are members of that team now (as ``answers_for_round``'s ``teams``)."""
        ...

    async def record_answer(
        self,
        workspace_id: int,
        user_id: str,
        round_id: int,
        ranking: Sequence[int],
        *,
        at: datetime,
        event_id: str,
    ) -> AnswerWrite:
        """Store or replace one person's answer, once per event id, only while the round is
        open and only from someone invited to it (named by their platform user id). One short
        transaction of three prebuilt statements on a bare connection: this is the hot path of
        a poll burst."""
        ...

    async def answers_for_round(self, round_id: int) -> list[AnswerRecord]: ...

    async def answer_groups(self, round_id: int) -> list[AnswerGroup]:
        """The round's answers counted per distinct (ranking, respondent's teams), in the
        database: a few thousand rows however many people answered. In the order of the first
        answer with each ranking, so names first appear in the order ``answers_for_round``
        gives them."""
        ...

    async def respondent_groups(
        self, round_id: int, also_answered: Sequence[int] = ()
    ) -> list[RespondentGroup]:
        """The round's respondents counted per (teams, which of ``also_answered`` rounds
        they answered too), in the database; for disclosure control across rounds."""
        ...

    async def answer_of(self, round_id: int, person_id: int) -> AnswerRecord | None: ...

    async def rankings_of(
        self, round_id: int, person_ids: Sequence[int]
    ) -> dict[int, tuple[int, ...]]:
        """The current answers (attribute ids, best first) of those of these people who
        answered the round, in one query."""
        ...

    async def answers_of_person(
        self, workspace_id: int, person_id: int, *, limit: int = 10
    ) -> list[tuple[RoundInfo, AnswerRecord]]: ...

    async def forget_person(self, workspace_id: int, person_id: int, *, actor: str) -> None: ...

    async def claim_event(self, event_id: str, kind: str) -> bool:
        """True the first time an event id is seen; False for a retry or a double delivery."""
        ...

    async def add_schedule(
        self, workspace_id: int, schedule: NewSchedule, *, actor: str
    ) -> ScheduleInfo: ...

    async def list_schedules(self, workspace_id: int | None = None) -> list[ScheduleInfo]: ...

    async def set_schedule_paused(
        self, workspace_id: int, schedule_id: int, paused: bool, *, actor: str
    ) -> None: ...

    async def remove_schedule(self, workspace_id: int, schedule_id: int, *, actor: str) -> None: ...

    async def audit_log(self, workspace_id: int, *, limit: int = 50) -> list[AuditInfo]: ...

    async def rounds_past_deadline(self, now: datetime) -> list[DueRound]: ...

    async def rounds_to_remind(self, now: datetime) -> list[DueRound]: ...

    async def rounds_to_report(self) -> list[DueRound]: ...

    async def mark_reminded(self, round_id: int, at: datetime) -> bool:
        """Claim the reminder of a round; only one caller ever gets True."""
        ...

    async def mark_reported(self, round_id: int, at: datetime) -> bool: ...

    async def rounds_to_queue(self, opened_before: datetime) -> list[DueRound]:
        """Open rounds, opened before that moment, whose polls were never all queued."""
        ...

    async def mark_polls_queued(self, round_id: int, at: datetime) -> bool: ...

    async def freeze_round(
        self, round_id: int, payload: Mapping[str, Any], at: datetime
    ) -> dict[str, Any]:
        """Store a closed round's published figures unless some are stored already; returns
        the stored ones (the first caller's, so concurrent closers agree)."""
        ...

    async def round_snapshot(self, round_id: int) -> dict[str, Any] | None: ...

    async def unanswered(self, round_id: int) -> list[PersonInfo]: ...

    async def round_for_fire_time(self, schedule_id: int, fire_time: datetime) -> int | None: ...

    async def enqueue(self, workspace_id: int, items: Sequence[NewOutboxItem]) -> int:
        """Queue messages; a dedupe key already queued is skipped. Returns how many were new."""
        ...

    async def claim_outbox(
        self,
        now: datetime,
        *,
        worker: str,
        limit: int,
        per_workspace: int | None = None,
        skip: Collection[int] = (),
    ) -> list[OutboxItem]:
        """Take up to ``limit`` due messages for this worker; a message goes to one worker.

        Workspaces take turns (the first due message of each, then the second of each, ...),
        at most ``per_workspace`` each and none from ``skip``."""
        ...

    async def reclaim_stale(
        self, now: datetime, *, lease: timedelta, worker: str, limit: int
    ) -> list[OutboxItem]:
        """Messages claimed by another worker that stopped renewing its claims (it died
        mid-send): their delivery is uncertain. A worker never takes its own claims back."""
        ...

    async def outbox_started(self, item_ids: Sequence[int], *, at: datetime) -> None:
        """These claimed messages are about to be posted: should their worker die now, the
        next one asks the platform whether they arrived (and only these)."""
        ...

    async def renew_claims(self, item_ids: Sequence[int], *, worker: str, at: datetime) -> None:
        """A live worker's heartbeat: its claims stay fresh however slow a send is."""
        ...

    async def outbox_sent(
        self,
        item_id: int,
        *,
        conversation_id: str,
        message_id: str,
        at: datetime,
        poll_of: tuple[int, int] | None = None,
    ) -> None:
        """Mark a message sent; for a poll, also record where it went (same transaction)."""
        ...

    async def outbox_sent_many(self, sent: Sequence[SentMessage]) -> None:
        """Mark many messages sent in one transaction (see outbox_sent)."""
        ...

    async def outbox_retry(self, item_id: int, *, not_before: datetime, error: str) -> None: ...

    async def outbox_failed(self, item_id: int, *, error: str) -> None: ...

    async def outbox_counts(self) -> dict[str, int]: ...

    async def put(self, platform: str, kind: str, key: str, value: Mapping[str, Any]) -> None: ...

    async def put_first(
        self, platform: str, kind: str, key: str, value: Mapping[str, Any]
    ) -> dict[str, Any]: ...

    async def get(self, platform: str, kind: str, key: str) -> dict[str, Any] | None: ...

    async def delete(self, platform: str, kind: str, key: str) -> None: ...

    async def find(
        self, platform: str, kind: str, prefix: str = ""
    ) -> list[tuple[str, dict[str, Any]]]: ...
