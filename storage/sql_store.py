"""The SQLAlchemy implementation of the core's ``bot.model.store.Store``.

Each public method is one transaction: the core never holds a session across an await on a
chat platform, so a slow Slack call cannot keep a database connection or lock busy.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import (
    AsyncIterator,
    Callable,
    Collection,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar

from sqlalchemy import (
    Row,
    Text,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased
from sqlalchemy.sql import Select

from bot.model.domain import Role, WorkspaceRef
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
    OutboxKind,
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
from bot.model.research import ResearchForm, ResearchRow, ResearchStudy
from bot.model.store import (
    AnswerGroup,
    DuplicateScheduleError,
    DuplicateStudyError,
    NameTakenError,
    NotFoundError,
    RespondentGroup,
)
from storage import hot_path as hot
from storage import models as m
from storage.answer_batch import AnswerBatcher, AnswerRequest
from storage.mirror_store import MirrorTables

_log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


class SqlStore(MirrorTables):
    def __init__(self, engine: AsyncEngine, *, clock: Callable[[], datetime] | None = None) -> None:
        # The core's clock stamps rows, so a test clock and "research known at close" agree.
        self._now = clock or _now
        self._engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._answers = AnswerBatcher(engine)

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    async def close(self) -> None:
        await self._answers.flush()  # answers already queued are written, not dropped
        await self._engine.dispose()

    async def ping(self) -> bool:
        try:
            async with self._engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def _naming(self, what: str, name: str) -> AsyncIterator[AsyncSession]:
        """A transaction that gives a row a name: the unique constraint's verdict, should a
        concurrent request take the name first, is a NameTakenError rather than a crash."""
        try:
            async with self._tx() as session:
                yield session
        except IntegrityError as exc:
            raise NameTakenError(what, name) from exc

    # -- workspaces and people ------------------------------------------------------------

    async def ensure_workspace(
        self,
        ref: WorkspaceRef,
        *,
        name: str = "",
        time_zone: str = "UTC",
        top_k: int = 3,
        default_attributes: Sequence[tuple[str, str]] = (),
    ) -> WorkspaceInfo:
        found = await self.get_workspace(ref)
        if found is not None:
            return found
        try:
            async with self._tx() as session:
                row = m.Workspace(
                    platform=ref.platform,
                    external_id=ref.external_id,
                    name=name,
                    time_zone=time_zone,
                    top_k=top_k,
                    created_at=self._now(),
                )
                session.add(row)
                await session.flush()
                for position, (attr_name, description) in enumerate(default_attributes):
                    session.add(
                        m.Attribute(
                            workspace_id=row.id,
                            name=attr_name,
                            description=description,
                            position=position,
                            active=True,
                        )
                    )
        except IntegrityError:
            pass  # another request or replica created it first: use theirs
        found = await self.get_workspace(ref)
        assert found is not None
        return found

    async def get_workspace(self, ref: WorkspaceRef) -> WorkspaceInfo | None:
        async with self._sessions() as session:
            row = await session.scalar(
                select(m.Workspace).where(
                    m.Workspace.platform == ref.platform,
                    m.Workspace.external_id == ref.external_id,
                )
            )
        return None if row is None else _workspace(row)

    async def workspace_by_id(self, workspace_id: int) -> WorkspaceInfo:
        async with self._sessions() as session:
            row = await session.get(m.Workspace, workspace_id)
        if row is None:
            raise NotFoundError(f"workspace {workspace_id} not found")
        return _workspace(row)

    async def ensure_person(
        self, workspace_id: int, user_id: str, display_name: str = ""
    ) -> PersonInfo:
        found = await self.find_person(workspace_id, user_id)
        if found is not None:
            if display_name and found.display_name != display_name:
                async with self._tx() as session:
                    await session.execute(
                        update(m.Person)
                        .where(m.Person.id == found.id)
                        .values(display_name=display_name)
                    )
                return PersonInfo(found.id, found.user_id, display_name)
            return found
        try:
            async with self._tx() as session:
                session.add(
                    m.Person(
                        workspace_id=workspace_id,
                        user_id=user_id,
                        display_name=display_name,
                        created_at=self._now(),
                    )
                )
        except IntegrityError:
            pass
        found = await self.find_person(workspace_id, user_id)
        assert found is not None
        return found

    async def find_person(self, workspace_id: int, user_id: str) -> PersonInfo | None:
        async with self._engine.connect() as connection:
            return (await _people_named(connection, workspace_id, [user_id])).get(user_id)

    async def ensure_people(
        self, workspace_id: int, people: Sequence[tuple[str, str]]
    ) -> list[PersonInfo]:
        """Many people at once (a channel's members when a round opens), in their order.

        New people are inserted in bulk; names of known people are left as they are."""
        if not people:
            return []
        now = self._now()
        ids = list(dict.fromkeys(user_id for user_id, _ in people))
        names = dict(people)
        found: dict[str, PersonInfo] = {}
        added = 0
        # Core on a bare connection: ORM objects for a 10,000-member channel cost seconds.
        async with self._engine.begin() as connection:
            await _plan_per_list(connection)
            for chunk in _chunks(ids, 500):
                known = await _people_named(connection, workspace_id, chunk)
                missing = [u for u in chunk if u not in known]
                if missing:
                    rows = [
                        {
                            "workspace_id": workspace_id,
                            "user_id": u,
                            "display_name": names[u],
                            "created_at": now,
                        }
                        for u in missing
                    ]
                    inserted = await connection.execute(
                        hot.dialect_insert(self.dialect, m.Person)
                        .on_conflict_do_nothing(index_elements=["workspace_id", "user_id"])
                        .returning(m.Person.id, m.Person.user_id, m.Person.display_name),
                        rows,
                    )
                    known.update((row.user_id, _person(row)) for row in inserted)
                    if len(known) < len(chunk):  # another replica inserted some meanwhile
                        taken = [u for u in missing if u not in known]
                        known.update(await _people_named(connection, workspace_id, taken))
                    added += len(missing)
                found.update(known)
        await self._fresh_statistics("people", added)
        return [found[user_id] for user_id in ids]

    async def _fresh_statistics(self, table: Literal["people", "invitations"], added: int) -> None:
        """ANALYZE a table that just grew by many rows (PostgreSQL), after the rows committed.

        A round opens for thousands of people and their answers come within minutes, long
        before autovacuum notices the new rows. Until then the planner believes the people
        and invitations tables nearly empty and picks any index: the answers' invitation
        check scanned the round's every invitation per answer (0.3 ms each with 5,000
        invited), 15 times slower than with fresh statistics (bench/ack.py). Its own
        connection, so the transaction that added the rows does not hold ANALYZE's lock; a
        role that does not own the table gets a warning from PostgreSQL and no statistics."""
        if self.dialect != "postgresql" or added < BULK_ROWS:
            return
        try:
            async with self._engine.connect() as connection:
                autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
                await autocommit.execute(text(f"ANALYZE {table}"))
        except DBAPIError as error:
            # Only a planner hint: the rows are stored either way.
            _log.warning("ANALYZE %s failed: %s", table, error)

    async def person_by_id(self, workspace_id: int, person_id: int) -> PersonInfo | None:
        async with self._sessions() as session:
            row = await session.get(m.Person, person_id)
        return None if row is None or row.workspace_id != workspace_id else _person(row)

    async def list_people(self, workspace_id: int) -> list[PersonInfo]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(m.Person).where(m.Person.workspace_id == workspace_id).order_by(m.Person.id)
            )
            return [_person(row) for row in rows]

    # -- roles ----------------------------------------------------------------------------

    async def role_grants(self, workspace_id: int) -> list[RoleGrantInfo]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(m.RoleGrant)
                .where(m.RoleGrant.workspace_id == workspace_id)
                .order_by(m.RoleGrant.principal)
            )
            return [
                RoleGrantInfo(r.principal, Role(r.role), r.granted_by, r.granted_at) for r in rows
            ]

    async def set_role(
        self, workspace_id: int, principal: str, role: Role | None, *, actor: str
    ) -> bool:
        """Grant ``role`` (or revoke with None). Returns whether anything changed."""
        async with self._tx() as session:
            row = await session.scalar(
                select(m.RoleGrant).where(
                    m.RoleGrant.workspace_id == workspace_id, m.RoleGrant.principal == principal
                )
            )
            if role is None:
                if row is None:
                    return False
                await session.delete(row)
            elif row is None:
                session.add(
                    m.RoleGrant(
                        workspace_id=workspace_id,
                        principal=principal,
                        role=role.value,
                        granted_by=actor,
                        granted_at=self._now(),
                    )
                )
            elif row.role == role.value:
                return False
            else:
                row.role = role.value
                row.granted_by = actor
                row.granted_at = self._now()
            _audit(session, workspace_id, actor, f"role {principal} -> {role or 'none'}")
            return True

    # -- attributes -----------------------------------------------------------------------

    async def list_attributes(
        self, workspace_id: int, *, include_retired: bool = False
    ) -> list[AttributeInfo]:
        query = select(m.Attribute).where(m.Attribute.workspace_id == workspace_id)
        if not include_retired:
            query = query.where(m.Attribute.active.is_(True))
        async with self._sessions() as session:
            rows = await session.scalars(query.order_by(m.Attribute.position, m.Attribute.id))
            return [_attribute(row) for row in rows]

    async def add_attribute(
        self, workspace_id: int, name: str, description: str, *, actor: str
    ) -> AttributeInfo:
        async with self._naming("Attribute", name) as session:
            row = await session.scalar(
                select(m.Attribute).where(
                    m.Attribute.workspace_id == workspace_id,
                    func.lower(m.Attribute.name) == name.lower(),
                )
            )
            position = await session.scalar(
                select(func.coalesce(func.max(m.Attribute.position), -1) + 1).where(
                    m.Attribute.workspace_id == workspace_id
                )
            )
            if row is None:
                row = m.Attribute(
                    workspace_id=workspace_id,
                    name=name,
                    description=description,
                    position=position or 0,
                    active=True,
                )
                session.add(row)
            else:  # a retired attribute comes back with its history
                row.active = True
                row.description = description or row.description
                row.position = position or 0
            _audit(session, workspace_id, actor, f"attribute added: {name}")
            await session.flush()
            return _attribute(row)

    async def retire_attribute(self, workspace_id: int, attribute_id: int, *, actor: str) -> None:
        async with self._tx() as session:
            row = await _get_owned(session, m.Attribute, attribute_id, workspace_id)
            row.active = False
            _audit(session, workspace_id, actor, f"attribute removed: {row.name}")

    async def rename_attribute(
        self, workspace_id: int, attribute_id: int, new_name: str, *, actor: str
    ) -> None:
        async with self._naming("Attribute", new_name) as session:
            row = await _get_owned(session, m.Attribute, attribute_id, workspace_id)
            _audit(session, workspace_id, actor, f"attribute renamed: {row.name} -> {new_name}")
            row.name = new_name

    # -- teams ----------------------------------------------------------------------------

    async def list_teams(self, workspace_id: int) -> list[TeamInfo]:
        counts = (
            select(m.TeamMember.team_id, func.count().label("n"))
            .group_by(m.TeamMember.team_id)
            .subquery()
        )
        async with self._sessions() as session:
            rows = await session.execute(
                select(m.Team, func.coalesce(counts.c.n, 0))
                .outerjoin(counts, counts.c.team_id == m.Team.id)
                .where(m.Team.workspace_id == workspace_id)
                .order_by(m.Team.name)
            )
            return [TeamInfo(t.id, t.name, int(n), t.linked_source) for t, n in rows.all()]

    async def add_team(
        self, workspace_id: int, name: str, *, linked_source: str | None, actor: str
    ) -> TeamInfo:
        async with self._naming("Team", name) as session:
            row = m.Team(workspace_id=workspace_id, name=name, linked_source=linked_source)
            session.add(row)
            _audit(session, workspace_id, actor, f"team added: {name}")
            await session.flush()
            return TeamInfo(row.id, row.name, 0, row.linked_source)

    async def remove_team(self, workspace_id: int, team_id: int, *, actor: str) -> None:
        async with self._tx() as session:
            row = await _get_owned(session, m.Team, team_id, workspace_id)
            _audit(session, workspace_id, actor, f"team removed: {row.name}")
            await session.delete(row)

    async def set_team_membership(
        self,
        workspace_id: int,
        team_id: int,
        *,
        add: Iterable[int] = (),
        remove: Iterable[int] = (),
        actor: str,
    ) -> None:
        async with self._tx() as session:
            team = await _get_owned(session, m.Team, team_id, workspace_id)
            to_remove = list(remove)
            if to_remove:
                await session.execute(
                    delete(m.TeamMember).where(
                        m.TeamMember.team_id == team_id,
                        hot.among(self.dialect, m.TeamMember.person_id, to_remove),
                    )
                )
            existing = set(
                await session.scalars(
                    select(m.TeamMember.person_id).where(m.TeamMember.team_id == team_id)
                )
            )
            new = [
                {"team_id": team_id, "person_id": person_id}
                for person_id in dict.fromkeys(add)
                if person_id not in existing
            ]
            if new:
                # One bulk statement: a channel-wide team can have tens of thousands of members.
                await session.execute(insert(m.TeamMember), new)
            _audit(session, workspace_id, actor, f"team members changed: {team.name}")

    async def team_members(self, team_id: int) -> list[PersonInfo]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(m.Person)
                .join(m.TeamMember, m.TeamMember.person_id == m.Person.id)
                .where(m.TeamMember.team_id == team_id)
                .order_by(m.Person.display_name, m.Person.id)
            )
            return [_person(row) for row in rows]

    # -- research -------------------------------------------------------------------------

    async def save_studies(
        self, workspace_id: int, studies: Sequence[ResearchStudy], *, actor: str
    ) -> list[StudyInfo]:
        """All studies or none. Re-importing identical content raises DuplicateStudyError."""
        async with self._tx() as session:
            attribute_ids = await _attribute_ids(session, workspace_id)
            saved: list[m.Study] = []
            for study in studies:
                row = m.Study(
                    workspace_id=workspace_id,
                    source=study.source,
                    segment=study.segment or "",
                    form=study.form.value,
                    conducted_on=study.conducted_on,
                    sample_size=study.sample_size,
                    content_hash=_study_hash(study),
                    imported_at=self._now(),
                    imported_by=actor,
                )
                session.add(row)
                try:
                    await session.flush()
                except IntegrityError as exc:
                    raise DuplicateStudyError(study.source, study.segment) from exc
                for research_row in study.rows:
                    session.add(
                        m.StudyRow(
                            study_id=row.id,
                            attribute_id=attribute_ids[research_row.attribute.lower()],
                            rank=research_row.rank,
                            importance=research_row.importance,
                            top3_count=research_row.top3_count,
                        )
                    )
                saved.append(row)
                _audit(session, workspace_id, actor, f"research imported: {study.source}")
            await session.flush()
            ids = [row.id for row in saved]
        return [await self.get_study(workspace_id, study_id) for study_id in ids]

    async def list_studies(self, workspace_id: int) -> list[StudyInfo]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(m.Study)
                .where(m.Study.workspace_id == workspace_id)
                .order_by(m.Study.imported_at.desc(), m.Study.id.desc())
            )
            studies = list(rows)
            return [await _study_info(session, row) for row in studies]

    async def get_study(self, workspace_id: int, study_id: int) -> StudyInfo:
        async with self._sessions() as session:
            row = await _get_owned(session, m.Study, study_id, workspace_id)
            return await _study_info(session, row)

    async def latest_studies(
        self, workspace_id: int, *, as_of: datetime | None = None
    ) -> dict[str, StudyInfo]:
        """The newest study per segment ("" = all customers), as known at ``as_of``."""
        return _latest_studies(await self.list_studies(workspace_id), as_of)

    async def latest_studies_at(
        self, workspace_id: int, moments: Sequence[datetime | None]
    ) -> list[dict[str, StudyInfo]]:
        """``latest_studies`` as of each moment, in order, from one read of the studies."""
        if not moments:
            return []
        studies = await self.list_studies(workspace_id)
        return [_latest_studies(studies, moment) for moment in moments]

    # -- rounds and answers ---------------------------------------------------------------

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
        try:
            async with self._tx() as session:
                row = m.Round(
                    workspace_id=workspace_id,
                    question=question,
                    top_k=top_k,
                    audience=audience,
                    opened_at=opened_at,
                    deadline=deadline,
                    state=RoundState.OPEN.value,
                    opened_by=opened_by,
                    schedule_id=schedule_id,
                    fire_time=fire_time,
                    report_channels=list(report_channels),
                    remind_at=remind_at,
                )
                session.add(row)
                await session.flush()
                invited = [
                    {"round_id": row.id, "person_id": person_id}
                    for person_id in dict.fromkeys(person_ids)
                ]
                if invited:
                    await session.execute(insert(m.Invitation), invited)
                _audit(session, workspace_id, opened_by, f"round opened: {row.id} for {audience}")
                await session.flush()
                opened = _round(row)
        except IntegrityError:
            if schedule_id is None:
                raise
            return None
        await self._fresh_statistics("invitations", len(invited))
        return opened

    async def get_round(self, workspace_id: int, round_id: int) -> RoundInfo | None:
        async with self._sessions() as session:
            row = await session.get(m.Round, round_id)
        if row is None or row.workspace_id != workspace_id:
            return None
        return _round(row)

    async def list_rounds(
        self, workspace_id: int, *, state: RoundState | None = None, limit: int = 20
    ) -> list[RoundInfo]:
        query = select(m.Round).where(m.Round.workspace_id == workspace_id)
        if state is not None:
            query = query.where(m.Round.state == state.value)
        async with self._sessions() as session:
            rows = await session.scalars(query.order_by(m.Round.id.desc()).limit(limit))
            return [_round(row) for row in rows]

    async def close_round(
        self, workspace_id: int, round_id: int, at: datetime, *, actor: str = "deadline"
    ) -> bool:
        """Close an open round. False if it was already closed (another replica did it)."""
        async with self._tx() as session:
            result = await session.execute(
                update(m.Round)
                .where(
                    m.Round.id == round_id,
                    m.Round.workspace_id == workspace_id,
                    m.Round.state == RoundState.OPEN.value,
                )
                .values(state=RoundState.CLOSED.value, closed_at=at)
            )
            closed = bool(getattr(result, "rowcount", 0))
            if closed:  # only the one who closed it writes the line, never a replica's retry
                _audit(session, workspace_id, actor, f"round closed: {round_id}")
            return closed

    async def invitations(self, round_id: int) -> list[InvitationInfo]:
        async with self._sessions() as session:
            rows = await session.execute(
                select(m.Invitation, m.Person)
                .join(m.Person, m.Person.id == m.Invitation.person_id)
                .where(m.Invitation.round_id == round_id)
                .order_by(m.Invitation.id)
            )
            return [
                InvitationInfo(_person(person), inv.conversation_id, inv.message_id)
                for inv, person in rows.all()
            ]

    async def invitation_count(self, round_id: int) -> int:
        async with self._sessions() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(m.Invitation)
                .where(m.Invitation.round_id == round_id)
            )
        return int(count or 0)

    async def answer_count(self, round_id: int, *, team_id: int | None = None) -> int:
        """How many people answered the round (a COUNT, no rows read); with ``team_id``, how
        many of them are members of that team now (as ``answers_for_round``'s ``teams``)."""
        query = select(func.count()).select_from(m.Answer).where(m.Answer.round_id == round_id)
        if team_id is not None:
            query = query.join(
                m.TeamMember,
                (m.TeamMember.person_id == m.Answer.person_id) & (m.TeamMember.team_id == team_id),
            )
        async with self._sessions() as session:
            count = await session.scalar(query)
        return int(count or 0)

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
        open and only from someone invited to it (named by their platform user id). This is
        the hot path of a poll burst: answers arriving together share one transaction
        (``storage.answer_batch``), and each returns once its transaction has committed."""
        return await self._answers.submit(
            AnswerRequest(workspace_id, user_id, round_id, tuple(ranking), at, event_id)
        )

    async def answers_for_round(self, round_id: int) -> list[AnswerRecord]:
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(m.Answer, m.Person.user_id)
                    .join(m.Person, m.Person.id == m.Answer.person_id)
                    .where(m.Answer.round_id == round_id)
                    .order_by(m.Answer.id)
                )
            ).all()
            teams = await _team_names_by_person(session, [answer.person_id for answer, _ in rows])
        return [
            AnswerRecord(
                person_id=answer.person_id,
                user_id=user_id,
                ranking=tuple(int(x) for x in answer.ranking),
                answered_at=answer.answered_at,
                teams=tuple(teams.get(answer.person_id, ())),
            )
            for answer, user_id in rows
        ]

    async def answer_groups(self, round_id: int) -> list[AnswerGroup]:
        """The round's answers counted per distinct (ranking, teams), by the database.

        At most rankings x team combinations rows come back, so the read costs the
        database's scan and no Python object per answer (see ``_count_answers``)."""
        counted = await self._count_answers(round_id, ranking=True)
        ordered = sorted(counted.items(), key=lambda item: item[1][1])
        return [AnswerGroup(ranking or (), teams, n) for (ranking, teams, _), (n, _) in ordered]

    async def respondent_groups(
        self, round_id: int, also_answered: Sequence[int] = ()
    ) -> list[RespondentGroup]:
        counted = await self._count_answers(round_id, ranking=False, also=also_answered)
        return [RespondentGroup(teams, also, n) for (_, teams, also), (n, _) in counted.items()]

    async def _count_answers(
        self, round_id: int, *, ranking: bool, also: Sequence[int] = ()
    ) -> dict[tuple[tuple[int, ...] | None, tuple[str, ...], tuple[bool, ...]], tuple[int, int]]:
        """A round's answers counted per (ranking if asked, the person's teams, which of the
        ``also`` rounds they answered too): count and first answer id (of that ranking).

        Two grouped queries, so that the database does one join per answer and sorts once:
        the answers joined with their person's team memberships, counted per (team,
        ranking, ...): a person in one team (or none) lands in exactly one row; and the
        answers of people in several teams, counted per (their teams, ranking, ...). The
        first gives the single-team and no-team counts once the second's are taken off.
        The cost grows with the answers (plus the people in several teams), never the
        Python work, which is per counted row."""
        fields = _answer_fields(round_id, ranking, also)
        flags = [f"also_{i}" for i in range(len(also))]
        by_team = fields.add_columns(m.TeamMember.team_id.label("team")).outerjoin(
            m.TeamMember, m.TeamMember.person_id == m.Answer.person_id
        )
        several = (
            select(
                m.TeamMember.person_id.label("person_id"),
                func.aggregate_strings(m.Team.name, _TEAM_SEPARATOR).label("teams"),
            )
            .join(m.Team, m.Team.id == m.TeamMember.team_id)
            .where(
                m.TeamMember.person_id.in_(
                    select(m.TeamMember.person_id)
                    .group_by(m.TeamMember.person_id)
                    .having(func.count() > 1)
                )
            )
            .group_by(m.TeamMember.person_id)
            .subquery()
        )
        by_teams = fields.add_columns(several.c.teams).join(
            several, several.c.person_id == m.Answer.person_id
        )
        async with self._engine.connect() as connection:
            team_rows = (await connection.execute(_grouped(by_team, "team", flags))).all()
            multi_rows = (await connection.execute(_grouped(by_teams, "teams", flags))).all()
            ids = {row[0] for row in team_rows if row[0] is not None}
            found = await connection.execute(
                select(m.Team.id, m.Team.name).where(m.Team.id.in_(ids))
            )
            names = {int(team_id): str(name) for team_id, name in found}
        first: dict[tuple[int, ...] | None, int] = {}
        counts: dict[tuple[tuple[int, ...] | None, tuple[str, ...], tuple[bool, ...]], int] = {}

        def key(row: Row[Any]) -> tuple[tuple[int, ...] | None, tuple[bool, ...]]:
            # The same ranking may be spelled two ways in JSON: normalise, then add up.
            parsed = tuple(int(x) for x in json.loads(row.ranking)) if ranking else None
            return parsed, tuple(bool(getattr(row, flag)) for flag in flags)

        for row in team_rows:
            parsed, also_flags = key(row)
            one: tuple[str, ...] = () if row.team is None else (names[row.team],)
            counts[(parsed, one, also_flags)] = counts.get((parsed, one, also_flags), 0) + row.n
            first[parsed] = min(first.get(parsed, row.first), row.first)
        for row in multi_rows:
            parsed, also_flags = key(row)
            teams = _team_tuple(row.teams)
            counts[(parsed, teams, also_flags)] = counts.get((parsed, teams, also_flags), 0) + row.n
            for name in teams:  # counted once per team in the first query: take those off
                counts[(parsed, (name,), also_flags)] -= row.n
        return {k: (n, first[k[0]]) for k, n in counts.items() if n > 0}

    async def answer_of(self, round_id: int, person_id: int) -> AnswerRecord | None:
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(
                    hot.ANSWER_OF, {"round_id": round_id, "person_id": person_id}
                )
            ).first()
        if row is None:
            return None
        return AnswerRecord(row.person_id, "", tuple(int(x) for x in row.ranking), row.answered_at)

    async def rankings_of(
        self, round_id: int, person_ids: Sequence[int]
    ) -> dict[int, tuple[int, ...]]:
        if not person_ids:
            return {}
        values = {"round_id": round_id, "person_ids": list(person_ids)}
        async with self._engine.connect() as connection:
            rows = await connection.execute(hot.RANKINGS_OF[self.dialect], values)
            return {row.person_id: tuple(int(x) for x in row.ranking) for row in rows}

    async def answers_of_person(
        self, workspace_id: int, person_id: int, *, limit: int = 10
    ) -> list[tuple[RoundInfo, AnswerRecord]]:
        async with self._sessions() as session:
            rows = await session.execute(
                select(m.Round, m.Answer)
                .join(m.Answer, m.Answer.round_id == m.Round.id)
                .where(m.Round.workspace_id == workspace_id, m.Answer.person_id == person_id)
                .order_by(m.Round.id.desc())
                .limit(limit)
            )
            return [
                (
                    _round(round_row),
                    AnswerRecord(
                        person_id,
                        "",
                        tuple(int(x) for x in answer.ranking),
                        answer.answered_at,
                    ),
                )
                for round_row, answer in rows.all()
            ]

    async def forget_person(self, workspace_id: int, person_id: int, *, actor: str) -> None:
        async with self._tx() as session:
            person = await _get_owned(session, m.Person, person_id, workspace_id)
            await session.delete(person)
            _audit(session, workspace_id, actor, "person forgotten at their request")

    # -- processed events -----------------------------------------------------------------

    async def claim_event(self, event_id: str, kind: str) -> bool:
        """True the first time an event id is seen; False for a retry or a double delivery."""
        try:
            async with self._tx() as session:
                session.add(
                    m.ProcessedEvent(event_id=event_id, kind=kind, processed_at=self._now())
                )
        except IntegrityError:
            return False
        return True

    async def claim_events(self, event_ids: Sequence[str], kind: str) -> set[str]:
        """Claim many ids in one statement and one commit; the ids that were new."""
        if not event_ids:
            return set()
        now = self._now()
        # In key order, so that two batches claiming the same ids lock them in one order.
        rows = [{"event_id": e, "kind": kind, "processed_at": now} for e in sorted(set(event_ids))]
        async with self._engine.begin() as connection:
            claimed = await connection.execute(hot.CLAIM_EVENTS[connection.dialect.name], rows)
            return set(claimed.scalars())

    async def prune_events(self, kind: str, *, older_than_seconds: float) -> None:
        cutoff = self._now() - timedelta(seconds=older_than_seconds)
        async with self._tx() as session:
            await session.execute(
                delete(m.ProcessedEvent).where(
                    m.ProcessedEvent.kind == kind, m.ProcessedEvent.processed_at < cutoff
                )
            )

    # -- schedules ------------------------------------------------------------------------

    async def add_schedule(
        self, workspace_id: int, schedule: NewSchedule, *, actor: str
    ) -> ScheduleInfo:
        async with self._naming("Schedule", schedule.name) as session:
            row = m.Schedule(
                workspace_id=workspace_id,
                name=schedule.name,
                when_expr=schedule.when_expr,
                time_zone=schedule.time_zone,
                audience=schedule.audience,
                window_seconds=schedule.window_seconds,
                remind_before_seconds=schedule.remind_before_seconds,
                report_channels=list(schedule.report_channels),
                paused=False,
                created_by=actor,
                created_at=self._now(),
            )
            session.add(row)
            try:
                await session.flush()
            except IntegrityError as exc:  # two admins adding the same name at once
                raise DuplicateScheduleError(schedule.name) from exc
            _audit(session, workspace_id, actor, f"schedule added: {schedule.name}")
            return _schedule(row)

    async def list_schedules(self, workspace_id: int | None = None) -> list[ScheduleInfo]:
        query = select(m.Schedule).order_by(m.Schedule.id)
        if workspace_id is not None:
            query = query.where(m.Schedule.workspace_id == workspace_id)
        async with self._sessions() as session:
            return [_schedule(row) for row in await session.scalars(query)]

    async def set_schedule_paused(
        self, workspace_id: int, schedule_id: int, paused: bool, *, actor: str
    ) -> None:
        async with self._tx() as session:
            row = await _get_owned(session, m.Schedule, schedule_id, workspace_id)
            row.paused = paused
            _audit(
                session,
                workspace_id,
                actor,
                f"schedule {'paused' if paused else 'resumed'}: {row.name}",
            )

    async def remove_schedule(self, workspace_id: int, schedule_id: int, *, actor: str) -> None:
        async with self._tx() as session:
            row = await _get_owned(session, m.Schedule, schedule_id, workspace_id)
            _audit(session, workspace_id, actor, f"schedule removed: {row.name}")
            await session.delete(row)

    # -- audit ----------------------------------------------------------------------------

    async def audit_log(self, workspace_id: int, *, limit: int = 50) -> list[AuditInfo]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(m.AuditEntry)
                .where(m.AuditEntry.workspace_id == workspace_id)
                .order_by(m.AuditEntry.id.desc())
                .limit(limit)
            )
            return [AuditInfo(row.actor, row.action, row.at) for row in rows]

    # -- round timers ---------------------------------------------------------------------

    async def rounds_past_deadline(self, now: datetime) -> list[DueRound]:
        return await self._due_rounds(
            m.Round.state == RoundState.OPEN.value, m.Round.deadline <= now
        )

    async def rounds_to_remind(self, now: datetime) -> list[DueRound]:
        return await self._due_rounds(
            m.Round.state == RoundState.OPEN.value,
            m.Round.remind_at.is_not(None),
            m.Round.remind_at <= now,
            m.Round.reminded_at.is_(None),
        )

    async def rounds_to_report(self) -> list[DueRound]:
        return await self._due_rounds(
            m.Round.state == RoundState.CLOSED.value, m.Round.reported_at.is_(None)
        )

    async def rounds_to_queue(self, opened_before: datetime) -> list[DueRound]:
        return await self._due_rounds(
            m.Round.state == RoundState.OPEN.value,
            m.Round.polls_queued_at.is_(None),
            m.Round.opened_at < opened_before,
        )

    async def _due_rounds(self, *conditions: Any) -> list[DueRound]:
        async with self._sessions() as session:
            rows = await session.scalars(select(m.Round).where(*conditions).order_by(m.Round.id))
            return [DueRound(row.workspace_id, _round(row)) for row in rows]

    async def mark_reminded(self, round_id: int, at: datetime) -> bool:
        """Claim the reminder of a round; only one caller ever gets True."""
        return await self._claim_round(round_id, m.Round.reminded_at, at)

    async def mark_reported(self, round_id: int, at: datetime) -> bool:
        return await self._claim_round(round_id, m.Round.reported_at, at)

    async def mark_polls_queued(self, round_id: int, at: datetime) -> bool:
        return await self._claim_round(round_id, m.Round.polls_queued_at, at)

    async def freeze_round(
        self, round_id: int, payload: Mapping[str, Any], at: datetime
    ) -> dict[str, Any]:
        async with self._tx() as session:
            await session.execute(
                hot.dialect_insert(self.dialect, m.RoundSnapshot)
                .values(round_id=round_id, payload=dict(payload), frozen_at=at)
                .on_conflict_do_nothing(index_elements=["round_id"])
            )
        stored = await self.round_snapshot(round_id)
        assert stored is not None  # just written, and snapshots are never deleted alone
        return stored

    async def round_snapshot(self, round_id: int) -> dict[str, Any] | None:
        async with self._sessions() as session:
            row = await session.get(m.RoundSnapshot, round_id)
        return None if row is None else dict(row.payload)

    async def _claim_round(self, round_id: int, column: Any, at: datetime) -> bool:
        async with self._tx() as session:
            result = await session.execute(
                update(m.Round)
                .where(m.Round.id == round_id, column.is_(None))
                .values({column.key: at})
            )
            return bool(getattr(result, "rowcount", 0))

    async def unanswered(self, round_id: int) -> list[PersonInfo]:
        answered = select(m.Answer.person_id).where(m.Answer.round_id == round_id)
        async with self._sessions() as session:
            rows = await session.scalars(
                select(m.Person)
                .join(m.Invitation, m.Invitation.person_id == m.Person.id)
                .where(m.Invitation.round_id == round_id, m.Person.id.not_in(answered))
                .order_by(m.Person.id)
            )
            return [_person(row) for row in rows]

    async def round_for_fire_time(self, schedule_id: int, fire_time: datetime) -> int | None:
        async with self._sessions() as session:
            return await session.scalar(
                select(m.Round.id).where(
                    m.Round.schedule_id == schedule_id, m.Round.fire_time == fire_time
                )
            )

    # -- outbox ---------------------------------------------------------------------------

    async def enqueue(self, workspace_id: int, items: Sequence[NewOutboxItem]) -> int:
        """Queue messages; a dedupe key already queued is skipped. Returns how many were new."""
        if not items:
            return 0
        now = self._now()
        rows = [
            {
                "workspace_id": workspace_id,
                "dedupe_key": item.dedupe_key,
                "kind": item.kind.value,
                "payload": item.payload,
                "state": "pending",
                "attempts": 0,
                "not_before": now,
                "created_at": now,
            }
            for item in items
        ]
        # The unique key keeps a message single, also when two replicas queue the same thing
        # at once; RETURNING names the rows this call added.
        statement = (
            hot.dialect_insert(self.dialect, m.OutboxMessage)
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(m.OutboxMessage.id)
        )
        added = 0
        async with self._engine.begin() as connection:
            for chunk in _chunks(rows, 500):
                result = await connection.execute(statement, chunk)
                added += len(result.all())
        return added

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
        at most ``per_workspace`` each and none from ``skip``, so a small fan-out is claimed
        at once even when it was queued behind a large one."""
        per = limit if per_workspace is None else per_workspace
        if limit <= 0 or per <= 0:
            return []
        # A bare connection and plain rows: a fan-out claims a batch every half second.
        async with self._engine.begin() as connection:
            queued = [w for w in await connection.scalars(hot.QUEUED_WORKSPACES) if w not in skip]
            due: dict[int, list[int]] = {}
            for part in _chunks(queued, hot.MAX_ARMS):
                for item_id, workspace_id in await connection.execute(hot.due_in(part, now, per)):
                    due.setdefault(workspace_id, []).append(item_id)
            # Turns: the first due message of each workspace, then the second of each, ...
            turns = sorted((n, i) for w in due.values() for n, i in enumerate(sorted(w)))
            ids = [item_id for _, item_id in turns[:limit]]
            if not ids:
                return []
            rows = await connection.execute(
                hot.CLAIM[self.dialect], {"item_ids": ids, "worker": worker, "now": now}
            )
            return sorted((_outbox(row) for row in rows), key=lambda item: item.id)

    async def reclaim_stale(
        self, now: datetime, *, lease: timedelta, worker: str, limit: int
    ) -> list[OutboxItem]:
        """Messages claimed by another worker that stopped renewing its claims (it died
        mid-send): their delivery is uncertain. A worker never takes its own claims back."""
        # A bare connection and plain rows, like the claim it runs before: nearly always
        # it finds nothing, and it runs once per claim of a fan-out.
        async with self._engine.begin() as connection:
            rows = await connection.execute(
                hot.RECLAIM, {"cutoff": now - lease, "worker": worker, "now": now, "limit": limit}
            )
            return sorted((_outbox(row) for row in rows), key=lambda item: item.id)

    async def outbox_started(self, item_ids: Sequence[int], *, at: datetime) -> None:
        if not item_ids:
            return
        values = {"item_ids": list(item_ids), "started_at": at}
        async with self._engine.begin() as connection:  # a bare connection: once per batch
            await connection.execute(hot.OUTBOX_STARTED[self.dialect], values)

    async def renew_claims(self, item_ids: Sequence[int], *, worker: str, at: datetime) -> None:
        """A live worker's heartbeat: its claims stay fresh however slow a send is."""
        if not item_ids:
            return
        async with self._tx() as session:
            await session.execute(
                update(m.OutboxMessage)
                .where(
                    m.OutboxMessage.id.in_(list(item_ids)),
                    m.OutboxMessage.claimed_by == worker,
                    m.OutboxMessage.state == "sending",
                )
                .values(claimed_at=at)
            )

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
        await self.outbox_sent_many(
            [SentMessage(item_id, conversation_id, message_id, at, poll_of)]
        )

    async def outbox_sent_many(self, sent: Sequence[SentMessage]) -> None:
        """Mark many messages sent in one transaction, two executemany statements in all: a
        fan-out marks its polls in batches, not with a commit per message."""
        if not sent:
            return
        polls = [
            {
                "to_conversation": s.conversation_id,
                "to_message": s.message_id,
                "of_round": s.poll_of[0],
                "of_person": s.poll_of[1],
            }
            for s in sent
            if s.poll_of is not None
        ]
        rows = [
            {
                "to_conversation": s.conversation_id,
                "to_message": s.message_id,
                "item_id": s.item_id,
                "sent": s.at,
            }
            for s in sent
        ]
        async with self._engine.begin() as connection:
            if polls:
                await connection.execute(hot.POLL_DELIVERED_TO, polls)
            await connection.execute(hot.OUTBOX_SENT, rows)

    async def outbox_retry(self, item_id: int, *, not_before: datetime, error: str) -> None:
        async with self._tx() as session:
            await session.execute(
                update(m.OutboxMessage)
                .where(m.OutboxMessage.id == item_id)
                .values(
                    state="pending",
                    not_before=not_before,
                    attempts=m.OutboxMessage.attempts + 1,
                    last_error=error[:2000],
                    claimed_by=None,
                    claimed_at=None,
                )
            )

    async def outbox_failed(self, item_id: int, *, error: str) -> None:
        async with self._tx() as session:
            await session.execute(
                update(m.OutboxMessage)
                .where(m.OutboxMessage.id == item_id)
                .values(
                    state="failed", last_error=error[:2000], attempts=m.OutboxMessage.attempts + 1
                )
            )

    async def outbox_counts(self) -> dict[str, int]:
        async with self._sessions() as session:
            rows = await session.execute(
                select(m.OutboxMessage.state, func.count()).group_by(m.OutboxMessage.state)
            )
            return {state: int(count) for state, count in rows.all()}

    # -- adapters' own records (bot.model.ports.PlatformRecords) -----------------------------------

    async def put(self, platform: str, kind: str, key: str, value: Mapping[str, Any]) -> None:
        async with self._tx() as session:
            row = await session.get(m.PlatformRecord, (platform, kind, key))
            if row is None:
                session.add(
                    m.PlatformRecord(
                        platform=platform,
                        kind=kind,
                        key=key,
                        value=dict(value),
                        updated_at=self._now(),
                    )
                )
            else:
                row.value = dict(value)
                row.updated_at = self._now()

    async def put_first(
        self, platform: str, kind: str, key: str, value: Mapping[str, Any]
    ) -> dict[str, Any]:
        row = {"platform": platform, "kind": kind, "key": key, "value": dict(value)}
        insert_new = (
            hot.dialect_insert(self.dialect, m.PlatformRecord.__table__)
            .values(**row, updated_at=self._now())
            .on_conflict_do_nothing(index_elements=["platform", "kind", "key"])
        )
        async with self._engine.begin() as connection:
            await connection.execute(insert_new)
        stored = await self.get(platform, kind, key)
        assert stored is not None  # inserted, or there already; never deleted here
        return stored

    async def get(self, platform: str, kind: str, key: str) -> dict[str, Any] | None:
        async with self._sessions() as session:
            row = await session.get(m.PlatformRecord, (platform, kind, key))
        return None if row is None else dict(row.value)

    async def delete(self, platform: str, kind: str, key: str) -> None:
        async with self._tx() as session:
            await session.execute(
                delete(m.PlatformRecord).where(
                    m.PlatformRecord.platform == platform,
                    m.PlatformRecord.kind == kind,
                    m.PlatformRecord.key == key,
                )
            )

    async def find(
        self, platform: str, kind: str, prefix: str = ""
    ) -> list[tuple[str, dict[str, Any]]]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(m.PlatformRecord)
                .where(
                    m.PlatformRecord.platform == platform,
                    m.PlatformRecord.kind == kind,
                    m.PlatformRecord.key.startswith(prefix, autoescape=True),
                )
                .order_by(m.PlatformRecord.key)
            )
            return [(row.key, dict(row.value)) for row in rows]


