"""A per-address limit for the open link: anyone may answer, but not a hundred times."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from ipaddress import IPv4Network, IPv6Network, ip_address

MAX_ADDRESSES = 100_000  # beyond this the oldest address is forgotten, so memory stays bounded


def client_address(
    peer: str | None,
    forwarded_for: Iterable[str],
    trusted: tuple[IPv4Network | IPv6Network, ...],
) -> str:
    """The customer's address: the TCP peer, unless the peer is one of our reverse proxies.

    Then it is the rightmost address in X-Forwarded-For that is not one of our proxies:
    every proxy appends the address it was reached from, so the entries to the left of that
    one were written by the client itself and prove nothing."""
    if not peer or not _within(peer, trusted):
        return peer or "unknown"
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",")]
    hops = [hop for hop in hops if hop]
    for hop in reversed(hops):
        if not _within(hop, trusted):
            return hop[:64]  # an address, or what an untrusted hop wrote: keyed, never parsed
    return hops[0][:64] if hops else peer


def _within(address: str, networks: tuple[IPv4Network | IPv6Network, ...]) -> bool:
    try:
        parsed = ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in networks)


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
