"""Replay protection: a signed request is taken once, whichever replica it reaches.

Slack's signature covers the body and a timestamp, and a request is accepted while the
timestamp is within five minutes of the clock: inside that window someone holding a copy of
a request could send it again. Each signature taken is claimed in the database (every
replica shares it) and remembered a little longer than the window can reach; a second
arrival is acknowledged and dropped.
"""

from __future__ import annotations

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
    def __init__(self, records: PlatformRecords) -> None:
        self._records = records
        self._pruned_at = time.monotonic()

    async def first_time(self, signature: str) -> bool:
        """True when this signature has not been taken before (the request may go on).

        If the database cannot say, the request goes on: refusing it would turn an outage
        into lost answers, and the core still de-duplicates answers and commands by their
        event ids in the same database."""
        await self._prune_now_and_then()
        try:
            return await self._records.claim_event(f"slack:{signature}", KIND)
        except Exception:
            _log.warning("replay check unavailable; letting the request through", exc_info=True)
            return True

    async def _prune_now_and_then(self) -> None:
        now = time.monotonic()
        if now - self._pruned_at < PRUNE_EVERY_SECONDS:
            return
        self._pruned_at = now
        try:
            await self._records.prune_events(KIND, older_than_seconds=REMEMBER_SECONDS)
        except Exception:
            _log.warning("could not prune old request signatures", exc_info=True)