async def _plan_per_list(connection: AsyncConnection) -> None:
    """In this transaction, plan each statement for its own list of values (PostgreSQL).

    From the sixth run of a 500-id people lookup on, PostgreSQL's generic plan compared every
    person of the workspace with every id of the list one by one: 3 ms became 110 ms. (Not
    for lookups by a unique key, such as the outbox's: there the generic plan is right, and
    planning 500 values each time cost more than it saved.)"""
    if connection.dialect.name == "postgresql":
        await connection.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


# Rows added at once from which a table's planner statistics are refreshed (PostgreSQL).
BULK_ROWS = 1000


async def _people_named(
    connection: AsyncConnection, workspace_id: int, user_ids: Sequence[str]
) -> dict[str, PersonInfo]:
    rows = await connection.execute(
        select(m.Person.id, m.Person.user_id, m.Person.display_name).where(
            m.Person.workspace_id == workspace_id,
            hot.among(connection.dialect.name, m.Person.user_id, user_ids),
        )
    )
    return {row.user_id: _person(row) for row in rows}


def _audit(session: AsyncSession, workspace_id: int, actor: str, action: str) -> None:
    # The column holds 200 characters; names inside an action come from users.
    session.add(
        m.AuditEntry(workspace_id=workspace_id, actor=actor[:160], action=action[:200], at=_now())
    )


