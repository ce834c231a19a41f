"""Fixtures for the hardening tests: the Slack adapter and the Teams adapter (auth on) served
over real HTTP on 127.0.0.1, each with a recording fake core, as in tests/slack and tests/teams."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from http.server import ThreadingHTTPServer

import aiohttp
import pytest

from adapters.slack import SlackAdapter
from adapters.teams import TeamsAdapter, TeamsSettings
from tests.core.conftest import world  # noqa: F401  (the real core + console, for these tests too)
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.records import MemoryRecords
from tests.fakes.slack_api import FakeSlackApi
from tests.slack.conftest import Server, serve, settings_for
from tests.slack.fake_core import FakeCore as SlackFakeCore
from tests.teams.conftest import FakeCore as TeamsFakeCore
from tests.teams.conftest import Harness
from tests.teams.conftest import serve as serve_teams
from tests.teams.test_auth import APP_ID, _handler

TEAMS_PASSWORD = "teams-app-password-Zq9!"


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlackApi]:
    fake = await FakeSlackApi().start()
    fake.add_user("UADA", name="Ada", is_admin=True)
    fake.add_user("UBOB", name="Bob")
    yield fake
    await fake.stop()


@pytest.fixture
def slack_core() -> SlackFakeCore:
    return SlackFakeCore()


@pytest.fixture
async def slack(fake_slack: FakeSlackApi, slack_core: SlackFakeCore) -> AsyncIterator[Server]:
    """The real Slack adapter (bolt behind our checks) on an ephemeral port, fake core."""
    records = MemoryRecords()
    adapter = SlackAdapter(settings=settings_for(fake_slack), core=slack_core, records=records)
    async for running in serve(adapter, records):
        yield running


@pytest.fixture(scope="module")
def openid_url() -> Iterator[str]:
    """The Bot Framework's OpenID metadata and signing keys, served from a thread (the SDK
    fetches them with the synchronous `requests`)."""
    base: list[str] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(base))
    base.append(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield base[0] + "/openid"
    server.shutdown()


@pytest.fixture
async def connector() -> AsyncIterator[FakeBotConnector]:
    fake = FakeBotConnector()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def teams(connector: FakeBotConnector, openid_url: str) -> AsyncIterator[Harness]:
    """The real Teams adapter with authentication on (an app id is set)."""
    core, records = TeamsFakeCore(), MemoryRecords()
    settings = TeamsSettings(
        _env_file=None,  # type: ignore[call-arg]
        MicrosoftAppId=APP_ID,
        MicrosoftAppPassword=TEAMS_PASSWORD,
        TEAMS_OPENID_METADATA_URL=openid_url,
    )
    adapter = TeamsAdapter(settings=settings, core=core, records=records)
    runner, url = await serve_teams(adapter)
    async with aiohttp.ClientSession() as session:
        yield Harness(url, connector, core, records, adapter, session)
    await runner.cleanup()
