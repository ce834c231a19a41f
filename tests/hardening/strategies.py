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


# --- signed interaction payloads with hostile JSON (issue #12) -------------------------------

# A value that json.dumps cannot make (it would recurse as deeply itself): the placeholder
# is swapped for raw nested brackets in the JSON text.
DEEP = "\x00deep-nesting\x00"
HUGE_NUMBERS = st.sampled_from(
    [10**30, -(10**30), 2**63, -(2**63) - 1, 2**64, 10**4000, 1e308, -1e308, 0, -1, 1.5]
)
# One string near the body limit (it must pass the size check to reach anything) and one
# over it (a 413).
BIG_STRINGS = st.sampled_from(["a" * 900_000, "é" * 300_000, "x" * 1_000_001])
HOSTILE_VALUES: st.SearchStrategy[Any] = (
    JSON_VALUES
    | HUGE_NUMBERS
    | BIG_STRINGS
    | st.just(DEEP)
    | st.sampled_from([None, "", [], {}, True, "Infinity", float("inf"), float("nan")])
    # private_metadata / button values are JSON inside JSON: hostile there too.
    | st.fixed_dictionaries(
        {"round_id": HUGE_NUMBERS | JSON_VALUES, "k": HUGE_NUMBERS | JSON_VALUES}
    ).map(json.dumps)
)
Path = tuple[str | int, ...]


def _paths(value: Any, prefix: Path = ()) -> list[Path]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _set(target: Any, path: Path, value: Any) -> None:
    """Replace (or, with _DROP, remove) what ``path`` points at, if it is still there."""
    *parents, last = path
    for step in parents:
        try:
            target = target[step]
        except (KeyError, IndexError, TypeError):
            return
    if isinstance(target, dict) and isinstance(last, str):
        if value is _DROP:
            target.pop(last, None)
        else:
            target[last] = value
    elif isinstance(target, list) and isinstance(last, int) and last < len(target):
        if value is _DROP:
            del target[last]
        else:
            target[last] = value


@st.composite
def hostile_json(draw: st.DrawFn, bases: list[dict[str, Any]]) -> str:
    """A documented payload with a few of its fields, at any depth, dropped or replaced by
    arbitrary JSON, huge numbers, near-limit strings or very deep nesting; as JSON text."""
    payload = json.loads(json.dumps(draw(st.sampled_from(bases))))
    paths = _paths(payload)[1:]
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(paths))
        _set(payload, path, draw(st.just(_DROP) | HOSTILE_VALUES))
    text = json.dumps(payload)  # floats inf/nan become Infinity/NaN, which Python reads back
    depth = draw(st.sampled_from([100, 5_000, 100_000]))
    return text.replace(json.dumps(DEEP), "[" * depth + "]" * depth)


def slack_interactions() -> list[dict[str, Any]]:
    """Every interaction shape the Slack adapter takes, and some it only acknowledges."""
    research = payloads.view_submission(
        callback_id=render.CALLBACK_RESEARCH,
        values=payloads.research_values(
            text="attribute,rank\nprice,1",
            file={"id": "F1", "name": "r.csv", "url_private_download": "http://127.0.0.1:9/x"},
        ),
    )
    closed = {**_VIEW_SUBMISSION, "type": "view_closed", "is_cleared": False}
    shortcut = {
        "type": "shortcut",
        "callback_id": "cb",
        "trigger_id": "t",
        "team": {"id": payloads.TEAM},
        "user": {"id": "UADA", "team_id": payloads.TEAM},
    }
    suggestion = {**_BLOCK_ACTIONS, "type": "block_suggestion", "action_id": "a", "value": "p"}
    return [_BLOCK_ACTIONS, _VIEW_SUBMISSION, research, closed, shortcut, suggestion]
