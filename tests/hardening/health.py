"""Watching /healthz while a fuzzer runs: every answer and how long it took."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import aiohttp

POLL_SECONDS = 0.05


@dataclass
class HealthLog:
    answers: list[tuple[int, float]] = field(default_factory=list)  # (status, seconds)

    @property
    def slowest(self) -> float:
        return max((seconds for _, seconds in self.answers), default=0.0)

    @property
    def statuses(self) -> set[int]:
        return {status for status, _ in self.answers}


@asynccontextmanager
async def watching_health(base_url: str) -> AsyncIterator[HealthLog]:
    """Ask /healthz every 50 ms on a connection of its own until the block ends."""
    log = HealthLog()

    async def poll(session: aiohttp.ClientSession) -> None:
        while True:
            started = time.perf_counter()
            try:
                async with session.get(base_url + "/healthz") as response:
                    await response.read()
                    status = response.status
            except aiohttp.ClientError:
                status = 0
            log.answers.append((status, time.perf_counter() - started))
            await asyncio.sleep(POLL_SECONDS)

    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        task = asyncio.ensure_future(poll(session))
        try:
            yield log
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
