"""The one aiohttp server: health check plus whatever routes the adapters (chat platforms and\nthe web form) add."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web

from bot.model.ports import ChatAdapter
from bot.runtime.logs import request_id_middleware

HealthCheck = Callable[[], Awaitable[bool]]
RouteAdder = Callable[[web.Application], None]


def create_web_app(
    *,
    health: HealthCheck,
    adapters: Sequence[ChatAdapter],
    details: Callable[[], dict[str, str | int]] = dict,
    routes: Sequence[RouteAdder] = (),
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
    for add_routes in routes:  # channels without a chat port, such as the web form
        add_routes(app)
    return app
