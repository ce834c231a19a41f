"""Arbitrary requests at POST /slack/events of the real Slack adapter served over HTTP.

Unsigned or wrongly signed requests (missing, forged, stale or future signatures and
timestamps, any content type, any body) are always a 401 and touch nothing: no core call, no
stored record, no Slack API call. Correctly signed requests with arbitrary bodies never get a
500.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import Counter
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.fakes.slack_api import FakeSlackApi
from tests.hardening.conftest import LiveServer
from tests.hardening.strategies import (
    CONTENT_TYPES,
    HEADER_TEXT,
    hostile_json,
    slack_bodies,
    slack_interactions,
)
from tests.slack import payloads
from tests.slack.conftest import Server
from tests.slack.fake_core import FakeCore

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

MAX_SKEW = 300
OUT_OF_WINDOW_MARGIN = 120

FORGERIES = (
    "no signature headers",
    "no signature",
    "no timestamp",
    "garbage signature",
    "wrong secret",
    "signature of another body",
    "stale timestamp",
    "future timestamp",
    "timestamp differs from the signed one",
    "empty secret",
)


def _sign(body: bytes, timestamp: str, secret: str = payloads.SECRET) -> str:
    """v0=HMAC-SHA256(secret, "v0:" + timestamp + ":" + raw body), as Slack signs."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def _utf8(body: bytes) -> bytes:
    """Non-UTF-8 bytes with a fresh timestamp hit a known bug (see the xfail below)."""
    return body.decode("utf-8", errors="replace").encode()


@st.composite
def forged_headers(draw: st.DrawFn, body: bytes) -> dict[str, str]:
    """Signature headers that must not pass: every way but the right one. Timestamps are
    integers here (a non-integer timestamp is its own test below)."""
    now = int(time.time())
    kind = draw(st.sampled_from(FORGERIES))
    fresh = str(now + draw(st.integers(-60, 60)))
    headers: dict[str, str] = {}
    if kind == "no signature":
        headers["X-Slack-Request-Timestamp"] = fresh
    elif kind == "no timestamp":
        headers["X-Slack-Signature"] = _sign(body, fresh)
    elif kind == "garbage signature":
        headers["X-Slack-Request-Timestamp"] = fresh
        headers["X-Slack-Signature"] = draw(
            HEADER_TEXT | st.binary(min_size=32, max_size=32).map(lambda b: "v0=" + b.hex())
        )
    elif kind == "wrong secret":
        secret = draw(
            st.text(min_size=1, max_size=40).filter(lambda s: s.strip() and s != payloads.SECRET)
        )
        headers["X-Slack-Request-Timestamp"] = fresh
        headers["X-Slack-Signature"] = _sign(body, fresh, secret)
    elif kind == "signature of another body":
        other = draw(st.binary(max_size=100).filter(lambda b: b != body))
        headers["X-Slack-Request-Timestamp"] = fresh
        headers["X-Slack-Signature"] = _sign(other, fresh)
    elif kind in ("stale timestamp", "future timestamp"):
        # Well past the five-minute window: the server checks seconds after this draw, and a
        # future stamp drawn 301 s ahead is only 300 s ahead by then (which Slack accepts).
        offset = draw(st.integers(MAX_SKEW + OUT_OF_WINDOW_MARGIN, 10**9))
        stamp = str(now - offset if kind == "stale timestamp" else now + offset)
        headers["X-Slack-Request-Timestamp"] = stamp
        headers["X-Slack-Signature"] = _sign(body, stamp)
    elif kind == "timestamp differs from the signed one":
        headers["X-Slack-Request-Timestamp"] = fresh
        headers["X-Slack-Signature"] = _sign(body, str(int(fresh) + draw(st.integers(1, 200))))
    elif kind == "empty secret":
        headers["X-Slack-Request-Timestamp"] = fresh
        headers["X-Slack-Signature"] = _sign(body, fresh, " ")
    return headers


@st.composite
def unsigned_requests(draw: st.DrawFn) -> tuple[bytes, dict[str, str]]:
    body = _utf8(draw(slack_bodies()))
    headers = draw(forged_headers(body))
    content_type = draw(CONTENT_TYPES)
    if content_type:
        headers["Content-Type"] = content_type
    extra = draw(
        st.dictionaries(
            st.sampled_from(["X-Slack-Retry-Num", "X-Slack-Retry-Reason", "X-Forwarded-For"]),
            HEADER_TEXT,
            max_size=2,
        )
    )
    return body, {**headers, **extra}


def _untouched(server: Server, core: FakeCore, fake: FakeSlackApi) -> None:
    assert core.untouched, core
    assert core.seen == []
    assert server.records.rows == {}
    assert fake.calls == []
    assert fake.responses == {}


