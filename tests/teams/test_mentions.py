"""People and channels named in a Teams command: `<at>` mentions (with the mention entities
Teams sends alongside the text) and plain names, resolved to the ids the bot stores."""

from __future__ import annotations

from typing import Any

import pytest

from bot.model.domain import WorkspaceRef
from bot.runtime.app import App
from tests.teams.conftest import BOT, TENANT, Harness, account, activity
from tests.teams.test_end_to_end import BOSS, CHANNEL, Clock, world

__all__ = ["world"]  # the real-core fixture, shared with the end-to-end test

CAROL = account("Carol", "aad-carol")
SAM1, SAM2 = account("Sam", "aad-sam-1"), account("Sam", "aad-sam-2")
SAM2["id"] = "29:sam-2"

World = tuple[Harness, App, Clock]


def mention(account: dict[str, Any]) -> dict[str, Any]:
    """A mention entity as Teams sends it: the <at> text and the account it stands for."""
    name = account["name"]
    return {
        "type": "mention",
        "text": f"<at>{name}</at>",
        "mentioned": {"id": account["id"], "name": name},
    }


async def install(h: Harness, *people: dict[str, Any]) -> None:
    for person in people:
        add = activity(h.connector.url, "installationUpdate", sender=person, action="add")
        assert (await h.post(add)).status == 200
    join = activity(h.connector.url, "conversationUpdate", channel=CHANNEL, team=CHANNEL, membersAdded=[BOT])  # fmt: skip
    join["channelData"]["channel"]["name"] = "Sales floor"
    assert (await h.post(join)).status == 200


async def command(h: Harness, text: str, *mentioned: dict[str, Any]) -> str:
    """Run a command in the channel, @mentioning the bot first; the private reply's text."""
    entities = [mention(BOT), *(mention(m) for m in mentioned)]
    h.connector.calls.clear()
    message = activity(
        h.connector.url,
        "message",
        sender=BOSS,
        channel=CHANNEL,
        team=CHANNEL,
        text=f"<at>{BOT['name']}</at> {text}",
        entities=entities,
    )
    assert (await h.post(message)).status == 200
    texts = [str(c.body["text"]) for c in h.connector.sent() if c.body and c.body.get("text")]
    assert len(texts) == 1, texts
    return texts[0]


async def grants(app: App) -> dict[str, str]:
    workspace = await app.core.workspace(WorkspaceRef("teams", TENANT))
    return {g.principal: g.role.value for g in await app.store.role_grants(workspace.id)}


@pytest.mark.parametrize("typed", ["<at>Carol</at>", "Carol", "@carol"])
async def test_admins_add_by_mention_or_plain_name(world: World, typed: str) -> None:
    h, app, _ = world
    await install(h, BOSS, CAROL)
    assert await command(h, f"admins add {typed} role:manager", CAROL) == (
        "aad-carol is now manager."
    )
    assert await grants(app) == {"aad-carol": "manager"}


async def test_teams_members_add_by_mention(world: World) -> None:
    h, _, _ = world
    await install(h, BOSS, CAROL)
    await command(h, 'teams add "Sales"')
    reply = await command(h, 'teams members "Sales" add <at>Carol</at>', CAROL)
    assert reply == "Team 'Sales' (1): Carol"


async def test_two_people_with_one_name_or_none_are_refused(world: World) -> None:
    h, app, _ = world
    await install(h, BOSS, SAM1, SAM2)
    assert await command(h, "admins add Sam") == (
        "2 people are called Sam (Sam, Sam): type @ and pick the person from Teams' list "
        "to choose one."
    )
    assert await command(h, "admins add Zed") == (
        "I do not know anyone called Zed: type @ and pick the person from Teams' list (they "
        "must be in a team where I am installed, or have chatted with me)."
    )
    # The mention carries the member id, so the right Sam is found.
    assert await command(h, "admins add <at>Sam</at>", SAM2) == "aad-sam-2 is now admin."
    assert await grants(app) == {"aad-sam-2": "admin"}


@pytest.mark.parametrize(
    "typed", [f"channel:{CHANNEL}", 'channel:"Sales floor"', "channel:#sales-floor"]
)
async def test_teams_add_with_a_channel_the_bot_is_in(world: World, typed: str) -> None:
    h, _, _ = world
    await install(h, BOSS)
    reply = await command(h, f'teams add "Floor" {typed}')
    if typed.endswith("sales-floor"):
        assert reply.startswith("I am not in a channel called sales-floor"), reply
    else:
        assert reply == f"Added team 'Floor'. Members come from channel:{CHANNEL} (#Sales floor)."


async def test_user_groups_do_not_exist_in_teams(world: World) -> None:
    h, _, _ = world
    await install(h, BOSS)
    reply = await command(h, 'teams add "Leads" usergroup:leads')
    assert reply.startswith("Teams has no user groups here"), reply


async def test_help_and_messages_use_teams_syntax(world: World) -> None:
    h, _, _ = world
    await install(h, BOSS)
    reply = await command(h, "help")
    assert reply.startswith("**alignment-bot")
    assert "- `alignment teams add" in reply
    assert "/alignment" not in reply
    assert "'alignment research import'" in await command(h, "research list")