_ROW_NAMES = {
    "attributes": "attribute",
    "teams": "team",
    "studies": "study",
    "schedules": "schedule",
    "people": "person",
}
_Owned = TypeVar("_Owned", m.Attribute, m.Team, m.Study, m.Schedule, m.Person)


async def _get_owned(
    session: AsyncSession, model: type[_Owned], row_id: int, workspace_id: int
) -> _Owned:
    row = await session.get(model, row_id)
    if row is None or row.workspace_id != workspace_id:
        raise NotFoundError(f"there is no {_ROW_NAMES[model.__tablename__]} {row_id}")
    return row


async def _attribute_ids(session: AsyncSession, workspace_id: int) -> dict[str, int]:
    rows = await session.execute(
        select(m.Attribute.name, m.Attribute.id).where(m.Attribute.workspace_id == workspace_id)
    )
    return {name.lower(): attribute_id for name, attribute_id in rows.all()}


_TEAM_SEPARATOR = "\x1f"  # a control character: never part of a team name


def _answer_fields(round_id: int, ranking: bool, also: Sequence[int]) -> Select[Any]:
    """The round's answers with their id, ranking (as text) if asked, and a 0/1 column
    ``also_i`` per earlier round: whether the same person answered it too."""
    columns: list[Any] = [m.Answer.id.label("id")]
    if ranking:
        columns.append(cast(m.Answer.ranking, Text).label("ranking"))
    query = select(*columns).where(m.Answer.round_id == round_id)
    for i, other in enumerate(also):
        earlier = aliased(m.Answer)
        query = query.outerjoin(
            earlier, and_(earlier.person_id == m.Answer.person_id, earlier.round_id == other)
        ).add_columns(case((earlier.id.is_(None), 0), else_=1).label(f"also_{i}"))
    return query


