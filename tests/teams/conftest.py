"""Fixtures for the Teams adapter: a real aiohttp server for the bot, the fake connector as the
activities' serviceUrl, a recording fake core and in-memory PlatformRecords."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import jsonschema
import pytest
from aiohttp import web

from adapters.teams import TeamsAdapter, TeamsSettings
from bot.model.domain import UserRef
from bot.model.events import (
    AnswerOutcome,
    AnswerStatus,
    AnswerSubmitted,
    CommandInvoked,
    CommandResult,
    PersonSeen,
    ResearchSubmitted,
)
from bot.model.views import HomeView, PollOption, PollState, PollView
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.records import MemoryRecords
from tests.official_schemas import REQUIRED, is_available, official_schema

ROOT = Path(__file__).resolve().parents[2]
CARD_SCHEMA = "adaptive-card-1.5.schema.json"
TENANT = "tenant-1"
BOT_ID = "28:bot-app-id"
Json = dict[str, Any]


def card_validator() -> jsonschema.Validator:
    return jsonschema.Draft6Validator(official_schema(CARD_SCHEMA))


# --- fakes of the core's side ------------------------------------------------------------


def sample_poll(state: PollState = PollState.OPEN, current: tuple[str, ...] = ()) -> PollView:
    options = tuple(
        PollOption(value=v, label=label)
        for v, label in [
            ("price", "Low price"),
            ("speed", "Fast delivery"),
            ("support", "Friendly support"),
            ("quality", "Build quality"),
            ("range", "Wide range"),
        ]
    )
    return PollView(
        round_id=7,
        question="What do our customers value most?",
        options=options,
        k=3,
        deadline=datetime(2030, 5, 17, 16, 0, tzinfo=UTC),
        state=state,
        current=current,
    )


@dataclass
class FakeCore:
    commands: list[CommandInvoked] = field(default_factory=list)
    answers: list[AnswerSubmitted] = field(default_factory=list)
    research: list[ResearchSubmitted] = field(default_factory=list)
    seen: list[PersonSeen] = field(default_factory=list)
    poll: PollView | None = field(default_factory=sample_poll)
    command_result: CommandResult = field(default_factory=lambda: CommandResult(text="done"))
    research_result: CommandResult = field(
        default_factory=lambda: CommandResult(text="Imported 12 answers from 3 customers.")
    )

    @property
    def touched(self) -> bool:
        return bool(self.commands or self.answers or self.research or self.seen)

    async def handle_command(self, event: CommandInvoked) -> CommandResult:
        self.commands.append(event)
        return self.command_result

    async def submit_answer(self, event: AnswerSubmitted) -> AnswerOutcome:
        self.answers.append(event)
        assert self.poll is not None
        shown = replace(self.poll, state=PollState.ANSWERED, current=event.ranking)
        return AnswerOutcome(AnswerStatus.RECORDED, "Thanks, recorded.", poll=shown)

    async def submit_research(self, event: ResearchSubmitted) -> CommandResult:
        self.research.append(event)
        return self.research_result

    async def poll_for(self, user: UserRef, round_id: int) -> PollView | None:
        return self.poll if self.poll and self.poll.round_id == round_id else None

    async def home_for(self, user: UserRef) -> HomeView:
        return HomeView(
            user_name=user.display_name or "there",
            my_answers=(),
            is_manager=False,
            open_round_label="May 2030",
            open_round_deadline=datetime(2030, 5, 17, tzinfo=UTC),
        )

    async def person_seen(self, event: PersonSeen) -> None:
        self.seen.append(event)

    async def role_of(self, user: UserRef, *, is_platform_admin: bool = False) -> str:
        return "employee"


# --- activities shaped like the Bot Framework's ------------------------------------------

_ids = itertools.count(1)


def account(name: str, aad: str) -> Json:
    return {"id": f"29:{name.lower()}", "name": name, "aadObjectId": aad}


ALICE = account("Alice", "aad-alice")
BOB = account("Bob", "aad-bob")
BOT = {"id": BOT_ID, "name": "Alignment"}


def activity(
    service_url: str,
    type_: str,
    *,
    sender: Json = ALICE,
    channel: str | None = None,
    team: str | None = None,
    **extra: Any,
) -> Json:
    """A Teams activity; personal (1:1) unless ``channel`` is given."""
    conversation: Json
    if channel is None:
        conversation = {
            "id": f"a:dm-{sender['aadObjectId']}",
            "conversationType": "personal",
            "tenantId": TENANT,
        }
    else:
        conversation = {
            "id": channel,
            "conversationType": "channel",
            "isGroup": True,
            "tenantId": TENANT,
        }
    channel_data: Json = {"tenant": {"id": TENANT}}
    if team is not None:
        channel_data["team"] = {"id": team, "name": "Sales"}
        channel_data["channel"] = {"id": channel}
    return {
        "type": type_,
        "id": f"act-{next(_ids)}",
        "timestamp": datetime.now(UTC).isoformat(),
        "serviceUrl": service_url,
        "channelId": "msteams",
        "from": sender,
        "recipient": BOT,
        "conversation": conversation,
        "channelData": channel_data,
        "locale": "en-GB",
        **extra,
    }


def installed(service_url: str, **kw: Any) -> Json:
    return activity(service_url, "installationUpdate", action="add", **kw)


# --- the running bot ---------------------------------------------------------------------


@dataclass
class Harness:
    url: str
    connector: FakeBotConnector
    core: FakeCore
    records: MemoryRecords
    adapter: TeamsAdapter
    session: aiohttp.ClientSession

    async def post(
        self, body: Any, headers: Mapping[str, str] | None = None
    ) -> aiohttp.ClientResponse:
        data = body if isinstance(body, str | bytes) else json.dumps(body)
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        async with self.session.post(self.url, data=data, headers=all_headers) as response:
            await response.read()
            return response

    def activity(self, type_: str, **kw: Any) -> Json:
        return activity(self.connector.url, type_, **kw)


async def serve(adapter: TeamsAdapter) -> tuple[web.AppRunner, str]:
    app = web.Application()
    adapter.add_routes(app)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}/api/messages"


@pytest.fixture
async def connector() -> AsyncIterator[FakeBotConnector]:
    fake = FakeBotConnector()
    await fake.start()
    yield fake
    await fake.stop()
    # Every card the bot sent or updated must be a valid Adaptive Card 1.5. Without the official
    # schema the adapter's own assertions still count; the renderer tests report the skip.
    if REQUIRED or is_available(CARD_SCHEMA):
        validator = card_validator()
        for card in fake.cards():
            validator.validate(card)


@pytest.fixture
def records() -> MemoryRecords:
    return MemoryRecords()


@pytest.fixture
def core() -> FakeCore:
    return FakeCore()


@pytest.fixture
async def harness(
    connector: FakeBotConnector, core: FakeCore, records: MemoryRecords
) -> AsyncIterator[Harness]:
    settings = TeamsSettings(_env_file=None, enabled=True, max_retry_wait=5)
    adapter = TeamsAdapter(settings=settings, core=core, records=records)
    runner, url = await serve(adapter)
    async with aiohttp.ClientSession() as session:
        yield Harness(url, connector, core, records, adapter, session)
    await runner.cleanup()


def now_plus(seconds: int) -> int:
    return int((datetime.now(UTC) + timedelta(seconds=seconds)).timestamp())
