"""A full round through Slack with the real core on SQLite: research in, polls out, answers
in, close, report with chart, feedback DMs. Everything over HTTP against the fake Web API."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from adapters.slack import SlackAdapter
from bot.model.settings import CoreSettings
from bot.runtime.app import App, build_app
from tests.fakes.slack_api import FakeSlackApi
from tests.slack import payloads
from tests.slack.conftest import Server, serve, settings_for

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PEOPLE = [f"UP{i}" for i in range(6)]


@pytest.fixture
async def world(fake_slack: FakeSlackApi, tmp_path: Path) -> AsyncIterator[tuple[App, Server]]:
    settings = CoreSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'e2e.db'}",
        admins=("UADA",),
        min_group_size=3,
    )
    app = await build_app(
        settings, clock=lambda: datetime.now(UTC), chart_dir=tmp_path, with_chat_adapters=False
    )
    adapter = SlackAdapter(settings=settings_for(fake_slack), core=app.core, records=app.store)
    app.core.register_port(adapter.port)
    try:
        async for server in serve(adapter, app.store):  # type: ignore[arg-type]
            yield app, server
    finally:
        await app.close()


async def _command(server: Server, fake: FakeSlackApi, text: str, key: str) -> None:
    body = payloads.slash_command(
        response_url=fake.response_url(key), text=text, trigger_id=f"trigger-{key}"
    )
    assert (await server.signed(body)).status == 200


async def _reply(server: Server, fake: FakeSlackApi, text: str, key: str) -> dict[str, Any]:
    await _command(server, fake, text, key)
    return (await fake.wait_for_response(key, within=20))[0]


async def _submit(server: Server, payload: dict[str, Any]) -> dict[str, Any] | None:
    body = payloads.interaction(payload)
    async with server.session.post(
        server.url + "/slack/events", data=body, headers=payloads.signed_headers(body)
    ) as response:
        assert response.status == 200
        text = await response.text()
        return json.loads(text) if text else None


def _view(params: dict[str, Any]) -> dict[str, Any]:
    view = params["view"]
    return json.loads(view) if isinstance(view, str) else view


@pytest.mark.slow
async def test_full_round_through_slack(
    world: tuple[App, Server], fake_slack: FakeSlackApi
) -> None:
    app, server = world
    for n, user in enumerate(PEOPLE):
        fake_slack.add_user(user, name=f"Person {n}")
        home = payloads.app_home_opened(event_id=f"Ev0HOME{n}", user=user)
        assert (await server.signed(home, content_type="application/json")).status == 200
    await fake_slack.wait_for("views.publish", count=len(PEOPLE))

    # Research through the import modal.
    await _command(server, fake_slack, "research import", "imp")
    (opened,) = await fake_slack.wait_for("views.open")
    assert _view(opened.params)["callback_id"] == "research_import_submit"
    csv_text = (EXAMPLES / "research_top3.csv").read_text()
    imported = await _submit(
        server,
        payloads.view_submission(
            callback_id="research_import_submit",
            view_id="V0IMPORT",
            values=payloads.research_values(text=csv_text),
        ),
    )
    assert imported is not None
    assert imported["response_action"] == "update", imported

    # Open a round from #general: polls go out as DMs.
    reply = await _reply(server, fake_slack, "poll now", "open")
    assert "is open" in reply["text"], reply
    dms = {"D" + u.removeprefix("U") for u in PEOPLE}

    def polls_sent() -> list[Any]:
        posts = fake_slack.calls_to("chat.postMessage")
        return [p for p in posts if "poll_rank_open" in json.dumps(p.params.get("blocks"))]

    # The outbox delivers after the command's reply: wait for every DM, not a call count.
    for _ in range(200):
        if {p.response["channel"] for p in polls_sent() if p.response} >= dms:
            break
        await asyncio.sleep(0.1)
    polls = polls_sent()
    # Posted to each person's user id (no conversations.open), delivered to their DM.
    assert {p.response["channel"] for p in polls if p.response} >= dms
    assert fake_slack.calls_to("conversations.open") == []

    # Everyone answers through the modal.
    for n, user in enumerate(PEOPLE):
        dm = "D" + user.removeprefix("U")
        post = next(p for p in polls if p.response and p.response["channel"] == dm)
        ts = post.response["ts"]
        blocks = post.params["blocks"]
        value = next(b for b in blocks if b["type"] == "actions")["elements"][0]["value"]
        click = payloads.block_actions(
            action_id="poll_rank_open",
            value=value,
            channel=dm,
            message_ts=ts,
            user=user,
            trigger_id=f"t-{n}",
        )
        assert (await server.interact(click)).status == 200
        modal = _view((await fake_slack.wait_for("views.open", count=n + 2))[-1].params)
        options = [o["value"] for o in modal["blocks"][1]["element"]["options"]]
        pick = options[n % 3 : n % 3 + 3]
        answer = await _submit(
            server,
            payloads.view_submission(
                callback_id="poll_rank_submit",
                private_metadata=modal["private_metadata"],
                view_id=f"V0ANS{n}",
                user=user,
                values=payloads.picks(*pick),
            ),
        )
        assert answer is None, answer
        update = (await fake_slack.wait_for("chat.update", count=n + 1))[-1]
        assert update.params["channel"] == dm
        assert "Change my answer" in json.dumps(update.params["blocks"])

    # Close: the report goes to #general with the chart, everyone gets feedback.
    before = len(fake_slack.calls_to("chat.postMessage"))
    closed = await _reply(server, fake_slack, "poll close", "close")
    assert "closed" in closed["text"], closed
    await fake_slack.wait_for("files.completeUploadExternal", within=20)
    await app.core.idle()
    after = fake_slack.calls_to("chat.postMessage")[before:]
    report = [p for p in after if p.params["channel"] == "C0GENERAL"]
    assert report
    assert "Alignment score" in json.dumps(report[0].params["blocks"])
    assert any(u.startswith(b"\x89PNG") for u in fake_slack.uploads.values())
    feedback = {p.params["channel"] for p in after if p.params["channel"].startswith("D")}
    assert feedback >= {"D" + u.removeprefix("U") for u in PEOPLE}


async def test_a_non_admin_cannot_run_admin_commands(
    world: tuple[App, Server], fake_slack: FakeSlackApi
) -> None:
    _app, server = world
    fake_slack.add_user("UEMP", name="Employee")
    before = await _reply(server, fake_slack, "attributes list", "before")
    body = payloads.slash_command(
        response_url=fake_slack.response_url("deny"),
        text='attributes add "sustainability"',
        user="UEMP",
        trigger_id="trigger-deny",
    )
    assert (await server.signed(body)).status == 200
    (denied,) = await fake_slack.wait_for_response("deny", within=20)
    assert denied["text"].startswith("Only admins can use '/alignment attributes add'")
    after = await _reply(server, fake_slack, "attributes list", "after")
    assert after["text"] == before["text"]
    assert "sustainability" not in after["text"]


async def test_a_role_granted_to_a_user_group_applies_to_its_members(
    world: tuple[App, Server], fake_slack: FakeSlackApi
) -> None:
    _app, server = world
    fake_slack.add_user("UGRP", name="Group member")
    fake_slack.add_usergroup("S0LEADS", "leads", users=["UGRP"])
    granted = await _reply(server, fake_slack, "admins add <!subteam^S0LEADS|@leads>", "grant")
    assert "usergroup:S0LEADS is now admin" in granted["text"], granted
    body = payloads.slash_command(
        response_url=fake_slack.response_url("member"),
        text='attributes add "sustainability"',
        user="UGRP",
        trigger_id="trigger-member",
    )
    assert (await server.signed(body)).status == 200
    (reply,) = await fake_slack.wait_for_response("member", within=20)
    assert "Added 'sustainability'" in reply["text"], reply
