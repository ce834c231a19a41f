"""Regression tests for the audit of issue #12: signed requests made by someone who holds a
valid request or is a workspace member. Each test failed on the code the audit found.

1. a forged ``k`` in a poll modal's private_metadata hung the server;
2. a replayed signed request ran twice;
3. names were sent unescaped in Slack's text and fallback text;
5. research import fetched any URL, with the bot token, before checking the role;
6. signed but malformed payloads got 500, a view_closed 404.
(4 and 7 are the core's: tests/core/test_hostile_input.py.)
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from adapters.slack import SlackAdapter, render
from adapters.slack.client import is_workspace_file
from adapters.slack.inbound import MAX_RESEARCH_BYTES
from adapters.slack.parse import workspace
from bot.model.domain import UserRef
from bot.model.events import CommandResult
from bot.model.settings import CoreSettings
from bot.runtime.app import build_app
from tests.fakes.records import MemoryRecords
from tests.fakes.slack_api import FakeSlackApi
from tests.hardening.leaks import unescaped_markup
from tests.slack import payloads
from tests.slack.conftest import Server, serve, settings_for
from tests.slack.fake_core import FakeCore
from tests.slack.test_render import full_report

HOSTILE = "<!channel> *ping* <@U0> <!subteam^S1|@leads> <http://evil.example|click> &amp;"


def _poll_submission(metadata: str, values: dict[str, Any] | None = None) -> dict[str, Any]:
    return payloads.view_submission(
        callback_id=render.CALLBACK_POLL,
        values=values if values is not None else payloads.picks("price", "speed", "support"),
        private_metadata=metadata,
    )


async def _json_of(response: aiohttp.ClientResponse) -> Any:
    text = await response.text()
    return json.loads(text) if text else None


# -- 1. a forged k ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "metadata",
    [
        {"round_id": 7, "k": 100_000_000, "channel": "DADA", "ts": "1.2"},
        {"round_id": 7, "k": 10**30, "channel": "DADA", "ts": "1.2"},
        {"round_id": 7, "k": -1, "channel": "DADA", "ts": "1.2"},
        {"round_id": 10**30, "k": 3, "channel": "DADA", "ts": "1.2"},
        {"round_id": 7, "k": "3", "channel": "DADA", "ts": "1.2"},
        {"round_id": 7, "k": 3.5, "channel": "DADA", "ts": "1.2"},
    ],
)
@pytest.mark.usefixtures("heap_frozen_as_serve_does")
async def test_a_forged_k_or_round_in_the_poll_modal_is_refused_at_once(
    slack: Server, slack_core: FakeCore, metadata: dict[str, Any]
) -> None:
    payload = _poll_submission(json.dumps(metadata))
    started = time.process_time()
    response = await asyncio.wait_for(slack.interact(payload), timeout=5)
    assert time.process_time() - started < 1.0
    assert response.status == 200
    ack = await _json_of(response)
    assert ack["response_action"] == "update"
    assert "out of date" in json.dumps(ack)
    assert slack_core.answer_calls == []


# -- 2. replays ------------------------------------------------------------------------------


async def test_a_replayed_slash_command_is_acknowledged_and_dropped(
    slack: Server, slack_core: FakeCore, fake_slack: FakeSlackApi
) -> None:
    body = payloads.slash_command(response_url=fake_slack.response_url("r"), text="poll now")
    headers = payloads.signed_headers(body)
    first = await slack.post(body, headers)
    replay = await slack.post(body, headers)
    assert (first.status, replay.status) == (200, 200)
    await slack.adapter.idle()
    assert len(slack_core.commands) == 1
    assert len(fake_slack.responses["r"]) == 1


async def test_copies_sent_at_once_run_once(
    slack: Server, slack_core: FakeCore, fake_slack: FakeSlackApi
) -> None:
    """Copies arriving together land in one batch of claims: only the first goes on."""
    body = payloads.slash_command(response_url=fake_slack.response_url("r"), text="poll now")
    headers = payloads.signed_headers(body)
    sent = await asyncio.gather(*(slack.post(body, headers) for _ in range(8)))
    assert [r.status for r in sent] == [200] * 8
    await slack.adapter.idle()
    assert len(slack_core.commands) == 1


async def test_a_replayed_view_submission_cannot_undo_a_later_answer(
    slack: Server, slack_core: FakeCore
) -> None:
    metadata = '{"round_id":7,"k":3,"channel":"DADA","ts":"1.2"}'
    old = payloads.interaction(_poll_submission(metadata))
    old_headers = payloads.signed_headers(old)
    assert (await slack.post(old, old_headers)).status == 200
    new = _poll_submission(metadata, payloads.picks("support", "speed", "price"))
    new["view"]["id"] = "V0LATER"
    assert (await slack.interact(new)).status == 200
    assert (await slack.post(old, old_headers)).status == 200  # the replay
    await slack.adapter.idle()
    assert [a.ranking[0] for a in slack_core.answer_calls] == ["price", "support"]


@pytest.fixture
async def two_replicas(
    fake_slack: FakeSlackApi, database_url: str, tmp_path: Path
) -> AsyncIterator[tuple[Server, Server, FakeCore]]:
    """Two Slack adapters (two replicas) sharing one database for their records."""
    settings = CoreSettings(database_url=database_url)
    app = await build_app(settings, chart_dir=tmp_path, with_chat_adapters=False)
    core = FakeCore()
    try:
        first = SlackAdapter(settings=settings_for(fake_slack), core=core, records=app.store)
        second = SlackAdapter(settings=settings_for(fake_slack), core=core, records=app.store)
        async for one in serve(first, MemoryRecords()):
            async for other in serve(second, MemoryRecords()):
                yield one, other, core
    finally:
        await app.close()


async def test_a_replay_sent_to_another_replica_is_dropped_too(
    two_replicas: tuple[Server, Server, FakeCore], fake_slack: FakeSlackApi
) -> None:
    one, other, core = two_replicas
    body = payloads.slash_command(response_url=fake_slack.response_url("r"), text="poll now")
    headers = payloads.signed_headers(body)
    assert (await one.post(body, headers)).status == 200
    assert (await other.post(body, headers)).status == 200
    await one.adapter.idle()
    await other.adapter.idle()
    assert len(core.commands) == 1


# -- 3. names in Slack text ------------------------------------------------------------------


async def test_names_in_command_replies_and_report_text_notify_nobody(
    slack: Server, slack_core: FakeCore, fake_slack: FakeSlackApi
) -> None:
    report = replace(full_report(), title=f"Report for team {HOSTILE}", notes=(HOSTILE,))
    slack_core.command_result = CommandResult(
        text=f"Report for team {HOSTILE}", in_channel=True, report=report
    )
    body = payloads.slash_command(response_url=fake_slack.response_url("rep"), text="report")
    assert (await slack.signed(body)).status == 200
    # A channel report is one post (#13): the blocks with a plain fallback, no response_url text.
    (posted,) = await fake_slack.wait_for("chat.postMessage")
    assert unescaped_markup(posted.params) == []
    assert "&lt;!channel&gt;" in posted.params["text"]  # the notification fallback
    assert all(unescaped_markup(reply) == [] for reply in fake_slack.responses.get("rep", []))

    slack_core.command_result = CommandResult(text=f"Added '{HOSTILE}'.")
    body = payloads.slash_command(
        response_url=fake_slack.response_url("add"), text="x", trigger_id="t-add"
    )
    assert (await slack.signed(body)).status == 200
    (confirmation,) = await fake_slack.wait_for_response("add")
    assert unescaped_markup(confirmation) == []


async def test_direct_messages_and_ephemeral_notes_are_escaped(
    slack: Server, fake_slack: FakeSlackApi
) -> None:
    port = slack.adapter.port
    user = UserRef(workspace(payloads.TEAM), "UADA")
    dm = await port.open_dm(user)
    await port.post_text(dm, f"Thanks! Your answer is recorded: {HOSTILE}.")
    await port.post_ephemeral(dm, user, f"Removed '{HOSTILE}'.")
    for call in fake_slack.calls_to("chat.postMessage") + fake_slack.calls_to("chat.postEphemeral"):
        assert unescaped_markup(call.params) == [], call.params


# -- 5. research files -----------------------------------------------------------------------


@pytest.fixture
async def elsewhere() -> AsyncIterator[tuple[str, list[dict[str, str]]]]:
    """A server that is not Slack: it records every request and the headers it came with."""
    hits: list[dict[str, str]] = []

    async def anything(request: web.Request) -> web.Response:
        hits.append(dict(request.headers))
        return web.Response(text="attribute,rank\nprice,1\n")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", anything)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/secret", hits
    await runner.cleanup()


def _research(url: str, user: str) -> dict[str, Any]:
    file = {"id": "F1", "name": "r.csv", "url_private": url, "url_private_download": url}
    payload = payloads.view_submission(
        callback_id=render.CALLBACK_RESEARCH,
        values=payloads.research_values(file=file),
        user=user,
    )
    return payload


async def test_a_non_admin_research_file_is_never_fetched(
    slack: Server, slack_core: FakeCore, elsewhere: tuple[str, list[dict[str, str]]]
) -> None:
    url, hits = elsewhere
    response = await slack.interact(_research(url, "UBOB"))
    ack = await _json_of(response)
    assert ack["response_action"] == "errors"
    assert "Only admins" in ack["errors"][render.RESEARCH_FILE]
    assert hits == []
    assert slack_core.research == []


async def test_an_admin_cannot_point_the_bot_token_at_another_host(
    slack: Server, slack_core: FakeCore, elsewhere: tuple[str, list[dict[str, str]]]
) -> None:
    url, hits = elsewhere
    response = await slack.interact(_research(url, "UADA"))
    ack = await _json_of(response)
    assert ack["response_action"] == "errors"
    assert "not one of this Slack workspace's files" in ack["errors"][render.RESEARCH_FILE]
    assert hits == []
    assert slack_core.research == []


async def test_a_research_file_over_the_size_cap_is_refused(
    slack: Server, slack_core: FakeCore, fake_slack: FakeSlackApi
) -> None:
    url = fake_slack.share_file("FBIG", b"a," * (MAX_RESEARCH_BYTES // 2 + 1))
    ack = await _json_of(await slack.interact(_research(url, "UADA")))
    assert "larger than" in ack["errors"][render.RESEARCH_FILE]
    assert slack_core.research == []


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://files.slack.com/files-pri/T0001-F1/download/r.csv", True),
        ("https://files.slack.com/files-pri/T0002-F1/download/r.csv", False),
        ("http://files.slack.com/files-pri/T0001-F1/download/r.csv", False),
        ("https://files.slack.com:8443/files-pri/T0001-F1/r.csv", False),
        ("https://files.slack.com.evil.example/files-pri/T0001-F1/r.csv", False),
        ("https://evil.example/files-pri/T0001-F1/r.csv", False),
        ("https://user@files.slack.com@evil.example/files-pri/T0001-F1/", False),
        ("http://127.0.0.1:8080/x", False),
        ("http://[::1", False),
        ("https://slack.com/api/files.info", True),  # the Web API origin itself
    ],
)
def test_only_the_workspaces_own_slack_files_are_fetched(url: str, allowed: bool) -> None:
    assert is_workspace_file(url, team_id="T0001", api_url="https://slack.com/api/") is allowed


# -- 6. malformed signed payloads ------------------------------------------------------------


def _without_view_type() -> dict[str, Any]:
    payload = _poll_submission('{"round_id":7,"k":3,"channel":"DADA","ts":"1.2"}')
    del payload["view"]["type"]
    return payload


def _values(values: Any) -> dict[str, Any]:
    return _poll_submission('{"round_id":7,"k":3,"channel":"DADA","ts":"1.2"}', values)


FULL = payloads.picks("price", "speed", "support")
# payload, the status, how many answers reach the core
MALFORMED = {
    "view_submission without view.type": (_without_view_type(), 400, 0),
    "rank_1 given as a string": (_values({"rank_1": "price"}), 200, 0),
    "selected_option given as a string": (
        _values({"rank_1": {"choice": {"selected_option": "price"}}}),
        200,
        0,
    ),
    "state.values entries as lists": (_values({"rank_1": [1, 2]}), 200, 0),
    "team given as a string": ({**_values(FULL), "team": "T0001"}, 200, 1),
    "user.name given as a number": (
        {**_values(FULL), "user": {"id": "U1", "name": 5, "team_id": "T0001"}},
        200,
        1,
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
async def test_malformed_signed_payloads_are_400_or_handled_never_500(
    slack: Server, slack_core: FakeCore, case: str
) -> None:
    payload, status, answers = MALFORMED[case]
    response = await slack.interact(payload)
    assert response.status == status, await response.text()
    await slack.adapter.idle()
    assert len(slack_core.answer_calls) == answers


INTERACTION_TYPES = [
    "view_closed",
    "block_suggestion",
    "interactive_message",
    "dialog_submission",
    "dialog_cancellation",
    "dialog_suggestion",
    "workflow_step_edit",
    "message_action",
    "shortcut",
]


@pytest.mark.parametrize("kind", INTERACTION_TYPES)
async def test_every_documented_interaction_type_is_acknowledged(
    slack: Server, slack_core: FakeCore, kind: str
) -> None:
    payload = payloads.block_actions(action_id="x", value="y")
    payload.update(
        type=kind,
        callback_id="cb",
        view={
            "id": "V1",
            "type": "modal",
            "callback_id": render.CALLBACK_POLL,
            "state": {"values": {}},
        },
    )
    response = await slack.interact(payload)
    assert response.status == 200, (kind, await response.text())
    if kind == "block_suggestion":
        assert await _json_of(response) == {"options": []}
    assert slack_core.untouched
