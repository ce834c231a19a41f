"""Planner statistics are refreshed when a round opens for many people (PostgreSQL).

Without it the answers' invitation check scanned the round's every invitation per answer
until autovacuum caught up, minutes into the burst of answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from bot.model.domain import WorkspaceRef
from storage.sql_store import BULK_ROWS, SqlStore
from tests.conftest import TEST_DATABASE

pytestmark = pytest.mark.skipif(
    TEST_DATABASE == "sqlite",
    reason="SQLite plans without gathered statistics; PostgreSQL is the one that needs them",
)


async def _analysed(store: SqlStore, table: str) -> bool:
    async with store._engine.connect() as connection:
        count = await connection.scalar(
            text(
                "SELECT count(*) FROM pg_stat_user_tables WHERE relname = :t AND last_analyze IS NOT NULL"
            ),
            {"t": table},
        )
    return bool(count)


async def test_a_round_for_many_people_leaves_fresh_statistics(store: SqlStore) -> None:
    workspace = await store.ensure_workspace(WorkspaceRef("slack", "T1"))
    few = await store.ensure_people(workspace.id, [("U-first", "First")])
    assert not await _analysed(store, "people")  # one new person is no reason

    people = await store.ensure_people(
        workspace.id, [(f"U{i:05d}", f"Person {i}") for i in range(BULK_ROWS)]
    )
    assert await _analysed(store, "people")

    now = datetime.now(UTC)
    await store.open_round(
        workspace.id,
        question="?",
        top_k=3,
        audience="everyone",
        opened_at=now,
        deadline=now + timedelta(days=1),
        opened_by="test",
        person_ids=[p.id for p in [*few, *people]],
    )
    assert await _analysed(store, "invitations")
