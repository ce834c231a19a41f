"""Checks in front of bolt: authenticity first, then shape.

Bolt verifies signatures too, but it parses the body before that and answers 500 when the
``payload`` is not JSON; here a forged request is refused (401) before anything reads it, and
a signed but malformed one gets a short 400 instead of an exception.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qsl

FORM: Final = "application/x-www-form-urlencoded"
JSON: Final = "application/json"
MAX_BODY_BYTES: Final = 1_000_000
SLASH_COMMAND_FIELDS: Final = (
    "command",
    "team_id",
    "user_id",
    "channel_id",
    "trigger_id",
    "response_url",
)


@dataclass(frozen=True, slots=True)
class Problem:
    status: int
    error: str


MAX_SKEW_SECONDS = 300  # Slack's documented replay window


def check_signature(signing_secret: str, body: bytes, headers: Mapping[str, str]) -> bool:
    """Slack's v0 signature over the raw bytes, and a timestamp within five minutes.

    Computed here rather than by slack-sdk's ``SignatureVerifier.is_valid``, which decodes the body as
    text and so raises on bytes that are not UTF-8 instead of saying "not signed"."""
    timestamp = headers.get("X-Slack-Request-Timestamp") or ""
    signature = headers.get("X-Slack-Signature") or ""
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12) or not signature:
        return False
    if abs(time.time() - int(timestamp)) > MAX_SKEW_SECONDS:
        return False
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))


@dataclass(frozen=True, slots=True)
class Body:
    """A request body that is UTF-8 and shaped the way our listeners read it: its text and
    what bolt would parse from it (the interaction payload, the form or the JSON)."""

    text: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Notice:
    """An Events API envelope that tells the app something and asks for nothing but a 200:
    ``app_rate_limited`` (Slack dropped this minute's events for the workspace), or an
    envelope type newer than this code. Slack disables event subscriptions of apps that fail
    more than 5% of deliveries, so these are acknowledged, logged and not dispatched."""

    kind: str
    data: dict[str, Any]


def read_body(content_type: str, body: bytes) -> Body | Notice | Problem:
    """The parsed body when our listeners will find the fields they read, else the problem."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return Problem(400, "body is not UTF-8")
    if content_type == FORM:
        return _read_form(text)
    if content_type == JSON:
        return _read_json(text)
    return Problem(400, f"unsupported content type {content_type or 'none'}")


def _read_form(text: str) -> Body | Problem:
    form = dict(parse_qsl(text, keep_blank_values=True))  # the last of a repeated field wins
    if "payload" in form:
        payload = _json_object(form["payload"])
        if payload is None:
            return Problem(400, "payload is not a JSON object")
        problem = _check_interaction(payload)
        return problem or Body(text, payload)
    if form.get("ssl_check") == "1":
        return Body(text, form)
    missing = [name for name in SLASH_COMMAND_FIELDS if not form.get(name)]
    return Problem(400, f"missing fields: {', '.join(missing)}") if missing else Body(text, form)


def _check_interaction(payload: dict[str, Any]) -> Problem | None:
    kind = payload.get("type")
    if not isinstance(kind, str):
        return Problem(400, "payload has no type")
    if not _dig(payload, "user", "id"):
        return Problem(400, "payload has no user.id")
    if not (_dig(payload, "team", "id") or _dig(payload, "user", "team_id")):
        return Problem(400, "payload has no team")
    if kind == "block_actions" and not _actions_ok(payload.get("actions")):
        return Problem(400, "block_actions payload has no actions")
    if kind in ("view_submission", "view_closed") and not _view_ok(payload.get("view")):
        return Problem(400, f"{kind} payload has no usable view")
    return None


def _actions_ok(actions: Any) -> bool:
    return (
        isinstance(actions, list)
        and bool(actions)
        and all(isinstance(a, dict) and isinstance(a.get("action_id"), str) for a in actions)
    )


def _view_ok(view: Any) -> bool:
    return (
        isinstance(view, dict)
        and isinstance(view.get("id"), str)
        and isinstance(view.get("callback_id"), str)
        and isinstance(_dig(view, "state", "values"), dict)
    )


def _read_json(text: str) -> Body | Notice | Problem:
    body = _json_object(text)
    if body is None:
        return Problem(400, "body is not a JSON object")
    kind = body.get("type")
    if kind == "url_verification":
        ok = isinstance(body.get("challenge"), str)
        return Body(text, body) if ok else Problem(400, "no challenge")
    if not isinstance(kind, str) or not kind:
        return Problem(400, "the envelope has no type")
    if kind != "event_callback":
        return Notice(kind, body)
    if not isinstance(body.get("event_id"), str) or not isinstance(body.get("team_id"), str):
        return Problem(400, "event_callback has no event_id or team_id")
    if not isinstance(_dig(body, "event", "type"), str):
        return Problem(400, "event_callback has no event.type")
    return Body(text, body)


def _json_object(raw: str) -> dict[str, Any] | None:
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _dig(data: Any, *path: str) -> Any:
    for name in path:
        if not isinstance(data, dict):
            return None
        data = data.get(name)
    return data


def event_id_of(body: Body) -> str | None:
    """The Events API envelope id, present on the first delivery and every retry."""
    if body.data.get("type") != "event_callback":
        return None
    event_id = body.data.get("event_id")
    return event_id if isinstance(event_id, str) else None


class RecentIds:
    """Event ids seen lately, so a retry of an event already acknowledged is dropped.

    In memory on purpose: Slack retries within minutes, and what matters across replicas is
    that the core de-duplicates by event id as well.
    """

    def __init__(self, *, ttl_seconds: float = 3600, capacity: int = 10_000) -> None:
        self._ttl = ttl_seconds
        self._capacity = capacity
        self._seen: OrderedDict[str, float] = OrderedDict()

    def add(self, key: str) -> bool:
        """Remember ``key``; False when it was already there (a duplicate)."""
        now = time.monotonic()
        self._expire(now)
        if key in self._seen:
            return False
        self._seen[key] = now
        if len(self._seen) > self._capacity:
            self._seen.popitem(last=False)
        return True

    def forget(self, key: str) -> None:
        self._seen.pop(key, None)

    def _expire(self, now: float) -> None:
        while self._seen:
            key, seen_at = next(iter(self._seen.items()))
            if now - seen_at < self._ttl:
                return
            del self._seen[key]
