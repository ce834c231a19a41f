"""Pacing for Web API methods with a tight rate tier, so the bot waits instead of drawing 429s.

conversations.history, which crash recovery uses to ask whether a message already arrived,
is Tier 3 (50+ calls a minute per workspace) for internal and Marketplace-approved apps. Since
2025 Slack limits commercially distributed apps not approved for the Marketplace to 1 call a
minute and 15 messages a page (new installs from 29 May 2025, all from 2 September 2025).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Final, Literal

Distribution = Literal["internal", "marketplace", "non_marketplace"]


@dataclass(frozen=True, slots=True)
class HistoryLimits:
    per_minute: float
    page_size: int  # the `limit` asked for, within what the regime returns in a page


TIER_3: Final = HistoryLimits(per_minute=50, page_size=100)
NON_MARKETPLACE: Final = HistoryLimits(per_minute=1, page_size=15)


def history_limits(distribution: Distribution) -> HistoryLimits:
    return NON_MARKETPLACE if distribution == "non_marketplace" else TIER_3


class Pacer:
    """One call at a time for each key (a workspace), each starting at least ``interval``
    seconds after the previous one finished. Counting from the finish, not the start, keeps
    a slow answer from letting the next request reach Slack early."""

    def __init__(
        self,
        interval: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._interval = interval
        self._clock = clock
        self._sleep = sleep
        self._next: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    @contextlib.asynccontextmanager
    async def slot(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:  # callers queue in arrival order
            wait = self._next.get(key, 0.0) - self._clock()
            if wait > 0:
                await self._sleep(wait)
            try:
                yield
            finally:
                self._next[key] = self._clock() + self._interval
