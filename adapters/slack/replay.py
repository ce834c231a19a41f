"""Replay protection: a signed request is taken once, whichever replica it reaches.

Slack's signature covers the body and a timestamp, and a request is accepted while the
timestamp is within five minutes of the clock: inside that window someone holding a copy of
a request could send it again. Each signature taken is claimed in the database (every
replica shares it) and remembered a little longer than the window can reach; a second
arrival is acknowledged and dropped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Final

from adapters.slack.hygiene import MAX_SKEW_SECONDS
from bot.model.ports import PlatformRecords

KIND: Final = "slack-signature"
# A timestamp may be up to the skew behind or ahead of the clock: the same request can be
# valid across twice the skew; a minute more covers replicas whose clocks differ a little.
REMEMBER_SECONDS: Final = 2 * MAX_SKEW_SECONDS + 60
PRUNE_EVERY_SECONDS: Final = 60.0

_log = logging.getLogger(__name__)


class ReplayGuard:
    """Claims signatures in batches: while one batch is being written, the requests that
    arrive queue for the next (group commit). One transaction per request cost a burst of
    answers three times the server's CPU on SQLite."""

    def __init__(self, records: PlatformRecords) -> None:
        self._records = records
        self._pruned_at = time.monotonic()
        self._waiting: dict[str, list[asyncio.Future[bool]]] = {}
        self._writer: asyncio.Task[None] | None = None

    async def first_time(self, signature: str) -> bool:
        """True when this signature has not been taken before (the request may go on).

        If the database cannot say, the request goes on: refusing it would turn an outage
        into lost answers, and the core still de-duplicates answers and commands by their
        event ids in the same database."""
        await self._prune_now_and_then()
        verdict: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(f"slack:{signature}", []).append(verdict)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.ensure_future(self._write_batches())
        return await verdict

    async def _write_batches(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, {}
            try:
                fresh: set[str] | None = await self._records.claim_events(list(batch), KIND)
            except Exception:
                _log.warning("replay check unavailable; letting requests through", exc_info=True)
                fresh = None
            for key, verdicts in batch.items():
                first = fresh is None or key in fresh
                # The same request twice in one batch: only the first goes on.
                for position, verdict in enumerate(verdicts):
                    if not verdict.done():
                        verdict.set_result(first and position == 0)

    async def _prune_now_and_then(self) -> None:
        now = time.monotonic()
        if now - self._pruned_at < PRUNE_EVERY_SECONDS:
            return
        self._pruned_at = now
        try:
            await self._records.prune_events(KIND, older_than_seconds=REMEMBER_SECONDS)
        except Exception:
            _log.warning("could not prune old request signatures", exc_info=True)
