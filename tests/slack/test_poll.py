"""The poll round trip: DM with a button, ranking modal, validation, answer, DM update."""

from __future__ import annotations

import json
import time
from typing import Any

from bot.model.domain import ConversationKind, ConversationRef, UserRef, WorkspaceRef
from bot.model.views import PollState
from tests.fakes.slack_api import FakeSlackApi
from tests.slack import payloads
from tests.slack.conftest import Server
from tests.slack.fake_core import FakeCore, sample_poll

WS = WorkspaceRef("slack", payloads.TEAM)


def _view(call_params: dict[str, Any]) -> dict[str, Any]:
    view = call_params["view"]
    return json.loads(view) if isinstance(view, str) else view


async def _post_json(
    server: Server, payload: dict[str, Any], *, timestamp: int | None = None
) -> dict[str, Any] | None:
    body = payloads.interaction(payload)
    headers = payloads.signed_headers(body, timestamp=timestamp)
    async with server.session.post(
        server.url + "/slack/events", data=body, headers=headers
    ) as response:
        assert response.status == 200
        text = await response.text()
        return json.loads(text) if text else None


async def _open_modal(server: Server, fake: FakeSlackApi) -> dict[str, Any]:
    dm = await server.adapter.port.open_dm(UserRef(WS, "UADA"))
    posted = await server.adapter.port.send_poll(dm, sample_poll())
    click = payloads.block_actions(
        action_id="poll_rank_open",
        value=json.dumps({"round_id": 7}),
        channel=posted.conversation.conversation_id,
        message_ts=posted.message_id,
    )
    assert (await server.interact(click)).status == 200
    (opened,) = await fake.wait_for("views.open")
    return _view(opened.params)


async def test_send_poll_posts_dm_with_deadline_and_button(
    server: Server, fake_slack: FakeSlackApi
) -> None:
    dm = await server.adapter.port.open_dm(UserRef(WS, "UADA"))
    # Addressed by user id until the first post tells the DM's own id: no conversations.open.
    assert dm == ConversationRef(WS, "UADA", ConversationKind.DM)
    message = await server.adapter.port.send_poll(dm, sample_poll())
    assert message.conversation == ConversationRef(WS, "DADA", ConversationKind.DM)
    assert await server.adapter.port.open_dm(UserRef(WS, "UADA")) == message.conversation
    assert fake_slack.calls_to("conversations.open") == []
    (post,) = fake_slack.calls_to("chat.postMessage")
    assert post.params["channel"] == "UADA"
    blocks = json.dumps(post.params["blocks"])
    assert "<!date^1905260400^" in blocks
    assert "Rank your top 3" in blocks
    assert "poll_rank_open" in blocks


async def test_modal_has_one_static_select_per_place(
    server: Server, fake_slack: FakeSlackApi
) -> None:
    view = await _open_modal(server, fake_slack)
    inputs = [b for b in view["blocks"] if b["type"] == "input"]
    assert [b["block_id"] for b in inputs] == ["rank_1", "rank_2", "rank_3"]
    assert {b["element"]["type"] for b in inputs} == {"static_select"}
    assert "multi_static_select" not in json.dumps(view)
    assert json.loads(view["private_metadata"])["channel"] == "DADA"


async def test_duplicate_and_missing_picks_are_errors_by_block(
    server: Server, core: FakeCore, fake_slack: FakeSlackApi
) -> None:
    view = await _open_modal(server, fake_slack)
    meta = view["private_metadata"]
    dup = payloads.view_submission(
        callback_id="poll_rank_submit",
        private_metadata=meta,
        values=payloads.picks("price", "speed", "price"),
    )
    answer = await _post_json(server, dup)
    assert answer is not None
    assert answer["response_action"] == "errors"
    assert set(answer["errors"]) == {"rank_3"}
    missing = payloads.view_submission(
        callback_id="poll_rank_submit",
        private_metadata=meta,
        values=payloads.picks("price", None, "speed"),
    )
    answer = await _post_json(server, missing)
    assert answer is not None
    assert set(answer["errors"]) == {"rank_2"}
    assert core.answer_calls == []


async def test_answer_recorded_and_dm_updated_with_change_button(
    server: Server, core: FakeCore, fake_slack: FakeSlackApi
) -> None:
    view = await _open_modal(server, fake_slack)
    submit = payloads.view_submission(
        callback_id="poll_rank_submit",
        private_metadata=view["private_metadata"],
        values=payloads.picks("quality", "price", "speed"),
    )
    assert await _post_json(server, submit) is None  # plain ack closes the modal
    (event,) = core.answer_calls
    assert event.ranking == ("quality", "price", "speed")
    assert event.round_id == 7
    assert event.message is not None
    assert event.message.conversation.conversation_id == "DADA"
    (update,) = await fake_slack.wait_for("chat.update")
    assert update.params["channel"] == "DADA"
    assert update.params["ts"] == event.message.message_id
    blocks = json.dumps(update.params["blocks"])
    assert "Change my answer" in blocks
    assert "Build quality" in blocks


async def test_duplicate_view_submission_counted_once(
    server: Server, core: FakeCore, fake_slack: FakeSlackApi
) -> None:
    view = await _open_modal(server, fake_slack)
    submit = payloads.view_submission(
        callback_id="poll_rank_submit",
        private_metadata=view["private_metadata"],
        values=payloads.picks("quality", "price", "speed"),
    )
    # Two deliveries of one submission, each signed afresh (an identical request is a
    # replay and never reaches the core: tests/hardening/test_hostile_requests.py).
    await _post_json(server, submit, timestamp=int(time.time()) - 1)
    await _post_json(server, submit)
    assert len(core.answer_calls) == 2
    assert core.answer_calls[0].event_id == core.answer_calls[1].event_id
    assert len(core.answers) == 1


async def test_refused_answer_shows_core_message(
    server: Server, core: FakeCore, fake_slack: FakeSlackApi
) -> None:
    core.refuse_answers = True
    view = await _open_modal(server, fake_slack)
    submit = payloads.view_submission(
        callback_id="poll_rank_submit",
        private_metadata=view["private_metadata"],
        values=payloads.picks("quality", "price", "speed"),
    )
    answer = await _post_json(server, submit)
    assert answer == {
        "response_action": "errors",
        "errors": {"rank_1": "Sorry, this round has closed."},
    }
    (update,) = await fake_slack.wait_for("chat.update")
    blocks = json.dumps(update.params["blocks"])
    assert "Sorry, this round has closed." in blocks
    assert "poll_rank" not in blocks  # no button on a closed poll


async def test_update_poll_is_chat_update(server: Server, fake_slack: FakeSlackApi) -> None:
    dm = await server.adapter.port.open_dm(UserRef(WS, "UBOB"))
    message = await server.adapter.port.send_poll(dm, sample_poll())
    answered = sample_poll(PollState.ANSWERED, ("price", "speed", "range"))
    await server.adapter.port.update_poll(message, answered)
    (update,) = fake_slack.calls_to("chat.update")
    assert update.params["channel"] == "DBOB"
    assert update.params["ts"] == message.message_id
    assert "Change my answer" in json.dumps(update.params["blocks"])