def _grouped(rows: Select[Any], teams: str, flags: Sequence[str]) -> Select[Any]:
    """Count the rows per (teams column, ranking if there, flags), in a subquery so that
    both databases group by plain columns."""
    inner = rows.subquery()
    keys = [inner.c[teams], *(inner.c[flag] for flag in flags)]
    if "ranking" in inner.c:
        keys.append(inner.c.ranking)
    return select(*keys, func.count().label("n"), func.min(inner.c.id).label("first")).group_by(
        *keys
    )


def _team_tuple(joined: str | None) -> tuple[str, ...]:
    return tuple(sorted(joined.split(_TEAM_SEPARATOR))) if joined else ()


async def _team_names_by_person(
    session: AsyncSession, person_ids: Sequence[int]
) -> dict[int, list[str]]:
    result: dict[int, list[str]] = {}
    if not person_ids:
        return result
    rows = await session.execute(
        select(m.TeamMember.person_id, m.Team.name)
        .join(m.Team, m.Team.id == m.TeamMember.team_id)
        .order_by(m.Team.name)
    )
    wanted = set(person_ids)
    for person_id, name in rows.all():
        if person_id in wanted:
            result.setdefault(person_id, []).append(name)
    return result


async def _study_info(session: AsyncSession, row: m.Study) -> StudyInfo:
    rows = await session.execute(
        select(m.StudyRow, m.Attribute.name)
        .join(m.Attribute, m.Attribute.id == m.StudyRow.attribute_id)
        .where(m.StudyRow.study_id == row.id)
        .order_by(m.StudyRow.id)
    )
    return StudyInfo(
        id=row.id,
        source=row.source,
        segment=row.segment,
        form=ResearchForm(row.form),
        conducted_on=row.conducted_on,
        sample_size=row.sample_size,
        imported_at=row.imported_at,
        rows=tuple(
            ResearchRow(name, rank=r.rank, importance=r.importance, top3_count=r.top3_count)
            for r, name in rows.all()
        ),
    )


