"""Leader election for the scheduler across replicas: a PostgreSQL session advisory lock.

The lock lives as long as the database session that took it, so a replica killed outright
releases it the moment its connection drops, and a standby takes over at its next try.
"""

from __future__ import annotations

import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.rounds.scheduler import LeaderLock, SingleProcessLock

log = logging.getLogger(__name__)

# Any constant shared by every replica of this application; "ALIGNMT" in ASCII.
LOCK_KEY = 0x414C49474E4D54


class PostgresLeaderLock:
    def __init__(self, engine: AsyncEngine, key: int = LOCK_KEY) -> None:
        self._engine = engine
        self._key = key
        self._connection: AsyncConnection | None = None

    async def acquire(self) -> bool:
        if self._connection is not None:
            if await self._still_held():
                return True
            await self._drop()
        try:
            connection = await self._engine.connect()
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            got = await connection.scalar(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": self._key}
            )
        except Exception as exc:
            log.warning("cannot reach the database for the leader lock: %s", exc)
            return False
        if got:
            self._connection = connection
            log.info("this replica now runs the scheduler")
            return True
        await connection.close()
        return False

    async def _still_held(self) -> bool:
        assert self._connection is not None
        try:
            await self._connection.execute(text("SELECT 1"))
        except Exception:
            log.warning("lost the leader lock's database session")
            return False
        return True

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                await connection.invalidate()
            except Exception:
                log.debug("closing a broken leader connection failed", exc_info=True)

    async def release(self) -> None:
        if self._connection is None:
            return
        try:
            await self._connection.execute(
                text("SELECT pg_advisory_unlock(:key)"), {"key": self._key}
            )
            await self._connection.close()
        except Exception:
            log.debug("releasing the leader lock failed", exc_info=True)
        self._connection = None


def leader_lock_for(engine: AsyncEngine) -> LeaderLock:
    """PostgreSQL deployments elect a leader; SQLite runs one process, which always leads."""
    if engine.dialect.name == "postgresql":
        return PostgresLeaderLock(engine)
    return SingleProcessLock()
