"""A full round through Teams with the real core on SQLite: installs, research pasted into the
import card, poll cards out, card submissions in, close, report card in the channel and
personal feedback in each 1:1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from adapters.teams import TeamsAdapter, TeamsSettings
from bot.model.domain import WorkspaceRef
from bot.model.settings import CoreSettings
from bot.runtime.app import App, build_app
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.records import MemoryRecords
from tests.teams.conftest import BOT, ROOT, TENANT, Harness, account, activity, serve

CHANNEL = "19:general@thread.tacv2"
BOSS = account("Boss", "aad-boss")
PEOPLE = [account(f"P{i}", f"aad-p{i}") for i in range(7)]


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def world(
    database_url: str, tmp_path: Path, connector: FakeBotConnector
) -> AsyncIterator[tuple[Harness, App, Clock]]:
    clock = Clock()
    settings = CoreSettings(database_url=database_url, admins=("aad-boss",))
    app = await build_app(settings, clock=clock, chart_dir=tmp_path, with_chat_adapters=False)
    teams = TeamsSettings(_env_file=None, enabled=True)
    adapter = TeamsAdapter(settings=teams, core=app.core, records=app.store)
    app.core.register_port(adapter.port)
    runner, url = await serve(adapter)
    try:
        async with aiohttp.ClientSession() as session:
            core: Any = app.core  # the real core stands where the fake usually does
            records: Any = MemoryRecords()  # unused: the adapter writes to app.store
            yield Harness(url, connector, core, records, adapter, session), app, clock
    finally:
        await runner.cleanup()
        await app.close()


async def say(h: Harness, sender: dict[str, Any], text: str, **kw: Any) -> None:
    response = await h.post(activity(h.connector.url, "message", sender=sender, text=text, **kw))
    assert response.status == 200


async def test_full_round_through_teams(world: tuple[Harness, App, Clock]) -> None:
    h, app, clock = world
    url = h.connector.url
    for person in [BOSS, *PEOPLE]:
        add = activity(url, "installationUpdate", sender=person, action="add")
        assert (await h.post(add)).status == 200
    join = activity(url, "conversationUpdate", channel=CHANNEL, team=CHANNEL, membersAdded=[BOT])
    assert (await h.post(join)).status == 200

    # Research pasted into the import card.
    csv = (ROOT / "examples" / "research_top3.csv").read_text()
    value = {"action": "research", "research_csv": csv}
    research = activity(url, "message", sender=BOSS, value=value, replyToId="import-card")
    assert (await h.post(research)).status == 200
    assert "Imported 2 studies" in str(h.connector.updates()[-1].body)

    # A round opened from the channel reports back to it.
    h.connector.calls.clear()
    await say(h, BOSS, "<at>Alignment</at> poll now", channel=CHANNEL, team=CHANNEL)
    await app.core.idle()
    polls = {
        call.conversation_id: call
        for call in h.connector.sent()
        if call.body and call.body.get("attachments") and call.conversation_id.startswith("a:dm")
    }
    assert len(polls) == 8

    for i, person in enumerate([BOSS, *PEOPLE]):
        call = polls[f"a:dm-{person['aadObjectId']}"]
        card = call.body["attachments"][0]["content"]  # type: ignore[index]
        data = card["actions"][0]["data"]
        choices = [c["value"] for c in card["body"][2]["choices"]]
        picks = [choices[i % 3], choices[3], choices[4]]
        value = {**data, **{f"rank_{r}": p for r, p in enumerate(picks, 1)}}
        submit = activity(url, "message", sender=person, value=value, replyToId=call.response_id)
        assert (await h.post(submit)).status == 200
    answered = [u for u in h.connector.updates() if "Change my answer" in str(u.body)]
    assert len(answered) == 8

    clock.now += timedelta(hours=1)
    h.connector.calls.clear()
    await say(h, BOSS, "<at>Alignment</at> poll close", channel=CHANNEL, team=CHANNEL)
    await app.core.idle()

    in_channel = [c for c in h.connector.sent() if c.conversation_id == CHANNEL]
    report_cards = [
        a["content"]
        for c in in_channel
        for a in (c.body or {}).get("attachments", [])
        if a["contentType"] == "application/vnd.microsoft.card.adaptive"
    ]
    assert report_cards, [c.body for c in h.connector.sent()]
    assert "Alignment score" in str(report_cards[0])
    feedback = [
        c
        for c in h.connector.sent()
        if c.conversation_id.startswith("a:dm") and (c.body or {}).get("text")
    ]
    assert len({c.conversation_id for c in feedback}) >= 7


async def test_a_non_admin_cannot_run_admin_commands(world: tuple[Harness, App, Clock]) -> None:
    h, app, _clock = world
    url = h.connector.url
    person = PEOPLE[0]
    assert (
        await h.post(activity(url, "installationUpdate", sender=person, action="add"))
    ).status == 200
    h.connector.calls.clear()
    await say(h, person, 'alignment attributes add "sustainability"')
    replies = " ".join(str(c.body) for c in h.connector.sent())
    # In Teams syntax (issue #13): no slash, as a Teams user types it.
    assert "Only admins can use 'alignment attributes add'" in replies
    workspace = await app.core.workspace(WorkspaceRef("teams", TENANT))
    names = [a.name for a in await app.store.list_attributes(workspace.id)]
    assert "sustainability" not in names
    assert len(names) == 8