def _latest_studies(studies: Sequence[StudyInfo], as_of: datetime | None) -> dict[str, StudyInfo]:
    latest: dict[str, StudyInfo] = {}
    for study in studies:
        if as_of is not None and study.imported_at > as_of:
            continue
        current = latest.get(study.segment)
        if current is None or _newer(study, current):
            latest[study.segment] = study
    return latest


def _newer(a: StudyInfo, b: StudyInfo) -> bool:
    """A study conducted later wins; the import time breaks ties and undated studies."""
    a_key = (a.conducted_on.toordinal() if a.conducted_on else 0, a.imported_at, a.id)
    b_key = (b.conducted_on.toordinal() if b.conducted_on else 0, b.imported_at, b.id)
    return a_key > b_key


def _study_hash(study: ResearchStudy) -> str:
    payload = {
        "source": study.source,
        "segment": study.segment or "",
        "form": study.form.value,
        "conducted_on": study.conducted_on.isoformat() if study.conducted_on else None,
        "sample_size": study.sample_size,
        "rows": sorted(
            [r.attribute.lower(), r.rank, r.importance, r.top3_count] for r in study.rows
        ),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _workspace(row: m.Workspace) -> WorkspaceInfo:
    return WorkspaceInfo(
        id=row.id,
        ref=WorkspaceRef(row.platform, row.external_id),
        name=row.name,
        time_zone=row.time_zone,
        top_k=row.top_k,
    )


def _person(row: m.Person | Row[int, str, str]) -> PersonInfo:
    """From an ORM object or a Core row of id, user_id and display_name."""
    return PersonInfo(row.id, row.user_id, row.display_name)


def _attribute(row: m.Attribute) -> AttributeInfo:
    return AttributeInfo(row.id, row.name, row.description, row.active)


def _round(row: m.Round) -> RoundInfo:
    return RoundInfo(
        id=row.id,
        question=row.question,
        top_k=row.top_k,
        audience=row.audience,
        opened_at=row.opened_at,
        deadline=row.deadline,
        state=RoundState(row.state),
        closed_at=row.closed_at,
        schedule_id=row.schedule_id,
        report_channels=tuple(str(c) for c in row.report_channels or ()),
        remind_at=row.remind_at,
    )


def _outbox(row: m.OutboxMessage | Row[Any]) -> OutboxItem:
    return OutboxItem(
        id=row.id,
        workspace_id=row.workspace_id,
        dedupe_key=row.dedupe_key,
        kind=OutboxKind(row.kind),
        payload=dict(row.payload),
        attempts=row.attempts,
        claimed_at=row.claimed_at,
        send_started=row.send_started_at is not None,
    )


def _schedule(row: m.Schedule) -> ScheduleInfo:
    return ScheduleInfo(
        id=row.id,
        workspace_id=row.workspace_id,
        name=row.name,
        when_expr=row.when_expr,
        time_zone=row.time_zone,
        audience=row.audience,
        window_seconds=row.window_seconds,
        remind_before_seconds=row.remind_before_seconds,
        report_channels=tuple(str(c) for c in row.report_channels or ()),
        paused=row.paused,
        created_by=row.created_by,
        created_at=row.created_at,
    )


_Item = TypeVar("_Item")


def _chunks(values: list[_Item], size: int) -> Iterator[list[_Item]]:
    """``values`` in consecutive slices of at most ``size`` (one statement each)."""
    for start in range(0, len(values), size):
        yield values[start : start + size]
