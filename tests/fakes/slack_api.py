"""An aiohttp fake of the Slack Web API, served on 127.0.0.1 with an ephemeral port.

It records every call (method, merged query/form/JSON parameters, headers), answers with canned
data shaped like Slack's documented responses, serves the upload URLs it hands out, the
``response_url`` of slash commands and private file downloads, and can answer 429 with
Retry-After on demand. Idea from bolt-python's tests/mock_web_api_server; the code is our own.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Handler = Callable[["Call"], dict[str, Any]]


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    response: dict[str, Any] = field(default_factory=dict)  # what the fake answered

    @property
    def token(self) -> str:
        auth = self.headers.get("Authorization", "")
        return auth.removeprefix("Bearer ").strip()


@dataclass
class _Trouble:
    times: int
    status: int = 429
    retry_after: int = 1
    error: str = "ratelimited"


@dataclass
class FakeSlackApi:
    team_id: str = "T0001"
    bot_user_id: str = "UBOT"
    page_size: int = 2  # small, so pagination is exercised with a handful of members
    calls: list[Call] = field(default_factory=list)
    refused: list[Call] = field(default_factory=list)  # answered 429 / error, not processed
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    channel_members: dict[str, list[str]] = field(default_factory=dict)
    usergroups: dict[str, list[str]] = field(default_factory=dict)
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> channel object
    usergroup_info: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> usergroup
    responses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # response_url
    uploads: dict[str, bytes] = field(default_factory=dict)
    shared_files: dict[str, bytes] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=lambda: {"xoxb-test"})
    oauth_access: dict[str, Any] = field(default_factory=dict)
    _trouble: dict[str, _Trouble] = field(default_factory=dict)
    _held: dict[str, asyncio.Event] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    app_token: str = "xapp-test"
    socket_acks: list[dict[str, Any]] = field(default_factory=list)
    _sockets: list[web.WebSocketResponse] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    _base: str = ""
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # channel -> messages
    # A steady limit on chat.postMessage, like Slack's per-method tiers: above it, 429.
    post_rate: float | None = None
    _post_times: list[float] = field(default_factory=list)
    # Slack's 2025 limits for distributed non-Marketplace apps: conversations.history once a
    # minute per workspace, at most 15 messages a page. ``clock`` lets a test run them in
    # virtual time.
    history_per_minute: float | None = None
    history_page_max: int | None = None
    clock: Callable[[], float] = time.monotonic
    _history_at: float | None = None

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> FakeSlackApi:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_post("/response/{key}", self._response)
        app.router.add_get("/files/{file_id}", self._file)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self._base = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        for socket in self._sockets:
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return f"{self._base}/api/"

    def response_url(self, key: str) -> str:
        return f"{self._base}/response/{key}"

    def share_file(self, file_id: str, content: bytes) -> str:
        self.shared_files[file_id] = content
        return f"{self._base}/files/{file_id}"

    # --- scripting -------------------------------------------------------------------------

    def add_user(
        self,
        user_id: str,
        *,
        name: str = "",
        real_name: str = "",
        is_admin: bool = False,
        is_owner: bool = False,
        is_bot: bool = False,
        deleted: bool = False,
    ) -> None:
        self.users[user_id] = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name or user_id.lower(),
            "deleted": deleted,
            "is_admin": is_admin,
            "is_owner": is_owner,
            "is_bot": is_bot,
            "tz": "Europe/Berlin",
            "profile": {"display_name": name, "real_name": real_name or name or user_id},
        }

    def add_channel(
        self, channel_id: str, name: str, *, members: list[str] | None = None, private: bool = False
    ) -> None:
        """A channel as conversations.list / conversations.info describe it."""
        self.channels[channel_id] = {
            "id": channel_id,
            "name": name,
            "is_channel": not private,
            "is_group": private,
            "is_private": private,
            "is_archived": False,
            "is_member": True,
        }
        self.channel_members[channel_id] = list(members or [])

    def add_usergroup(
        self, group_id: str, handle: str, *, name: str = "", users: list[str] | None = None
    ) -> None:
        """A user group as usergroups.list describes it."""
        self.usergroup_info[group_id] = {
            "id": group_id,
            "team_id": self.team_id,
            "is_usergroup": True,
            "name": name or handle.title(),
            "handle": handle,
            "is_external": False,
            "date_delete": 0,
            "user_count": str(len(users or [])),
        }
        self.usergroups[group_id] = list(users or [])

    def rate_limit(self, method: str, *, times: int = 1, retry_after: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with 429 and Retry-After."""
        self._trouble[method] = _Trouble(times=times, retry_after=retry_after)

    def fail(self, method: str, error: str, *, times: int = 1, status: int = 200) -> None:
        self._trouble[method] = _Trouble(times=times, status=status, error=error)

    def hold(self, method: str) -> asyncio.Event:
        """Calls to ``method`` wait (already recorded) until the returned event is set."""
        self._held[method] = asyncio.Event()
        return self._held[method]

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    async def wait_for(self, method: str, count: int = 1, within: float = 5.0) -> list[Call]:
        """The listener keeps running after bolt's ack; wait for its calls to arrive."""
        return await self._wait(lambda: self.calls_to(method), count, within, method)

    async def wait_for_response(
        self, key: str, count: int = 1, within: float = 5.0
    ) -> list[dict[str, Any]]:
        return await self._wait(lambda: self.responses.get(key, []), count, within, key)

    async def _wait(
        self, get: Callable[[], list[Any]], count: int, within: float, what: str
    ) -> list[Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while len(get()) < count:
            if loop.time() > deadline:
                raise AssertionError(f"expected {count} of {what}, saw {len(get())}")
            await asyncio.sleep(0.02)
        return get()

    # --- HTTP ------------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        call = Call(method, await _params(request), dict(request.headers))
        if method == "chat.postMessage" and self._over_rate():
            self.refused.append(call)
            return web.json_response(
                {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": "1"}
            )
        if method == "conversations.history" and self._history_too_soon():
            self.refused.append(call)
            return web.json_response(
                {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": "60"}
            )
        trouble = self._trouble.get(method)
        if trouble is not None and trouble.times > 0:
            trouble.times -= 1
            self.refused.append(call)
            headers = {"Retry-After": str(trouble.retry_after)} if trouble.status == 429 else {}
            body = {"ok": False, "error": trouble.error}
            return web.json_response(body, status=trouble.status, headers=headers)
        allowed = {self.app_token} if method == "apps.connections.open" else self.tokens
        if method != "oauth.v2.access" and call.token not in allowed:
            self.refused.append(call)
            return web.json_response({"ok": False, "error": "invalid_auth"})
        self.calls.append(call)
        held = self._held.get(method)
        if held is not None:
            await held.wait()
        handler: Handler | None = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        call.response = handler(call)
        return web.json_response(call.response)

    async def _upload(self, request: web.Request) -> web.Response:
        self.uploads[request.match_info["file_id"]] = await request.read()
        return web.Response(text="OK - uploaded")

    async def _response(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.responses.setdefault(request.match_info["key"], []).append(body)
        return web.Response(text="ok")

    async def _file(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization", "").removeprefix("Bearer ") not in self.tokens:
            return web.Response(status=403)
        content = self.shared_files.get(request.match_info["file_id"])
        return web.Response(body=content) if content is not None else web.Response(status=404)

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        """Socket Mode: say hello, then record every acknowledgement the app sends back."""
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._sockets.append(socket)
        await socket.send_json({"type": "hello", "num_connections": 1})
        async for message in socket:
            if message.type.name == "TEXT":
                self.socket_acks.append(json.loads(message.data))
        return socket

    async def push(self, envelope: dict[str, Any]) -> None:
        """Send a Socket Mode envelope to the connected app."""
        await self._wait(lambda: self._sockets, 1, 5.0, "a Socket Mode connection")
        await self._sockets[-1].send_json(envelope)

    # --- canned methods --------------------------------------------------------------------

    def _next(self) -> int:
        return next(self._ids)

    def _m_auth_test(self, call: Call) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://example.slack.com/",
            "team": "Example",
            "user": "alignment",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": "B0001",
            "is_enterprise_install": False,
        }

    def _over_rate(self) -> bool:
        """A sliding one-second window: more than ``post_rate`` posts in it are refused."""
        if self.post_rate is None:
            return False
        now = time.monotonic()
        self._post_times = [t for t in self._post_times if now - t < 1.0]
        if len(self._post_times) >= self.post_rate:
            return True
        self._post_times.append(now)
        return False

    def _history_too_soon(self) -> bool:
        if self.history_per_minute is None:
            return False
        now = self.clock()
        if self._history_at is not None and now - self._history_at < 60 / self.history_per_minute:
            return True
        self._history_at = now
        return False

    def _m_chat_postMessage(self, call: Call) -> dict[str, Any]:
        channel = str(call.params.get("channel", ""))
        if channel[:1] in ("U", "W"):
            # A user id posts to the app's DM with them, and the answer names that DM.
            channel = self._dm_of(channel)
        ts = f"{1_700_000_000 + self._next()}.000100"
        message: dict[str, Any] = {"type": "message", "text": call.params.get("text", ""), "ts": ts}
        metadata = call.params.get("metadata")
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        if metadata:
            message["metadata"] = metadata
        self.history.setdefault(channel, []).insert(0, message)  # newest first, like Slack
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _m_conversations_history(self, call: Call) -> dict[str, Any]:
        messages = self.history.get(str(call.params.get("channel")), [])
        limit = int(call.params.get("limit") or 100)
        if self.history_page_max is not None:
            limit = min(limit, self.history_page_max)
        include = str(call.params.get("include_all_metadata", "")).lower() in ("1", "true")
        page = [m if include else {k: v for k, v in m.items() if k != "metadata"} for m in messages]
        return {"ok": True, "messages": page[:limit], "has_more": len(page) > limit}

    def posts_to(self, channel: str) -> list[dict[str, Any]]:
        """What a person or channel actually received, oldest first."""
        return list(reversed(self.history.get(channel, [])))

    def _m_chat_update(self, call: Call) -> dict[str, Any]:
        return {"ok": True, "channel": call.params.get("channel"), "ts": call.params.get("ts")}

    def _m_chat_postEphemeral(self, call: Call) -> dict[str, Any]:
        return {"ok": True, "message_ts": f"{1_700_000_000 + self._next()}.000200"}

    def _m_conversations_open(self, call: Call) -> dict[str, Any]:
        user = str(call.params.get("users", "")).split(",")[0]
        return {"ok": True, "channel": {"id": self._dm_of(user)}}

    @staticmethod
    def _dm_of(user: str) -> str:
        return "D" + user.removeprefix("U")

    def _m_views_open(self, call: Call) -> dict[str, Any]:
        return {"ok": True, "view": {"id": f"V{self._next():04d}", **_view_of(call)}}

    def _m_views_publish(self, call: Call) -> dict[str, Any]:
        return {"ok": True, "view": {"id": f"V{self._next():04d}", **_view_of(call)}}

    def _m_conversations_members(self, call: Call) -> dict[str, Any]:
        members = self.channel_members.get(str(call.params.get("channel")))
        if members is None:
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, **self._page(members, call, "members")}

    def _m_usergroups_users_list(self, call: Call) -> dict[str, Any]:
        users = self.usergroups.get(str(call.params.get("usergroup")))
        if users is None:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": users}

    def _m_conversations_list(self, call: Call) -> dict[str, Any]:
        channels = [c for c in self.channels.values() if not c["is_archived"]]
        return {"ok": True, **self._page(channels, call, "channels")}

    def _m_conversations_info(self, call: Call) -> dict[str, Any]:
        channel = self.channels.get(str(call.params.get("channel")))
        return {"ok": True, "channel": channel} if channel else _error("channel_not_found")

    def _m_usergroups_list(self, call: Call) -> dict[str, Any]:
        return {"ok": True, "usergroups": list(self.usergroup_info.values())}

    def _m_users_info(self, call: Call) -> dict[str, Any]:
        user = self.users.get(str(call.params.get("user")))
        return {"ok": True, "user": user} if user else {"ok": False, "error": "user_not_found"}

    def _m_users_list(self, call: Call) -> dict[str, Any]:
        return {"ok": True, **self._page(list(self.users.values()), call, "members")}

    def _m_files_getUploadURLExternal(self, call: Call) -> dict[str, Any]:
        file_id = f"F{self._next():04d}"
        return {"ok": True, "file_id": file_id, "upload_url": f"{self._base}/upload/{file_id}"}

    def _m_files_completeUploadExternal(self, call: Call) -> dict[str, Any]:
        files = call.params.get("files")
        listed = json.loads(files) if isinstance(files, str) else files or []
        return {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in listed]}

    def _m_apps_connections_open(self, call: Call) -> dict[str, Any]:
        return {"ok": True, "url": self._base.replace("http", "ws", 1) + "/socket"}

    def _m_oauth_v2_access(self, call: Call) -> dict[str, Any]:
        return self.oauth_access or {"ok": False, "error": "invalid_code"}

    def _page(self, items: list[Any], call: Call, key: str) -> dict[str, Any]:
        start = int(call.params.get("cursor") or 0)
        end = start + self.page_size
        next_cursor = str(end) if end < len(items) else ""
        return {key: items[start:end], "response_metadata": {"next_cursor": next_cursor}}


def _error(code: str) -> dict[str, Any]:
    return {"ok": False, "error": code}


def _view_of(call: Call) -> dict[str, Any]:
    view = call.params.get("view")
    parsed = json.loads(view) if isinstance(view, str) else view
    return parsed if isinstance(parsed, dict) else {}


async def _params(request: web.Request) -> dict[str, Any]:
    """Slack accepts query strings, forms and JSON; the SDK uses all three."""
    params: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        body = await request.json()
        params.update(body if isinstance(body, dict) else {})
    elif request.method == "POST":
        params.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
    return params