@FUZZ
@given(request=unsigned_requests())
async def test_unsigned_requests_are_401_and_touch_nothing(
    slack: Server,
    slack_core: FakeCore,
    fake_slack: FakeSlackApi,
    request: tuple[bytes, dict[str, str]],
) -> None:
    body, headers = request
    response = await slack.post(body, headers)
    assert response.status == 401, (response.status, headers, body[:200])
    _untouched(slack, slack_core, fake_slack)


@pytest.mark.parametrize("timestamp", ["abc", "1e9", "1700000000.5", "9" * 5000, "0x10"])
async def test_a_non_integer_timestamp_is_401_not_500(
    slack: Server, slack_core: FakeCore, fake_slack: FakeSlackApi, timestamp: str
) -> None:
    body = payloads.slash_command(response_url="http://127.0.0.1:1/r", text="help")
    headers = {
        "Content-Type": payloads.FORM,
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": "v0=" + "0" * 64,
    }
    response = await slack.post(body, headers)
    assert response.status == 401
    _untouched(slack, slack_core, fake_slack)


SEEN: Counter[int] = Counter()


@pytest.mark.parametrize("signature", ["right", "wrong"])
async def test_a_non_utf8_body_is_refused_not_500(
    slack: Server, slack_core: FakeCore, fake_slack: FakeSlackApi, signature: str
) -> None:
    body = b"text=\xff\xfe&command=/alignment"
    stamp = str(int(time.time()))
    secret = payloads.SECRET if signature == "right" else "another-secret"
    headers = {
        "Content-Type": payloads.FORM,
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": _sign(body, stamp, secret),
    }
    response = await slack.post(body, headers)
    assert response.status == (400 if signature == "right" else 401)
    _untouched(slack, slack_core, fake_slack)


@FUZZ
@given(body=slack_bodies().map(_utf8), content_type=CONTENT_TYPES)
async def test_signed_arbitrary_bodies_never_get_a_500(
    slack: Server, body: bytes, content_type: str
) -> None:
    stamp = str(int(time.time()))
    headers = {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": _sign(body, stamp)}
    if content_type:
        headers["Content-Type"] = content_type
    response = await slack.post(body, headers)
    event(f"status {response.status}")
    SEEN[response.status] += 1
    assert response.status < 500, (response.status, content_type, body[:300])
    # 404 is bolt's answer to a signed slash command for another command name (unregistered).
    assert response.status in (200, 400, 404, 413), response.status


async def test_the_signed_fuzz_reached_the_listeners() -> None:
    """The signed fuzz is not only 400s: bodies got through to bolt's listeners too."""
    if not SEEN:
        pytest.skip("runs after test_signed_arbitrary_bodies_never_get_a_500")
    assert SEEN[200] > 0, SEEN
    assert SEEN[400] > 0, SEEN


# --- signed interaction payloads with hostile JSON, on the real core (issue #12) -----------

MAX_CPU_SECONDS = 1.0
SIGNED_FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)


SIGNED_SEEN: Counter[int] = Counter()


@pytest.mark.usefixtures("heap_frozen_as_serve_does")
@SIGNED_FUZZ
@given(payload=hostile_json(slack_interactions()))
async def test_signed_hostile_interactions_never_5xx_store_nothing_and_stay_fast(
    live: LiveServer, payload: str
) -> None:
    """Signed interaction payloads whose JSON is arbitrary (missing keys, wrong types, huge
    numbers, deep nesting, strings near 1 MB): never a 5xx, never a stored row, never more
    than a second of CPU for one request, and /healthz answers all along."""
    body = urlencode({"payload": payload}).encode()
    started = time.process_time()
    async with live.session.post(
        live.url + "/slack/events", data=body, headers=payloads.signed_headers(body)
    ) as response:
        await response.read()
        status = response.status
    await live.slack.idle()  # the work after the ack counts too
    spent = time.process_time() - started
    SIGNED_SEEN[status] += 1
    event(f"status {status}")
    assert status < 500, (status, payload[:300])
    assert spent < MAX_CPU_SECONDS, (spent, payload[:300])
    assert await live.row_counts() == live.baseline
    live.assert_healthy()


async def test_the_signed_interaction_fuzz_reached_the_listeners() -> None:
    if not SIGNED_SEEN:
        pytest.skip("runs after test_signed_hostile_interactions_never_5xx_store_nothing…")
    assert SIGNED_SEEN[200] > 0, SIGNED_SEEN
    assert SIGNED_SEEN[400] > 0, SIGNED_SEEN
