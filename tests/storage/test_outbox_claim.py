"""The outbox's claim: by index, so that its cost does not grow with the messages still queued,
and by turns between workspaces (on both databases).

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


def _turns(queued: dict[int, list[int]], *, limit: int, per_workspace: int | None) -> list[int]:
    """The claim's rule written out: the first due message of each workspace, then the
    second of each, ..., oldest first within a turn, at most ``per_workspace`` each."""
    ranked = [
        (turn, item_id)
        for ids in queued.values()
        for turn, item_id in enumerate(sorted(ids))
        if per_workspace is None or turn < per_workspace
    ]
    return sorted(item_id for _, item_id in sorted(ranked)[:limit])


async def test_a_claim_takes_turns_skips_and_waits_as_its_rule_says(store: SqlStore) -> None:
    """Over more workspaces than one claim statement asks about at once (100), with a
    workspace to skip, messages not due yet, and a limit that cuts a turn short."""
    ids_by_workspace: dict[int, list[int]] = {}
    for n in range(105):
        workspace = await store.ensure_workspace(WorkspaceRef("slack", f"T{n:03d}"))
        await store.enqueue(workspace.id, _polls(f"T{n:03d}", 1 + n % 3))
        ids_by_workspace[workspace.id] = []
    later = await store.ensure_workspace(WorkspaceRef("slack", "TLATER"))
    await store.enqueue(later.id, _polls("TLATER", 2))
    # Every message is due a minute after NOW but TLATER's, which wait for a retry.
    everything = await store.claim_outbox(NOW + timedelta(minutes=1), worker="probe", limit=10_000)
    for item in everything:
        if item.workspace_id == later.id:
            await store.outbox_retry(item.id, not_before=NOW + timedelta(hours=1), error="x")
        else:
            ids_by_workspace[item.workspace_id].append(item.id)
            await store.outbox_retry(item.id, not_before=NOW, error="x")
    skipped = sorted(ids_by_workspace)[7]
    queued = {w: ids for w, ids in ids_by_workspace.items() if w != skipped}

    assert await store.claim_outbox(NOW, worker="w", limit=50, per_workspace=0) == []
    claimed = await store.claim_outbox(
        NOW + timedelta(minutes=1), worker="w", limit=150, per_workspace=2, skip={skipped}
    )
    assert [item.id for item in claimed] == _turns(queued, limit=150, per_workspace=2)
    left = {w: [i for i in ids if i not in {c.id for c in claimed}] for w, ids in queued.items()}
    rest = await store.claim_outbox(NOW + timedelta(minutes=1), worker="w", limit=10_000)
    assert [item.id for item in rest] == _turns(
        {**left, skipped: ids_by_workspace[skipped]}, limit=10_000, per_workspace=None
    )
