"""A migrated store on the database under test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from storage.database import create_engine, upgrade
from storage.sql_store import SqlStore


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[SqlStore]:
    engine = create_engine(database_url)
    await upgrade(engine)
    store = SqlStore(engine)
    try:
        yield store
    finally:
        await store.close()
