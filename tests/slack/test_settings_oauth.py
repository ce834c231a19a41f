"""Settings errors, the OAuth install over HTTP, and the installation store."""

from __future__ import annotations

import asyncio
import re
import urllib.parse
from pathlib import Path

import aiohttp
import pytest
from pydantic import ValidationError
from slack_sdk.oauth.installation_store import Installation

from adapters.slack import SlackAdapter, SlackSettings, SlackSettingsError
from adapters.slack.stores import RecordsInstallationStore, RecordsOAuthStateStore
from bot.model.domain import ConversationRef, WorkspaceRef
from tests.fakes.records import MemoryRecords
from tests.fakes.slack_api import FakeSlackApi
from tests.slack import payloads
from tests.slack.conftest import serve, settings_for
from tests.slack.fake_core import FakeCore


def test_settings_from_env_and_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SLACK_SIGNING_SECRET=from-dotenv\n")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-from-env")
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:1/api")
    settings = SlackSettings()
    assert settings.configured
    assert settings.SLACK_API_URL == "http://127.0.0.1:1/api/"
    assert settings.SLACK_SIGNING_SECRET is not None
    assert settings.SLACK_SIGNING_SECRET.get_secret_value() == "from-dotenv"
    assert "xoxb-from-env" not in repr(settings)  # secrets stay out of logs


def test_unconfigured_settings_name_what_is_missing() -> None:
    settings = SlackSettings(_env_file=None)  # type: ignore[call-arg]
    assert not settings.configured
    assert any("SLACK_BOT_TOKEN" in m for m in settings.missing)
    assert any("SLACK_SIGNING_SECRET" in m for m in settings.missing)
    with pytest.raises(SlackSettingsError, match="SLACK_BOT_TOKEN"):
        SlackAdapter(settings=settings, core=FakeCore(), records=MemoryRecords())


def test_wrong_token_kind_is_a_clear_error_without_the_value() -> None:
    with pytest.raises(ValidationError) as caught:
        SlackSettings(_env_file=None, SLACK_BOT_TOKEN="xoxp-user-token")  # type: ignore[call-arg]
    assert "SLACK_BOT_TOKEN must be a bot token" in str(caught.value)
    assert "xoxp-user-token" not in str(caught.value).split("input_value")[0]


def test_oauth_pair_is_required_together() -> None:
    with pytest.raises(ValidationError, match="SLACK_CLIENT_SECRET must be set together"):
        SlackSettings(_env_file=None, SLACK_CLIENT_ID="123.456")  # type: ignore[call-arg]


async def test_installation_store_round_trip() -> None:
    records = MemoryRecords()
    store = RecordsInstallationStore(records)
    installation = Installation(
        app_id="A1",
        team_id="T9",
        user_id="U1",
        bot_token="xoxb-9",
        bot_id="B9",
        bot_user_id="UB9",
        bot_scopes=["chat:write"],
    )
    await store.async_save(installation)
    bot = await store.async_find_bot(enterprise_id=None, team_id="T9")
    assert bot is not None
    assert bot.bot_token == "xoxb-9"
    found = await store.async_find_installation(enterprise_id=None, team_id="T9")
    assert found is not None
    assert found.user_id == "U1"
    await store.async_delete_all(enterprise_id=None, team_id="T9")
    assert await store.async_find_bot(enterprise_id=None, team_id="T9") is None
    assert records.rows == {}


async def test_oauth_state_is_single_use() -> None:
    states = RecordsOAuthStateStore(MemoryRecords())
    state = await states.async_issue()
    assert await states.async_consume(state)
    assert not await states.async_consume(state)


