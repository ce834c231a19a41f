"""A fake Bot Framework connector (the service behind an activity's ``serviceUrl``).

Runs on 127.0.0.1 with an ephemeral port, records every request body, hands out ids, and can
be told to answer the next requests with 429 + Retry-After. Only the routes the Teams adapter
uses exist; anything else is a 404 so a wrong URL fails loudly.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Json = dict[str, Any]


@dataclass
class Call:
    method: str
    path: str
    conversation_id: str
    activity_id: str | None
    body: Json | None
    authorization: str | None
    response_id: str | None = None  # the id the fake gave a posted activity


@dataclass
class FakeBotConnector:
    members: dict[str, list[Json]] = field(default_factory=dict)  # conversation/team id -> accounts
    page_size: int = 2
    calls: list[Call] = field(default_factory=list)
    throttle_next: int = 0  # how many of the next write requests get a 429
    retry_after: str = "1"
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _runner: web.AppRunner | None = None
    url: str = ""

    # --- lifecycle --------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/v3/conversations", self._create)
        app.router.add_post("/v3/conversations/{cid}/activities", self._send)
        app.router.add_post("/v3/conversations/{cid}/activities/{aid}", self._send)
        app.router.add_put("/v3/conversations/{cid}/activities/{aid}", self._update)
        app.router.add_get("/v3/conversations/{cid}/members", self._members)
        app.router.add_get("/v3/conversations/{cid}/members/{mid}", self._member)
        app.router.add_get("/v3/conversations/{cid}/pagedmembers", self._paged)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # --- what tests look at -------------------------------------------------------------

    def sent(self) -> list[Call]:
        """Activities posted (new messages and replies), in order."""
        return [c for c in self.calls if c.method == "POST" and "/activities" in c.path]

    def updates(self) -> list[Call]:
        return [c for c in self.calls if c.method == "PUT"]

    def cards(self) -> list[Json]:
        """Every Adaptive Card the bot sent or updated."""
        result = []
        for call in self.calls:
            for attachment in (call.body or {}).get("attachments") or []:
                if attachment.get("contentType") == "application/vnd.microsoft.card.adaptive":
                    result.append(attachment["content"])
        return result

    # --- routes -----------------------------------------------------------------------

    async def _record(self, request: web.Request) -> Call:
        body = await request.json() if request.can_read_body else None
        call = Call(
            method=request.method,
            path=request.path,
            conversation_id=request.match_info.get("cid", ""),
            activity_id=request.match_info.get("aid"),
            body=body,
            authorization=request.headers.get("Authorization"),
        )
        self.calls.append(call)
        return call

    def _throttled(self) -> web.Response | None:
        if self.throttle_next <= 0:
            return None
        self.throttle_next -= 1
        return web.json_response(
            {"error": {"code": "Throttled", "message": "Too many requests"}},
            status=429,
            headers={"Retry-After": self.retry_after},
        )

    async def _send(self, request: web.Request) -> web.Response:
        throttled = self._throttled()
        if throttled is not None:
            self.calls.append(Call("THROTTLED", request.path, "", None, None, None))
            return throttled
        call = await self._record(request)
        call.response_id = f"activity-{next(self._ids)}"
        return web.json_response({"id": call.response_id}, status=201)

    async def _update(self, request: web.Request) -> web.Response:
        throttled = self._throttled()
        if throttled is not None:
            return throttled
        call = await self._record(request)
        return web.json_response({"id": call.activity_id})

    async def _create(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.json_response(
            {"id": f"a:new-dm-{next(self._ids)}", "activityId": ""}, status=201
        )

    def _roster(self, request: web.Request) -> list[Json]:
        return self.members.get(request.match_info["cid"], [])

    async def _members(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.json_response(self._roster(request))

    async def _member(self, request: web.Request) -> web.Response:
        await self._record(request)
        for account in self._roster(request):
            if account["id"] == request.match_info["mid"]:
                return web.json_response(account)
        return web.json_response({"error": {"code": "MemberNotFound"}}, status=404)

    async def _paged(self, request: web.Request) -> web.Response:
        await self._record(request)
        roster = self._roster(request)
        start = int(request.query.get("continuationToken") or 0)
        page = roster[start : start + self.page_size]
        body: Json = {"members": page}
        if start + self.page_size < len(roster):
            body["continuationToken"] = str(start + self.page_size)
        return web.json_response(body)
