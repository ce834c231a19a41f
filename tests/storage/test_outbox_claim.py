"""The outbox's claim reads by index: its cost must not grow with the messages still queued.

bench/fanout.py measures the time; here SQLite's own query plans show the shape that keeps it
flat: no sort or scan over the queue, and the claimed rows updated by their ids. (SQLite has
no statistics to steer it; PostgreSQL plans with them.)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event

from bot.model.domain import WorkspaceRef
from bot.model.records import NewOutboxItem, OutboxKind
from storage.database import create_engine, upgrade
from storage.sql_store import SqlStore

NOW = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)


def _polls(team: str, n: int) -> list[NewOutboxItem]:
    return [
        NewOutboxItem(f"poll:{team}:{i}", OutboxKind.POLL, {"round_id": 1, "person_id": i})
        for i in range(n)
    ]


async def test_a_claim_reads_each_workspace_by_index_and_updates_by_id(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'claim.db'}")
    await upgrade(engine)
    store = SqlStore(engine)
    try:
        for team, n in (("T1", 300), ("T2", 5)):
            workspace = await store.ensure_workspace(WorkspaceRef("slack", team))
            await store.enqueue(workspace.id, _polls(team, n))
        statements: list[tuple[str, Any]] = []

        def seen(_c: Any, _cur: Any, statement: str, parameters: Any, *_: Any) -> None:
            statements.append((statement, parameters))

        event.listen(engine.sync_engine, "before_cursor_execute", seen)
        claimed = await store.claim_outbox(
            NOW + timedelta(minutes=1), worker="w1", limit=1000, per_workspace=20
        )
        event.remove(engine.sync_engine, "before_cursor_execute", seen)
        # Turns: both workspaces get their share, the small one all of its five.
        assert sorted(item.dedupe_key for item in claimed if "T2" in item.dedupe_key) == [
            f"poll:T2:{i}" for i in range(5)
        ]
        assert len(claimed) == 25

        plans = []
        async with engine.connect() as connection:
            for statement, parameters in statements:
                if not statement.lstrip().upper().startswith(("SELECT", "WITH", "UPDATE")):
                    continue
                rows = await connection.exec_driver_sql(
                    "EXPLAIN QUERY PLAN " + statement, parameters
                )
                plans.append((statement.split()[0].upper(), [str(r[-1]) for r in rows]))
    finally:
        await store.close()

    steps = [step for _, plan in plans for step in plan]
    assert not [s for s in steps if "TEMP B-TREE" in s], plans  # no sort of the queue
    assert not [s for s in steps if s.startswith("SCAN outbox")], plans  # no full scan
    updates = [plan for kind, plan in plans if kind == "UPDATE"]
    assert updates
    assert all(any("INTEGER PRIMARY KEY" in step for step in plan) for plan in updates), updates
