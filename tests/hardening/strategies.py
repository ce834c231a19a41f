"""Hypothesis strategies shared by the hardening tests: request bodies and headers shaped like
(and unlike) what Slack and the Bot Framework send."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from hypothesis import strategies as st

from adapters.slack import render
from tests.slack import payloads

# Printable text including non-ASCII, no lone surrogates (they cannot be encoded).
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60)
# What an HTTP client can put in a header value.
HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80)

JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=5),
    max_leaves=12,
)

SLASH_FIELDS = (
    "token",
    "team_id",
    "user_id",
    "channel_id",
    "channel_name",
    "command",
    "text",
    "trigger_id",
    "response_url",
    "user_name",
    "api_app_id",
    "ssl_check",
    "payload",
)

CONTENT_TYPES = (
    st.sampled_from(
        [
            payloads.FORM,
            "application/json",
            "application/x-www-form-urlencoded; charset=utf-8",
            "application/json; charset=utf-8",
            "text/plain",
            "multipart/form-data; boundary=x",
            "",
        ]
    )
    | HEADER_TEXT
)


def _merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in changes.items():
        if value is _DROP:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


_DROP = object()


def mutated(base: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """``base`` with some top-level fields dropped, replaced by arbitrary JSON, or added."""
    keys = st.sampled_from(sorted(base)) | TEXT
    return st.dictionaries(keys, st.just(_DROP) | JSON_VALUES, max_size=4).map(
        lambda changes: _merge(base, changes)
    )


def _slash(**extra: str) -> dict[str, str]:
    return {
        "token": "deprecated",
        "team_id": payloads.TEAM,
        "user_id": "UADA",
        "channel_id": "C0GENERAL",
        "command": "/alignment",
        "text": "help",
        "trigger_id": "1.2.3",
        "response_url": "http://127.0.0.1:1/response/x",
        **extra,
    }


_BLOCK_ACTIONS = payloads.block_actions(action_id=render.ACTION_POLL_OPEN, value='{"round_id": 7}')
_VIEW_SUBMISSION = payloads.view_submission(
    callback_id=render.CALLBACK_POLL,
    values=payloads.picks("price", "speed", "support"),
    private_metadata='{"round_id":7,"k":3,"channel":"DADA","ts":"1700000001.000100"}',
)
_HOME = json.loads(payloads.app_home_opened())


@st.composite
def slack_bodies(draw: st.DrawFn) -> bytes:
    """Raw bytes, form bodies with arbitrary slash-command fields, interaction payloads and
    Events API envelopes (documented shapes, mutated), arbitrary JSON."""
    kind = draw(st.sampled_from(["bytes", "form", "slash", "interaction", "event", "json"]))
    if kind == "bytes":
        return draw(st.binary(max_size=400))
    if kind == "form":
        fields = draw(st.dictionaries(st.sampled_from(SLASH_FIELDS) | TEXT, TEXT, max_size=8))
        return urlencode(fields).encode()
    if kind == "slash":
        form = draw(mutated(_slash()))
        return urlencode(
            {k: v if isinstance(v, str) else json.dumps(v) for k, v in form.items()}
        ).encode()
    if kind == "interaction":
        base = draw(st.sampled_from([_BLOCK_ACTIONS, _VIEW_SUBMISSION]))
        payload = draw(mutated(base) | JSON_VALUES)
        return urlencode({"payload": json.dumps(payload)}).encode()
    if kind == "event":
        return json.dumps(draw(mutated(_HOME))).encode()
    return json.dumps(draw(JSON_VALUES)).encode()
