"""The mirror survey's tables behind ``bot.model.mirror.MirrorStore`` (mixed into SqlStore)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, bindparam, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.model.mirror import MirrorInfo, MirrorLink, MirrorState, MirrorWrite
from bot.model.store import NotFoundError
from storage import models as m


class MirrorTables:
    # Provided by SqlStore, which this class is mixed into.
    _sessions: async_sessionmaker[AsyncSession]
    _tx: Callable[[], AbstractAsyncContextManager[AsyncSession]]
    _now: Callable[[], datetime]
    _engine: AsyncEngine

    async def create_mirror(
        self,
        workspace_id: int,
        *,
        name: str,
        segment: str,
        top_k: int,
        closes_at: datetime | None,
        actor: str,
    ) -> MirrorInfo:
        now = self._now()
        async with self._tx() as session:
            row = m.MirrorStudy(
                workspace_id=workspace_id,
                name=name,
                segment=segment,
                top_k=top_k,
                state=MirrorState.OPEN.value,
                created_by=actor,
                created_at=now,
                closes_at=closes_at,
            )
            session.add(row)
            await session.flush()
            session.add(
                m.AuditEntry(
                    workspace_id=workspace_id,
                    actor=actor,
                    action=f"mirror survey created: #{row.id} {name}"[:200],
                    at=now,
                )
            )
            return _mirror(row, 0)

    async def list_mirrors(self, workspace_id: int) -> list[MirrorInfo]:
        async with self._sessions() as session:
            rows = await session.execute(
                select(m.MirrorStudy, _response_count())
                .where(m.MirrorStudy.workspace_id == workspace_id)
                .order_by(m.MirrorStudy.id.desc())
            )
            return [_mirror(row, count) for row, count in rows.all()]

    async def get_mirror(self, workspace_id: int, mirror_id: int) -> MirrorInfo:
        async with self._sessions() as session:
            found = (
                await session.execute(
                    select(m.MirrorStudy, _response_count()).where(
                        m.MirrorStudy.id == mirror_id, m.MirrorStudy.workspace_id == workspace_id
                    )
                )
            ).first()
        if found is None:
            raise NotFoundError(f"there is no mirror survey {mirror_id}")
        return _mirror(found[0], found[1])

    async def close_mirror(
        self, workspace_id: int, mirror_id: int, *, at: datetime, actor: str
    ) -> bool:
        async with self._tx() as session:
            result = await session.execute(
                update(m.MirrorStudy)
                .where(
                    m.MirrorStudy.id == mirror_id,
                    m.MirrorStudy.workspace_id == workspace_id,
                    m.MirrorStudy.state == MirrorState.OPEN.value,
                )
                .values(state=MirrorState.CLOSED.value, closed_at=at)
            )
            closed = bool(getattr(result, "rowcount", 0))
            if closed:
                action = f"mirror survey closed: #{mirror_id}"
                session.add(
                    m.AuditEntry(workspace_id=workspace_id, actor=actor, action=action, at=at)
                )
            return closed

    async def add_mirror_links(
        self, mirror_id: int, token_hashes: Sequence[str], *, reusable: bool, at: datetime
    ) -> None:
        if not token_hashes:
            return
        rows = [
            {"mirror_id": mirror_id, "token_hash": h, "reusable": reusable, "created_at": at}
            for h in token_hashes
        ]
        async with self._tx() as session:
            await session.execute(insert(m.MirrorLinkRow), rows)

    async def mirror_link(self, token_hash: str) -> MirrorLink | None:
        # One statement that changes nothing: in autocommit it is one round trip to the
        # database, where a transaction would add a BEGIN and a ROLLBACK to every form view.
        async with self._engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            found = (await connection.execute(_LINK, {"hash": token_hash})).first()
        if found is None:
            return None
        # The form needs no response count, and counting would show nothing to a customer.
        return MirrorLink(_mirror_row(found), bool(found.reusable), found.used_at is not None)

    async def record_mirror_response(
        self, token_hash: str, ranking: Sequence[int], *, at: datetime
    ) -> MirrorWrite:
        """The usual case, a one-time link of an open study, spends the link and inserts the
        answer together: the conditional UPDATE takes the link's row lock, so of two
        concurrent submissions only one sees it unspent. On PostgreSQL that is one statement
        (a data-modifying CTE) in autocommit, one round trip instead of four; SQLite has no
        such CTE and runs the two statements in one transaction."""
        values = {"hash": token_hash, "now": at, "picks": list(ranking)}
        if self._engine.dialect.name == "postgresql":
            async with self._engine.connect() as connection:
                await connection.execution_options(isolation_level="AUTOCOMMIT")
                if (await connection.execute(_SPEND_AND_RESPOND, values)).first() is not None:
                    return MirrorWrite.RECORDED
        async with self._engine.begin() as connection:
            spent = (await connection.execute(_SPEND, values)).first()
            if spent is not None:
                await connection.execute(_RESPOND, {"study": spent[0], "picks": list(ranking)})
                return MirrorWrite.RECORDED
            found = (await connection.execute(_LINK, {"hash": token_hash})).first()
            if found is None:
                return MirrorWrite.UNKNOWN_LINK
            if not _mirror_row(found).accepts_answers(at):
                return MirrorWrite.CLOSED
            if not found.reusable:
                return MirrorWrite.ALREADY_ANSWERED
            await connection.execute(_RESPOND, {"study": found.mirror_id, "picks": list(ranking)})
            return MirrorWrite.RECORDED

    async def mirror_rankings(self, mirror_id: int) -> list[tuple[int, ...]]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(m.MirrorResponse.ranking)
                .where(m.MirrorResponse.mirror_id == mirror_id)
                .order_by(m.MirrorResponse.id)
            )
            return [tuple(int(value) for value in ranking) for ranking in rows]

    async def mirror_of_study(self, workspace_id: int, study_id: int) -> MirrorInfo | None:
        async with self._sessions() as session:
            found = (
                await session.execute(
                    select(m.MirrorStudy, _response_count()).where(
                        m.MirrorStudy.study_id == study_id,
                        m.MirrorStudy.workspace_id == workspace_id,
                    )
                )
            ).first()
        return None if found is None else _mirror(found[0], found[1])

    async def mirrors_past_closing(self, now: datetime) -> list[MirrorInfo]:
        async with self._sessions() as session:
            rows = await session.execute(
                select(m.MirrorStudy, _response_count())
                .where(
                    m.MirrorStudy.state == MirrorState.OPEN.value,
                    m.MirrorStudy.closes_at.is_not(None),
                    m.MirrorStudy.closes_at <= now,
                )
                .order_by(m.MirrorStudy.id)
            )
            return [_mirror(row, responses) for row, responses in rows]

    async def publish_mirror(
        self, workspace_id: int, mirror_id: int, study_id: int, *, actor: str
    ) -> bool:
        async with self._tx() as session:
            result = await session.execute(
                update(m.MirrorStudy)
                .where(
                    m.MirrorStudy.id == mirror_id,
                    m.MirrorStudy.workspace_id == workspace_id,
                    m.MirrorStudy.study_id.is_(None),
                )
                .values(study_id=study_id)
            )
            return bool(getattr(result, "rowcount", 0))


_tables = m.Base.metadata.tables
_studies = _tables["mirror_studies"]
_links = _tables["mirror_links"]
_responses = _tables["mirror_responses"]

# Built once: these run for every form view and every answer.
_LINK = (
    select(
        _links.c.reusable,
        _links.c.used_at,
        _links.c.mirror_id,
        *(c for c in _studies.c if c.name != "id"),
    )
    .join(_studies, _studies.c.id == _links.c.mirror_id)
    .where(_links.c.token_hash == bindparam("hash"))
)
_OPEN_STUDIES = select(_studies.c.id).where(
    _studies.c.state == MirrorState.OPEN.value,
    or_(_studies.c.closes_at.is_(None), _studies.c.closes_at > bindparam("now")),
)
_SPEND = (
    update(_links)
    .where(
        _links.c.token_hash == bindparam("hash"),
        _links.c.used_at.is_(None),
        _links.c.reusable.is_(False),
        _links.c.mirror_id.in_(_OPEN_STUDIES.scalar_subquery()),
    )
    .values(used_at=bindparam("now"))
    .returning(_links.c.mirror_id)
)
_RESPOND = insert(_responses).values(
    mirror_id=bindparam("study"), ranking=bindparam("picks", type_=JSON())
)
_SPENT = _SPEND.cte("spent")
_SPEND_AND_RESPOND = (
    insert(_responses)
    .from_select(
        ["mirror_id", "ranking"],
        select(_SPENT.c.mirror_id, bindparam("picks", type_=JSON())),
    )
    .returning(_responses.c.mirror_id)
)


def _mirror_row(row: Any) -> MirrorInfo:
    """A study from the columns of ``_LINK`` (its id is the link's mirror_id)."""
    return _mirror_info(row, mirror_id=row.mirror_id, responses=0)


def _response_count() -> Any:
    return (
        select(func.count(m.MirrorResponse.id))
        .where(m.MirrorResponse.mirror_id == m.MirrorStudy.id)
        .scalar_subquery()
    )


def _mirror(row: m.MirrorStudy, responses: int) -> MirrorInfo:
    return _mirror_info(row, mirror_id=row.id, responses=int(responses or 0))


def _mirror_info(row: Any, *, mirror_id: int, responses: int) -> MirrorInfo:
    return MirrorInfo(
        id=mirror_id,
        workspace_id=row.workspace_id,
        name=row.name,
        segment=row.segment,
        top_k=row.top_k,
        state=MirrorState(row.state),
        created_at=row.created_at,
        closes_at=row.closes_at,
        closed_at=row.closed_at,
        study_id=row.study_id,
        responses=responses,
    )
