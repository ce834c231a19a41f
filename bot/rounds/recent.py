"""Values read from the store a moment ago, shared by everyone who asks at the same moment.

A poll burst names the same workspace, round and attributes hundreds of times a second. With a
plain cache, every request that arrived while the entry was missing or had just expired read
it again: the first 200 answers of a burst made 600 identical reads between them and waited
for each other's connections (the slowest acks of ``bench/ack.py``, 0.6 s, came from that).
Here concurrent misses of one key wait for a single read.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Recent(Generic[K, V]):
    """A value per key, kept ``ttl`` seconds (for ever if None); one read per miss."""

    def __init__(
        self,
        ttl: float | None,
        *,
        keep: Callable[[V], bool] = lambda _: True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._keep = keep
        self._clock = clock
        self._values: dict[K, tuple[float, V]] = {}
        self._reading: dict[K, asyncio.Future[V]] = {}

    async def get(self, key: K, read: Callable[[], Awaitable[V]]) -> V:
        """The value of ``key``, from ``read()`` if it is missing or stale. A failed read is
        not kept: every caller waiting for it gets the error, and the next one reads again."""
        found = self._values.get(key)
        if found is not None and found[0] > self._clock():
            return found[1]
        pending = self._reading.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._read(key, read))
            self._reading[key] = pending
        # Shielded: one caller giving up must not cancel the read the others wait for (and
        # when all have, shield still collects a failed read's error).
        return await asyncio.shield(pending)

    async def _read(self, key: K, read: Callable[[], Awaitable[V]]) -> V:
        try:
            value = await read()
        finally:
            del self._reading[key]
        if self._keep(value):
            expires = float("inf") if self._ttl is None else self._clock() + self._ttl
            self._values[key] = (expires, value)
        return value
