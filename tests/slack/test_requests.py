"""Request hygiene in front of bolt: signatures, malformed bodies, retries, unknown ids."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest

from tests.delivery.harness import wait_until
from tests.fakes.slack_api import FakeSlackApi
from tests.slack import payloads
from tests.slack.conftest import Server
from tests.slack.fake_core import FakeCore


async def test_bad_signature_is_401_and_core_untouched(
    server: Server, core: FakeCore, fake_slack: FakeSlackApi
) -> None:
    body = payloads.slash_command(response_url=fake_slack.response_url("r1"))
    headers = payloads.signed_headers(body, secret="not-the-secret")
    response = await server.post(body, headers)
    assert response.status == 401
    await asyncio.sleep(0.1)
    assert core.untouched
    assert fake_slack.calls == []


async def test_missing_signature_is_401(server: Server, core: FakeCore) -> None:
    response = await server.post(b"command=%2Falignment", {"Content-Type": payloads.FORM})
    assert response.status == 401
    assert core.untouched


async def test_stale_timestamp_is_401(
    server: Server, core: FakeCore, fake_slack: FakeSlackApi
) -> None:
    body = payloads.slash_command(response_url=fake_slack.response_url("r1"))
    headers = payloads.signed_headers(body, timestamp=int(time.time()) - 10 * 60)
    response = await server.post(body, headers)
    assert response.status == 401
    assert core.untouched


async def test_malformed_payload_is_400_and_server_stays_up(
    server: Server, core: FakeCore, fake_slack: FakeSlackApi
) -> None:
    broken = b"payload=%7Bnot+json"
    response = await server.signed(broken)
    assert response.status == 400
    async with server.session.post(
        server.url + "/slack/events", data=broken, headers=payloads.signed_headers(broken)
    ) as again:
        assert again.status == 400
        assert (await again.json())["ok"] is False
    # Still healthy: a good request right after goes through.
    good = await server.signed(payloads.slash_command(response_url=fake_slack.response_url("r")))
    assert good.status == 200
    await fake_slack.wait_for_response("r")


async def test_missing_fields_and_wrong_content_type_are_400(
    server: Server, core: FakeCore
) -> None:
    no_user = payloads.block_actions(action_id="poll_rank_open", value="{}")
    del no_user["user"]
    assert (await server.interact(no_user)).status == 400
    command_without_team = b"command=%2Falignment&user_id=U1"
    assert (await server.signed(command_without_team)).status == 400
    text = b"hello"
    assert (await server.signed(text, content_type="text/plain")).status == 400
    event_without_id = json.dumps(
        {"type": "event_callback", "team_id": "T0001", "event": {"type": "app_home_opened"}}
    ).encode()
    response = await server.signed(event_without_id, content_type="application/json")
    assert response.status == 400
    assert core.untouched


async def test_unknown_action_is_acknowledged(server: Server, core: FakeCore) -> None:
    payload = payloads.block_actions(action_id="something_else", value="x")
    response = await server.interact(payload)
    assert response.status == 200
    unknown_view = payloads.view_submission(callback_id="nope", values={})
    assert (await server.interact(unknown_view)).status == 200
    assert core.untouched


async def test_url_verification_challenge(server: Server) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "abc", "token": "t"}).encode()
    async with server.session.post(
        server.url + "/slack/events",
        data=body,
        headers=payloads.signed_headers(body, content_type="application/json"),
    ) as response:
        assert response.status == 200
        assert "abc" in await response.text()


async def test_retried_event_is_processed_once(
    server: Server, core: FakeCore, fake_slack: FakeSlackApi
) -> None:
    body = payloads.app_home_opened(event_id="Ev0RETRY")
    first = await server.signed(body, content_type="application/json")
    assert first.status == 200
    await fake_slack.wait_for("views.publish")
    retry = await server.signed(
        body,
        content_type="application/json",
        extra={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
    )
    assert retry.status == 200
    await asyncio.sleep(0.3)
    assert len(core.homes) == 1
    assert len(fake_slack.calls_to("views.publish")) == 1


async def test_requests_arriving_together_at_a_fresh_server_make_one_auth_test(
    server: Server, fake_slack: FakeSlackApi
) -> None:
    release = fake_slack.hold("auth.test")
    # Twenty distinct requests (twenty identical ones would be one request and 19 replays).
    sent = [
        asyncio.ensure_future(
            server.interact(
                payloads.block_actions(action_id="something_else", value="x", trigger_id=f"t{n}")
            )
        )
        for n in range(20)
    ]
    await fake_slack.wait_for("auth.test")  # the first one asks who the bot is ...
    # ... while the others arrive and wait for the same answer.
    assert await wait_until(lambda: server.adapter._traffic.in_flight == 20, within=10)
    release.set()

    assert [r.status for r in await asyncio.gather(*sent)] == [200] * 20
    assert len(fake_slack.calls_to("auth.test")) == 1


async def test_a_failed_auth_test_is_refused_and_the_next_request_asks_again(
    server: Server, core: FakeCore, fake_slack: FakeSlackApi
) -> None:
    fake_slack.fail("auth.test", "invalid_auth")
    payload = payloads.block_actions(action_id="something_else", value="x")
    # Bolt tells the person through the payload's response_url.
    payload["response_url"] = fake_slack.response_url("refused")

    refused = await server.interact(payload)
    assert refused.status == 200
    (told,) = await fake_slack.wait_for_response("refused")
    assert "installation" in told["text"]
    assert [c.method for c in fake_slack.refused] == ["auth.test"]

    payload["trigger_id"] = "another-click"  # a new request, not a replay of the first
    assert (await server.interact(payload)).status == 200  # not kept: asked again
    assert len(fake_slack.calls_to("auth.test")) == 1
    assert core.untouched


async def test_every_documented_events_envelope_is_answered_200(
    server: Server, core: FakeCore, fake_slack: FakeSlackApi, caplog: pytest.LogCaptureFixture
) -> None:
    """The Events API sends three outer envelope types (url_verification, event_callback,
    app_rate_limited); Slack disables apps that fail more than 5% of deliveries."""
    rate_limited = {
        "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl",
        "type": "app_rate_limited",
        "team_id": payloads.TEAM,
        "minute_rate_limited": 1518467820,
        "api_app_id": "A0001",
    }
    newer = {"token": "t", "type": "some_future_envelope", "team_id": payloads.TEAM}
    with caplog.at_level(logging.INFO, logger="adapters.slack.adapter"):
        for envelope in (rate_limited, newer):
            body = json.dumps(envelope).encode()
            response = await server.signed(body, content_type="application/json")
            assert response.status == 200, envelope["type"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        f"Slack rate-limited event delivery: team {payloads.TEAM}, minute 1518467820"
    ]
    assert core.untouched
    assert fake_slack.calls == []
    home = await server.signed(payloads.app_home_opened(), content_type="application/json")
    assert home.status == 200
    # An envelope without a type is still malformed.
    body = json.dumps({"token": "t", "team_id": payloads.TEAM}).encode()
    assert (await server.signed(body, content_type="application/json")).status == 400
