"""TeamsAdapter: the Bot Framework endpoint on the shared aiohttp app, plus the Teams ChatPort."""

from __future__ import annotations

import json
import logging
import secrets

from aiohttp import web

from adapters.teams.activities import MalformedActivity, check_activity
from adapters.teams.bridge import BadActivity, LazyBridge, Unauthorized
from adapters.teams.charts import CHARTS_ROUTE, ChartHost
from adapters.teams.handlers import InboundHandler
from adapters.teams.port import TeamsPort
from adapters.teams.records import TeamsRecords
from adapters.teams.settings import TeamsSettings
from bot.model.ports import ChatPort, CoreApi, PlatformRecords

log = logging.getLogger(__name__)

MESSAGES_ROUTE = "/api/messages"


class TeamsAdapter:
    """Implements bot.model.ports.ChatAdapter for Microsoft Teams (Bot Framework)."""

    def __init__(self, *, settings: TeamsSettings, core: CoreApi, records: PlatformRecords) -> None:
        self.settings = settings
        self._bridge = LazyBridge(settings)  # the SDK loads on the first Teams call
        self._records = TeamsRecords(records)
        self._charts = _chart_host(settings, records)
        self._port = TeamsPort(bridge=self._bridge, records=self._records, charts=self._charts)
        self._inbound = InboundHandler(core=core, records=self._records, port=self._port)
        if not settings.authenticated:
            log.warning("Teams runs WITHOUT authentication (no MicrosoftAppId): local use only")

    @property
    def port(self) -> ChatPort:
        return self._port

    @property
    def teams_port(self) -> TeamsPort:
        """The port with its Teams-only extras (post_card, post_message)."""
        return self._port

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post(MESSAGES_ROUTE, self.handle_messages)
        if self._charts is not None:
            app.router.add_get(CHARTS_ROUTE, self._charts.handle)

    async def start(self) -> None:
        """Teams pushes everything over HTTP: no background work."""

    async def stop(self) -> None:
        """Nothing to release: connector sessions live only for one call."""

    async def handle_messages(self, request: web.Request) -> web.StreamResponse:
        try:
            body = check_activity(json.loads(await request.read()))
        # JSONDecodeError is a ValueError; very deep nesting overflows the parser's stack.
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            # MalformedActivity is a ValueError too: all are the sender's fault, never a 500.
            reason = str(exc) if isinstance(exc, MalformedActivity) else "invalid JSON"
            return web.json_response({"error": f"Malformed activity: {reason}"}, status=400)
        try:
            inbound = await self._bridge.authenticate(
                body, request.headers.get("Authorization", "")
            )
        except BadActivity as exc:
            return web.json_response({"error": f"Malformed activity: {exc}"}, status=400)
        except Unauthorized as exc:
            log.info("Rejected a Teams request: %s", exc)
            return web.json_response({"error": "Unauthorized"}, status=401)
        result = await self._bridge.process(inbound, self._inbound.on_turn)
        if result is None:
            return web.Response(status=200)
        status, payload = result
        return web.json_response(payload, status=status)


def _chart_host(settings: TeamsSettings, records: PlatformRecords) -> ChartHost | None:
    if not settings.public_url:
        return None
    # The app password is shared by every replica, so any of them can check a URL; without
    # one (local testing) a per-process secret will do.
    password = settings.app_password.get_secret_value()
    secret = password.encode() if password else secrets.token_bytes(32)
    return ChartHost(
        records=records,
        base_url=settings.public_url,
        secret=b"alignment-chart:" + secret,
        ttl_seconds=settings.chart_ttl_days * 86_400,
    )
