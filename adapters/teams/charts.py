"""Report charts served by the bot's own server, so a Teams card can show them by URL.

A card's image travels either inside the message (a data URI, which with a 12-attribute chart
of 200 KB cannot fit Teams' 28 KB message limit) or as an https URL Teams fetches. The chart is
kept in our database (every replica can serve it) under its content hash, and its URL carries
an expiry and an HMAC signature, so only the URLs the bot handed out work, and only for
``TEAMS_CHART_TTL_DAYS``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Final

from aiohttp import web

from adapters.teams.activities import PLATFORM
from bot.model.ports import PlatformRecords

CHARTS_ROUTE: Final = "/teams/charts/{key}"
CHART_KIND: Final = "chart"


class ChartHost:
    def __init__(
        self,
        *,
        records: PlatformRecords,
        base_url: str,
        secret: bytes,
        ttl_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._records = records
        self._base = base_url.rstrip("/")
        self._secret = secret
        self._ttl = ttl_seconds
        self._clock = clock

    async def url_for(self, png: bytes) -> str:
        """Store the chart and return a signed URL that works until the expiry."""
        key = hashlib.sha256(png).hexdigest()
        expires = int(self._clock() + self._ttl)
        value = {"png": base64.b64encode(png).decode("ascii"), "expires": expires}
        await self._records.put(PLATFORM, CHART_KIND, key, value)
        path = CHARTS_ROUTE.format(key=key)
        return f"{self._base}{path}?expires={expires}&sig={self._sign(key, expires)}"

    def _sign(self, key: str, expires: int) -> str:
        message = f"{key}:{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        key = request.match_info["key"]
        try:
            expires = int(request.query.get("expires", ""))
        except ValueError:
            return web.Response(status=403)
        signed = hmac.compare_digest(self._sign(key, expires), request.query.get("sig", ""))
        if not signed or expires < self._clock():
            return web.Response(status=403)  # forged, altered or expired: the same answer
        row = await self._records.get(PLATFORM, CHART_KIND, key)
        if row is None:
            return web.Response(status=404)
        headers = {"Cache-Control": f"private, max-age={max(0, expires - int(self._clock()))}"}
        return web.Response(
            body=base64.b64decode(row["png"]), content_type="image/png", headers=headers
        )
