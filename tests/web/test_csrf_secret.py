"""The web forms' CSRF secret when several workers start at once on a new database: the
first one stored is everyone's, so a form served by one worker is accepted by another."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from adapters.web.security import Csrf
from storage.database import create_engine, upgrade
from storage.sql_store import SqlStore

WORKERS = 4


class Racing:
    """One worker's records, made to interleave as badly as workers starting together can:
    every worker looks before any stores, then each stores and reads back in turn."""

    def __init__(self, store: SqlStore, looked: asyncio.Barrier, turns: asyncio.Lock) -> None:
        self.store, self._looked, self._turns = store, looked, turns
        self._looking = True

    async def get(self, platform: str, kind: str, key: str) -> dict[str, Any] | None:
        found = await self.store.get(platform, kind, key)
        if self._looking:
            self._looking = False
            await self._looked.wait()
        elif self._turns.locked():
            self._turns.release()  # read back after storing: the next worker's turn
        return found

    async def put(self, platform: str, kind: str, key: str, value: Mapping[str, Any]) -> None:
        await self._turns.acquire()
        await self.store.put(platform, kind, key, value)

    async def put_first(
        self, platform: str, kind: str, key: str, value: Mapping[str, Any]
    ) -> dict[str, Any]:
        await self._looked.wait()  # everyone arrives before anyone stores
        return await self.store.put_first(platform, kind, key, value)


async def test_workers_starting_together_share_one_secret(database_url: str) -> None:
    stores = [SqlStore(create_engine(database_url)) for _ in range(WORKERS)]
    await upgrade(stores[0]._engine)
    looked, turns = asyncio.Barrier(WORKERS), asyncio.Lock()
    try:
        forms = [Csrf(Racing(store, looked, turns), None) for store in stores]  # type: ignore[arg-type]
        await asyncio.gather(*(form.load() for form in forms))
        signed = {await form._sign("nonce", "link") for form in forms}
        assert len(signed) == 1
        # A restart reads the same secret; nothing proposes a new one over it.
        assert await Csrf(stores[0], None)._sign("nonce", "link") in signed
    finally:
        for store in stores:
            await store.close()