async def test_oauth_install_then_outbound_uses_installed_token(
    fake_slack: FakeSlackApi,
) -> None:
    fake_slack.tokens.add("xoxb-installed")
    fake_slack.oauth_access = {
        "ok": True,
        "app_id": "A0001",
        "access_token": "xoxb-installed",
        "token_type": "bot",
        "scope": "chat:write,commands",
        "bot_user_id": "UBOT",
        "team": {"id": "T0002", "name": "Other"},
        "enterprise": None,
        "is_enterprise_install": False,
        "authed_user": {"id": "UADA", "scope": "", "token_type": "user"},
    }
    records = MemoryRecords()
    settings = settings_for(
        fake_slack,
        SLACK_BOT_TOKEN=None,
        SLACK_CLIENT_ID="111.222",
        SLACK_CLIENT_SECRET="client-secret",
    )
    core = FakeCore()
    adapter = SlackAdapter(settings=settings, core=core, records=records)
    async for server in serve(adapter, records):
        async with server.session.get(
            server.url + "/slack/install", allow_redirects=False
        ) as install:
            assert install.status in (200, 302)
            page = await install.text() + install.headers.get("Location", "")
            cookie = install.headers["Set-Cookie"].split(";")[0]
        assert "scope=channels:history,channels:read,chat:write,commands," in page
        state = re.search(r"state=([\w\-]+)", page)
        assert state is not None
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                server.url + f"/slack/oauth_redirect?code=abc&state={state.group(1)}",
                headers={"Cookie": cookie},
                allow_redirects=False,
            ) as callback,
        ):
            assert callback.status == 200, await callback.text()
        assert fake_slack.calls_to("oauth.v2.access")
        other = ConversationRef(WorkspaceRef("slack", "T0002"), "C0OTHER")
        await adapter.port.post_text(other, "hello")
        assert fake_slack.calls_to("chat.postMessage")[-1].token == "xoxb-installed"
        # A signed event from the new workspace is authorised through the store.
        body = payloads.slash_command(
            response_url=fake_slack.response_url("o"), team="T0002", user="UADA"
        )
        assert (await server.signed(body)).status == 200
        await fake_slack.wait_for_response("o")
        assert core.commands[0].user.workspace.external_id == "T0002"


async def test_an_installed_workspace_is_authorized_with_one_auth_test_for_many_requests(
    fake_slack: FakeSlackApi,
) -> None:
    fake_slack.tokens.add("xoxb-installed")
    records = MemoryRecords()
    await RecordsInstallationStore(records).async_save(
        Installation(
            app_id="A0001",
            team_id="T0002",
            user_id="UADA",
            bot_token="xoxb-installed",
            bot_id="B0002",
            bot_user_id="UBOT",
        )
    )
    settings = settings_for(
        fake_slack, SLACK_BOT_TOKEN=None, SLACK_CLIENT_ID="111.222", SLACK_CLIENT_SECRET="secret"
    )
    adapter = SlackAdapter(settings=settings, core=FakeCore(), records=records)
    payload = payloads.block_actions(action_id="something_else", value="x")
    payload["team"]["id"] = payload["user"]["team_id"] = "T0002"
    async for server in serve(adapter, records):
        responses = await asyncio.gather(*(server.interact(payload) for _ in range(20)))
        assert [r.status for r in responses] == [200] * 20
        # Bolt's own authorization would have asked Slack once per request.
        (auth,) = fake_slack.calls_to("auth.test")
        assert auth.token == "xoxb-installed"


async def test_socket_mode_start_receives_commands_without_http(
    fake_slack: FakeSlackApi,
) -> None:
    records = MemoryRecords()
    core = FakeCore()
    settings = settings_for(fake_slack, SLACK_SIGNING_SECRET=None, SLACK_APP_TOKEN="xapp-test")
    adapter = SlackAdapter(settings=settings, core=core, records=records)
    async for server in serve(adapter, records):
        # Without a signing secret there is no public events endpoint to forge requests to.
        body = payloads.slash_command(response_url=fake_slack.response_url("x"))
        assert (await server.signed(body)).status == 404
        form = dict(item.split("=", 1) for item in body.decode().split("&"))
        command = {k: urllib.parse.unquote_plus(v) for k, v in form.items()}
        command["response_url"] = fake_slack.response_url("sock")
        await fake_slack.push(
            {
                "envelope_id": "env-1",
                "type": "slash_commands",
                "payload": command,
                "accepts_response_payload": True,
            }
        )
        await fake_slack.wait_for_response("sock")
        assert core.commands[0].text == ""
        assert fake_slack.socket_acks[0]["envelope_id"] == "env-1"
