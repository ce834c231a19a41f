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
MAX_DEPTH: Final = 64  # of a JSON body or payload
SLASH_COMMAND_FIELDS: Final = (
    "command",
    "team_id",
    "user_id",
    "channel_id",
    "trigger_id",
    "response_url",
)


# Interaction types our listeners take; bolt sees only these. Every other type Slack
# documents (view_closed, block_suggestion, legacy attachments and dialogs, workflow steps)
# is acknowledged here: bolt would answer 404, or raise on a shape it did not expect.
ROUTED_INTERACTIONS: Final = frozenset(
    {"block_actions", "view_submission", "shortcut", "message_action"}
)


@dataclass(frozen=True, slots=True)
class Problem:
    status: int
    error: str


@dataclass(frozen=True, slots=True)
class Acknowledged:
    """A valid request that needs no listener: the 200 answer to send, as JSON (or empty)."""

    body: dict[str, Any] | None = None


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


def read_body(content_type: str, body: bytes) -> Body | Notice | Problem | Acknowledged:
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


def _read_form(text: str) -> Body | Problem | Acknowledged:
    form = dict(parse_qsl(text, keep_blank_values=True))  # the last of a repeated field wins
    if "payload" in form:
        payload = _json_object(form["payload"])
        if payload is None:
            return Problem(400, "payload is not a JSON object")
        problem = _check_interaction(payload)
        if problem is not None:
            return problem
        if payload["type"] not in ROUTED_INTERACTIONS:
            # An options request wants a list back; an empty one is a valid answer.
            no_options: dict[str, Any] = {"options": []}
            return Acknowledged(no_options if payload["type"] == "block_suggestion" else None)
        return Body(text, _interaction_for_bolt(payload))
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
    if kind == "view_submission" and not _view_ok(payload.get("view")):
        return Problem(400, f"{kind} payload has no usable view")
    if kind in ("shortcut", "message_action") and not isinstance(payload.get("callback_id"), str):
        return Problem(400, f"{kind} payload has no callback_id")
    return None


def _interaction_for_bolt(payload: dict[str, Any]) -> dict[str, Any]:
    """Only the fields our listeners read, each of the type they expect.

    Bolt reads a dozen more (enterprise, authorizations, channel, message …) with checks of
    its own that a signed but odd payload gets past and then fails on (``"team": 1`` raised
    a TypeError, a 500). A payload rebuilt from checked parts has nothing left to trip on."""
    team_id = _dig(payload, "team", "id") or _dig(payload, "user", "team_id")
    clean: dict[str, Any] = {
        "type": payload["type"],
        "team": {"id": str(team_id)},
        "user": _strings(payload["user"], "id", "name", "username", "team_id"),
        **_strings(payload, "trigger_id", "response_url", "api_app_id", "callback_id"),
    }
    if isinstance(payload.get("actions"), list):
        clean["actions"] = [
            _strings(action, "action_id", "block_id", "value", "type", "action_ts")
            for action in payload["actions"]
        ]
    if isinstance(payload.get("container"), dict):
        clean["container"] = _strings(payload["container"], "type", "channel_id", "message_ts")
    if isinstance(payload.get("view"), dict):
        view = payload["view"]
        keys = ("id", "type", "callback_id", "private_metadata", "hash", "team_id")
        values = _dig(view, "state", "values")
        state = {"state": {"values": values}} if isinstance(values, dict) else {}
        clean["view"] = {**_strings(view, *keys), **state}
    return clean


def _strings(data: dict[str, Any], *keys: str) -> dict[str, str]:
    """The fields of ``data`` among ``keys`` whose values are strings."""
    return {key: data[key] for key in keys if isinstance(data.get(key), str)}


def _actions_ok(actions: Any) -> bool:
    return (
        isinstance(actions, list)
        and bool(actions)
        and all(isinstance(a, dict) and isinstance(a.get("action_id"), str) for a in actions)
    )


def _view_ok(view: Any) -> bool:
    # bolt reads view.type (a workflow step's save is a view_submission too) before routing.
    return (
        isinstance(view, dict)
        and isinstance(view.get("id"), str)
        and isinstance(view.get("type"), str)
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
    """A JSON object of sane depth, else None. Very deep nesting makes the parser (or any
    recursive code after it) run out of stack: Slack's payloads are a dozen levels deep."""
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) and _depth_at_most(value, MAX_DEPTH) else None


def _depth_at_most(value: Any, limit: int) -> bool:
    """Iterative, so that the check itself cannot overflow the stack."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > limit:
            return False
        if isinstance(item, dict):
            pending.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            pending.extend((child, depth + 1) for child in item)
    return True


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
