"""Fixtures for the hardening tests: the Slack adapter and the Teams adapter (auth on) served
over real HTTP on 127.0.0.1, each with a recording fake core, as in tests/slack and tests/teams."""

from __future__ import annotations

import gc
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from botframework.connector.auth import MicrosoftAppCredentials
from sqlalchemy import Select, Table, func, select
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.slack import SlackAdapter
from adapters.teams import TeamsAdapter, TeamsSettings
from bot.model.defaults import DEFAULT_ATTRIBUTES
from bot.model.settings import CoreSettings
from bot.runtime.app import App, build_app
from bot.runtime.server import create_web_app
from storage.models import Base
from tests.core.conftest import world  # noqa: F401  (the real core + console, for these tests too)
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.records import MemoryRecords
from tests.fakes.slack_api import FakeSlackApi
from tests.hardening.health import HealthLog, watching_health
from tests.slack.conftest import Server, serve, settings_for
from tests.slack.fake_core import FakeCore as SlackFakeCore
from tests.teams.conftest import FakeCore as TeamsFakeCore
from tests.teams.conftest import Harness
from tests.teams.conftest import serve as serve_teams
from tests.teams.test_auth import APP_ID, _handler

TEAMS_PASSWORD = "teams-app-password-Zq9!"


@pytest.fixture
def heap_frozen_as_serve_does() -> Iterator[None]:
    """`alignment serve` collects and freezes its start-up heap (bot/runtime/cli.py), so a
    collection during a request never walks it. This test process instead holds the objects of
    every test that ran before, and a full collection over them, triggered by whichever
    allocation comes next, is not the request's work: freeze them as serve does, so a test's
    CPU bound measures the request and still counts every collection of what it allocates."""
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


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


@dataclass
class LiveServer:
    """Slack and Teams on the real core and database, behind the real /healthz."""

    url: str
    app: App
    slack: SlackAdapter
    teams: TeamsAdapter
    fake_slack: FakeSlackApi
    connector: FakeBotConnector
    session: aiohttp.ClientSession
    database_url: str
    health: HealthLog
    baseline: dict[str, int] = field(default_factory=dict)

    def assert_healthy(self) -> None:
        """/healthz, asked every 50 ms since the server started, always answered in time."""
        assert self.health.statuses <= {200}, self.health.answers[-20:]
        assert self.health.slowest < MAX_HEALTH_SECONDS, self.health.slowest

    async def row_counts(self) -> dict[str, int]:
        """Rows per table, leaving out what any authentic request may write: who was seen
        (workspaces, people, and the default attributes a new workspace starts with), which
        requests were taken (processed_events) and the adapters' own records (a Teams
        conversation reference)."""
        engine = create_async_engine(self.database_url)
        try:
            async with engine.connect() as connection:
                return {
                    table.name: int((await connection.execute(_count(table))).scalar_one())
                    for table in Base.metadata.sorted_tables
                    if table.name not in BOOKKEEPING
                }
        finally:
            await engine.dispose()


def _count(table: Table) -> Select[tuple[int]]:
    query = select(func.count()).select_from(table)
    if table.name == "attributes":
        defaults = [name for name, _ in DEFAULT_ATTRIBUTES]
        query = query.where(table.c.name.not_in(defaults))
    return query


# Wall-clock time on a shared CI machine: a loop blocked by one request shows as seconds.
MAX_HEALTH_SECONDS = 2.0
BOOKKEEPING = frozenset({"workspaces", "people", "processed_events", "platform_records"})


@pytest.fixture
async def live(
    tmp_path: Path,
    connector: FakeBotConnector,
    openid_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[LiveServer]:
    """The whole server as `alignment serve` builds it, on SQLite, nobody an admin.

    Inbound Teams requests are authenticated for real; for its replies the SDK would fetch
    a token from login.microsoftonline.com, which tests cannot reach: it gets one here."""
    monkeypatch.setattr(
        MicrosoftAppCredentials, "get_access_token", lambda self, force_refresh=False: "t"
    )
    fake = await FakeSlackApi().start()
    fake.add_user("UADA", name="Ada")  # a member, not an admin: the audit's attacker
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'live.db'}"
    app = await build_app(
        CoreSettings(database_url=database_url), chart_dir=tmp_path, with_chat_adapters=False
    )
    slack = SlackAdapter(settings=settings_for(fake), core=app.core, records=app.store)
    teams_settings = TeamsSettings(
        _env_file=None,  # type: ignore[call-arg]
        MicrosoftAppId=APP_ID,
        MicrosoftAppPassword=TEAMS_PASSWORD,
        TEAMS_OPENID_METADATA_URL=openid_url,
    )
    teams = TeamsAdapter(settings=teams_settings, core=app.core, records=app.store)
    for adapter in (slack, teams):
        app.core.register_port(adapter.port)
    web_app = create_web_app(health=app.store.ping, adapters=[slack, teams])
    runner = web.AppRunner(web_app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        async with aiohttp.ClientSession() as session, watching_health(url) as health:
            live = LiveServer(
                url, app, slack, teams, fake, connector, session, database_url, health
            )
            live.baseline = await live.row_counts()
            yield live
    finally:
        await slack.stop()
        await runner.cleanup()
        await app.close()
        await fake.stop()
