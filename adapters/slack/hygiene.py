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
from urllib.parse import parse_qs

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


def check_shape(content_type: str, body: bytes) -> Problem | None:
    """None when bolt can parse the body and our listeners find the fields they read."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return Problem(400, "body is not UTF-8")
    if content_type == FORM:
        return _check_form(text)
    if content_type == JSON:
        return _check_json(text)
    return Problem(400, f"unsupported content type {content_type or 'none'}")


def _check_form(text: str) -> Problem | None:
    form = {k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()}
    if "payload" in form:
        return _check_interaction(form["payload"])
    if form.get("ssl_check") == "1":
        return None
    missing = [name for name in SLASH_COMMAND_FIELDS if not form.get(name)]
    return Problem(400, f"missing fields: {', '.join(missing)}") if missing else None


def _check_interaction(raw: str) -> Problem | None:
    payload = _json_object(raw)
    if payload is None:
        return Problem(400, "payload is not a JSON object")
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


def _check_json(text: str) -> Problem | None:
    body = _json_object(text)
    if body is None:
        return Problem(400, "body is not a JSON object")
    kind = body.get("type")
    if kind == "url_verification":
        return None if isinstance(body.get("challenge"), str) else Problem(400, "no challenge")
    if kind != "event_callback":
        return Problem(400, f"unsupported event envelope {kind!r}")
    if not isinstance(body.get("event_id"), str) or not isinstance(body.get("team_id"), str):
        return Problem(400, "event_callback has no event_id or team_id")
    if not isinstance(_dig(body, "event", "type"), str):
        return Problem(400, "event_callback has no event.type")
    return None


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


def event_id_of(content_type: str, body: bytes) -> str | None:
    """The Events API envelope id, present on the first delivery and every retry."""
    if content_type != JSON:
        return None
    envelope = _json_object(body.decode("utf-8"))
    event_id = envelope.get("event_id") if envelope else None
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
