"""Slack's three seconds: the HTTP response never waits for work that can come after it.

Each test holds something the adapter depends on (the core, or a Slack Web API method) and
shows that the ack arrives while it is still held, and that the held work completes once
released. A listener that awaited its follow-up work before returning would never answer here.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from adapters.slack import inbound
from tests.delivery.harness import wait_until
from tests.fakes.slack_api import FakeSlackApi
from tests.slack import payloads
from tests.slack.conftest import Server
from tests.slack.fake_core import FakeCore
from tests.slack.test_poll import _open_modal

# Not a speed target: how long a held piece of work may take to show it is not awaited.
LIVENESS_SECONDS = 10.0


async def _post(server: Server, body: bytes, content_type: str = payloads.FORM) -> tuple[int, str]:
    async def send() -> tuple[int, str]:
        headers = payloads.signed_headers(body, content_type=content_type)
        async with server.session.post(
            server.url + "/slack/events", data=body, headers=headers
        ) as response:
            return response.status, await response.text()

    return await asyncio.wait_for(send(), LIVENESS_SECONDS)


async def test_a_command_is_acked_while_the_core_is_still_working(
    server: Server, core: FakeCore, fake_slack: FakeSlackApi
) -> None:
    core.hold = asyncio.Event()
    body = payloads.slash_command(response_url=fake_slack.response_url("cmd"), text="status")
    status, text = await _post(server, body)
    assert (status, text) == (200, "")
    # The core has it and is still working.
    assert await wait_until(lambda: len(core.commands) == 1, within=LIVENESS_SECONDS)
    assert fake_slack.responses.get("cmd") is None
    core.hold.set()
    (reply,) = await fake_slack.wait_for_response("cmd")
    assert reply["text"] == "Done."


async def test_an_answer_is_acked_before_the_dm_is_updated(
    server: Server, core: FakeCore, fake_slack: FakeSlackApi
) -> None:
    view = await _open_modal(server, fake_slack)
    release = fake_slack.hold("chat.update")
    submit = payloads.view_submission(
        callback_id="poll_rank_submit",
        private_metadata=view["private_metadata"],
        values=payloads.picks("quality", "price", "speed"),
    )
    status, text = await _post(server, payloads.interaction(submit))
    assert (status, text) == (200, "")
    assert len(core.answers) == 1
    (update,) = await fake_slack.wait_for("chat.update")  # arrived, and is held there
    release.set()
    await server.adapter.idle()
    assert update.response is not None
    assert update.response["ok"]
    assert "Change my answer" in json.dumps(update.params["blocks"])


async def test_a_slow_answer_is_acked_empty_and_the_dm_updated_later(
    server: Server, core: FakeCore, fake_slack: FakeSlackApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inbound, "CORE_BUDGET_SECONDS", 0.05)
    view = await _open_modal(server, fake_slack)
    core.hold = asyncio.Event()
    submit = payloads.view_submission(
        callback_id="poll_rank_submit",
        private_metadata=view["private_metadata"],
        values=payloads.picks("quality", "price", "speed"),
    )
    status, text = await _post(server, payloads.interaction(submit))
    assert (status, text) == (200, "")  # over budget: the modal closes, no verdict yet
    assert fake_slack.calls_to("chat.update") == []
    core.hold.set()
    (update,) = await fake_slack.wait_for("chat.update")
    assert "Change my answer" in json.dumps(update.params["blocks"])


async def test_app_home_is_acked_before_it_is_published(
    server: Server, core: FakeCore, fake_slack: FakeSlackApi
) -> None:
    release = fake_slack.hold("views.publish")
    status, _ = await _post(server, payloads.app_home_opened(), "application/json")
    assert status == 200
    await fake_slack.wait_for("views.publish")
    release.set()
    await server.adapter.idle()
    assert core.homes
