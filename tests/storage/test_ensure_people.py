"""Many people at once: new ones inserted in bulk, known ones (and ones another replica inserted
a moment ago) returned as stored, in the order asked."""

from __future__ import annotations

from typing import Any

import pytest

import storage.sql_store as sql_store
from bot.model.domain import WorkspaceRef
from storage.sql_store import SqlStore


async def test_people_another_replica_just_inserted_come_back_as_stored(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = await store.ensure_workspace(WorkspaceRef("slack", "T1"))
    (earlier,) = await store.ensure_people(workspace.id, [("U2", "Stored name")])
    real = sql_store._people_named
    calls = 0

    async def stale_first_read(*args: Any) -> Any:
        # The first lookup misses U2, as if another replica inserted it just after it.
        nonlocal calls
        calls += 1
        return {} if calls == 1 else await real(*args)

    monkeypatch.setattr(sql_store, "_people_named", stale_first_read)
    people = await store.ensure_people(
        workspace.id, [("U1", "One"), ("U2", "New name"), ("U3", "Three"), ("U1", "One")]
    )
    assert [p.user_id for p in people] == ["U1", "U2", "U3"]
    assert people[1] == earlier  # its row and name as stored, not a second row
    assert len({p.id for p in people}) == 3
    again = await store.ensure_people(workspace.id, [("U3", ""), ("U1", "")])
    assert again == [people[2], people[0]]
