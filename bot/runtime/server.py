"""The one aiohttp server: health check plus whatever routes the configured adapters add."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web

from bot.model.ports import ChatAdapter
from bot.runtime.logs import request_id_middleware

HealthCheck = Callable[[], Awaitable[bool]]


def create_web_app(
    *,
    health: HealthCheck,
    adapters: Sequence[ChatAdapter],
    details: Callable[[], dict[str, str | int]] = dict,
) -> web.Application:
    app = web.Application(client_max_size=2 * 1024 * 1024, middlewares=[request_id_middleware()])

    async def healthz(_request: web.Request) -> web.Response:
        if await health():
            return web.json_response({"status": "ok", "database": "ok", **details()})
        body = {"status": "unavailable", "database": "unreachable", **details()}
        return web.json_response(body, status=503)

    app.router.add_get("/healthz", healthz)
    for adapter in adapters:
        adapter.add_routes(app)
    return app
