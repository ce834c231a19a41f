"""Fixtures: the fake Slack API, a fake core, and the adapter served on 127.0.0.1:0."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from adapters.slack import SlackAdapter, SlackSettings
from tests.fakes.records import MemoryRecords
from tests.fakes.slack_api import FakeSlackApi
from tests.slack import payloads
from tests.slack.fake_core import FakeCore

SLACK_ENV = (
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_API_URL",
    "SLACK_CLIENT_ID",
    "SLACK_CLIENT_SECRET",
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    # Bolt and the settings both read the environment; tests must not see a developer's.
    for name in SLACK_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # and no stray .env


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlackApi]:
    fake = await FakeSlackApi().start()
    fake.add_user("UADA", name="Ada", is_admin=True)
    fake.add_user("UBOB", name="Bob")
    yield fake
    await fake.stop()


@pytest.fixture
def core() -> FakeCore:
    return FakeCore()


@dataclass
class Server:
    adapter: SlackAdapter
    url: str
    session: aiohttp.ClientSession
    records: MemoryRecords

    async def post(
        self, body: bytes, headers: dict[str, str], path: str = "/slack/events"
    ) -> aiohttp.ClientResponse:
        async with self.session.post(self.url + path, data=body, headers=headers) as response:
            await response.read()
            return response

    async def signed(
        self, body: bytes, *, content_type: str = payloads.FORM, extra: dict[str, str] | None = None
    ) -> aiohttp.ClientResponse:
        headers = payloads.signed_headers(body, content_type=content_type)
        return await self.post(body, {**headers, **(extra or {})})

    async def interact(self, payload: dict[str, Any]) -> aiohttp.ClientResponse:
        return await self.signed(payloads.interaction(payload))


async def serve(adapter: SlackAdapter, records: MemoryRecords) -> AsyncIterator[Server]:
    app = web.Application()
    adapter.add_routes(app)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    await adapter.start()
    async with aiohttp.ClientSession() as session:
        yield Server(adapter, f"http://127.0.0.1:{port}", session, records)
    await adapter.stop()
    await runner.cleanup()


def settings_for(fake: FakeSlackApi, **overrides: Any) -> SlackSettings:
    values: dict[str, Any] = {
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": payloads.SECRET,
        "SLACK_API_URL": fake.api_url,
        **overrides,
    }
    return SlackSettings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
async def server(fake_slack: FakeSlackApi, core: FakeCore) -> AsyncIterator[Server]:
    records = MemoryRecords()
    adapter = SlackAdapter(settings=settings_for(fake_slack), core=core, records=records)
    async for running in serve(adapter, records):
        yield running
