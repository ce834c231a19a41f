"""A per-address limit for the open link: anyone may answer, but not a hundred times."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

MAX_ADDRESSES = 100_000  # beyond this the oldest address is forgotten, so memory stays bounded


class AddressLimit:
    """At most ``per_window`` admissions per address in any sliding ``window`` seconds.

    Kept in the process: with several workers an address gets the limit once per worker,
    which still turns a flood into a trickle."""

    def __init__(
        self,
        per_window: int,
        *,
        window: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._per_window = per_window
        self._window = window
        self._clock = clock
        self._seen: dict[str, deque[float]] = {}

    def admit(self, address: str) -> bool:
        now = self._clock()
        times = self._seen.pop(address, None) or deque()
        while times and times[0] <= now - self._window:
            times.popleft()
        admitted = len(times) < self._per_window
        if admitted:
            times.append(now)
        self._seen[address] = times  # re-inserted: the dict's order is least recent first
        if len(self._seen) > MAX_ADDRESSES:
            self._seen.pop(next(iter(self._seen)))
        return admitted

    def retry_after(self, address: str) -> int:
        times = self._seen.get(address)
        if not times:
            return 0
        return max(1, int(times[0] + self._window - self._clock()) + 1)
