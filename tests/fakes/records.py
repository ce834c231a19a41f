"""PlatformRecords in memory, for adapter tests. Values go through JSON both ways, as in the
real store, so an adapter that saves something JSON cannot hold fails here too."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any


class MemoryRecords:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, str], dict[str, Any]] = {}
        # Claimed request ids by kind, kept apart from rows: a claim is not a stored record.
        self.claims: dict[str, dict[str, float]] = {}

    async def put(self, platform: str, kind: str, key: str, value: Mapping[str, Any]) -> None:
        self.rows[(platform, kind, key)] = json.loads(json.dumps(dict(value)))

    async def put_first(
        self, platform: str, kind: str, key: str, value: Mapping[str, Any]
    ) -> dict[str, Any]:
        self.rows.setdefault((platform, kind, key), json.loads(json.dumps(dict(value))))
        return json.loads(json.dumps(self.rows[(platform, kind, key)]))

    async def get(self, platform: str, kind: str, key: str) -> dict[str, Any] | None:
        row = self.rows.get((platform, kind, key))
        return json.loads(json.dumps(row)) if row is not None else None

    async def delete(self, platform: str, kind: str, key: str) -> None:
        self.rows.pop((platform, kind, key), None)

    async def find(
        self, platform: str, kind: str, prefix: str = ""
    ) -> list[tuple[str, dict[str, Any]]]:
        return [
            (k, json.loads(json.dumps(v)))
            for (p, kd, k), v in sorted(self.rows.items())
            if p == platform and kd == kind and k.startswith(prefix)
        ]

    async def claim_events(self, event_ids: Sequence[str], kind: str) -> set[str]:
        seen = self.claims.setdefault(kind, {})
        fresh = {event_id for event_id in event_ids if event_id not in seen}
        for event_id in fresh:
            seen[event_id] = time.monotonic()
        return fresh

    async def prune_events(self, kind: str, *, older_than_seconds: float) -> None:
        cutoff = time.monotonic() - older_than_seconds
        seen = self.claims.get(kind, {})
        for event_id in [e for e, at in seen.items() if at < cutoff]:
            del seen[event_id]
