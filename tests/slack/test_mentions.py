"""Channels, people and groups named in `/alignment …`, as Slack sends them.

With `should_escape: true` (the manifest) a mention picked from Slack's menu arrives escaped:
`<#C…|name>`, `<@U…|name>`, `<!subteam^S…|@handle>`; what a person types without picking
arrives as typed: `#sales`, `@Carol`, `@leads`. Both must end up stored as checked ids, and a
name Slack does not know must be refused when it is typed, with nothing stored.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.slack import SlackAdapter
from bot.model.domain import WorkspaceRef
from bot.model.settings import CoreSettings
from bot.runtime.app import App, build_app
from tests.fakes.slack_api import FakeSlackApi
from tests.slack import payloads
from tests.slack.conftest import Server, serve, settings_for

SALES, GENERAL, PRIVATE = "C0SALES01", "C0GENERAL", "G0SECRET1"
CAROL, SAM1, SAM2 = "U0CAROL01", "U0SAMONE1", "U0SAMTWO1"
LEADS = "S0LEADS01"


@pytest.fixture
async def world(
    fake_slack: FakeSlackApi, database_url: str, tmp_path: Path
) -> AsyncIterator[tuple[App, Server]]:
    fake_slack.add_user(CAROL, name="Carol", real_name="Carol Jones")
    fake_slack.add_user(SAM1, name="sam", real_name="Sam Lee")
    fake_slack.add_user(SAM2, name="Sam", real_name="Samantha Ode")
    fake_slack.add_channel(SALES, "sales", members=[CAROL, SAM1])
    fake_slack.add_channel(GENERAL, "general", members=[CAROL])
    fake_slack.add_channel(PRIVATE, "secret-project", private=True)
    fake_slack.add_usergroup(LEADS, "leads", name="Team Leads", users=[CAROL])
    settings = CoreSettings(database_url=database_url, admins=("UADA",))
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


class Slash:
    def __init__(self, world: tuple[App, Server], fake: FakeSlackApi) -> None:
        self.app, self.server = world
        self.fake = fake
        self._count = 0

    async def __call__(self, text: str) -> str:
        self._count += 1
        key = f"r{self._count}"
        # Slack gives every invocation its own trigger_id; a repeated one is a replay (#12).
        body = payloads.slash_command(
            response_url=self.fake.response_url(key), text=text, trigger_id=f"trigger.{key}"
        )
        assert (await self.server.signed(body)).status == 200
        return str((await self.fake.wait_for_response(key, within=10))[0]["text"])

    async def ws(self) -> int:
        return (await self.app.core.workspace(WorkspaceRef("slack", payloads.TEAM))).id

    async def links(self) -> dict[str, str | None]:
        return {t.name: t.linked_source for t in await self.app.store.list_teams(await self.ws())}

    async def grants(self) -> dict[str, str]:
        return {
            g.principal: g.role.value for g in await self.app.store.role_grants(await self.ws())
        }

    async def schedules(self) -> list[tuple[str, tuple[str, ...]]]:
        found = await self.app.store.list_schedules(await self.ws())
        return [(s.audience, tuple(s.report_channels)) for s in found]


@pytest.fixture
def slash(world: tuple[App, Server], fake_slack: FakeSlackApi) -> Slash:
    return Slash(world, fake_slack)


# -- teams add channel: / usergroup: ------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "channel:#sales",
        f"channel:<#{SALES}|sales>",
        f"channel:<#{SALES}|>",
        "channel:sales",
        f"channel:{SALES}",
    ],
)
async def test_teams_add_with_a_channel_stores_its_id(slash: Slash, typed: str) -> None:
    reply = await slash(f'teams add "Sales" {typed}')
    assert reply == f"Added team 'Sales'. Members come from channel:{SALES} (#sales)."
    assert await slash.links() == {"Sales": f"channel:{SALES}"}


async def test_a_team_from_a_typed_channel_polls_that_channel(
    slash: Slash, fake_slack: FakeSlackApi
) -> None:
    await slash('teams add "Sales" channel:#sales')
    reply = await slash("poll now team:Sales")
    assert "on its way to 2 people" in reply, reply
    asked = fake_slack.calls_to("conversations.members")
    assert {c.params["channel"] for c in asked} == {SALES}


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("channel:#nope", "I cannot find a channel called #nope. Type # and pick the channel"),
        ("channel:<#C0GONE0001|gone>", "I cannot see channel C0GONE0001: it does not exist"),
        ("channel:@Carol", "'@Carol' is not a channel: name a channel"),
        ("usergroup:@nobody", "There is no user group @nobody in this workspace. Type @ and"),
        ("<!subteam^S0GONE001|@gone>", "There is no user group S0GONE001 in this workspace."),
    ],
)
async def test_teams_add_refuses_an_unknown_channel_or_group(
    slash: Slash, typed: str, problem: str
) -> None:
    reply = await slash(f'teams add "Sales" {typed}')
    assert reply.startswith(problem), reply
    assert await slash.links() == {}


@pytest.mark.parametrize(
    "typed",
    [
        "usergroup:@leads",
        "usergroup:leads",
        f"<!subteam^{LEADS}|@leads>",
        f"usergroup:<!subteam^{LEADS}>",
    ],
)
async def test_teams_add_with_a_user_group_stores_its_id(slash: Slash, typed: str) -> None:
    reply = await slash(f'teams add "Leads" {typed}')
    assert reply == f"Added team 'Leads'. Members come from usergroup:{LEADS} (@leads)."
    assert await slash.links() == {"Leads": f"usergroup:{LEADS}"}


async def test_private_channels_the_bot_is_in_are_found_by_name(slash: Slash) -> None:
    reply = await slash('teams add "Secret" channel:#secret-project')
    assert reply.endswith(f"channel:{PRIVATE} (#secret-project).")


async def test_channel_names_are_listed_once_and_reused(
    slash: Slash, fake_slack: FakeSlackApi
) -> None:
    await slash('teams add "A" channel:#sales')
    await slash('teams add "B" channel:#general')
    await slash('teams add "C" channel:#nope')
    # Three channels at two a page: two pages, read for the first name only.
    assert len(fake_slack.calls_to("conversations.list")) == 2


# -- teams members add / remove -----------------------------------------------------------


@pytest.mark.parametrize(
    "typed", ["@Carol", "@carol", '"@Carol Jones"', f"<@{CAROL}|carol>", f"<@{CAROL}>"]
)
async def test_teams_members_add_finds_the_person(slash: Slash, typed: str) -> None:
    await slash('teams add "Sales"')
    reply = await slash(f'teams members "Sales" add {typed}')
    assert reply == "Team 'Sales' (1): Carol"
    members = await slash.app.store.list_people(await slash.ws())
    assert [p.user_id for p in members if p.display_name == "Carol"] == [CAROL]
    assert await slash(f'teams members "Sales" remove {typed}') == "Team 'Sales' (0): nobody yet"


async def test_teams_members_several_or_no_matches_say_how_to_pick(slash: Slash) -> None:
    await slash('teams add "Sales"')
    before = {p.user_id for p in await slash.app.store.list_people(await slash.ws())}
    reply = await slash('teams members "Sales" add @Sam')
    assert reply == (
        "2 people are called @Sam (Sam / Samantha Ode, sam / Sam Lee): type @ and pick the "
        "person from Slack's mention menu to choose one."
    )
    reply = await slash('teams members "Sales" add @Zed')
    assert reply == (
        "No one in this workspace is called @Zed: type @ and pick the person from Slack's "
        "mention menu."
    )
    reply = await slash('teams members "Sales" add <@U0GONE001|zed>')
    assert reply == "There is no active person with the id U0GONE001 in this workspace."
    # Nothing stored: no person whose id is a typed name.
    after = {p.user_id for p in await slash.app.store.list_people(await slash.ws())}
    assert after == before
    assert await slash('teams members "Sales"') == "Team 'Sales' (0): nobody yet"


# -- schedule add report: / audience: -----------------------------------------------------


@pytest.mark.parametrize(
    ("options", "stored"),
    [
        ("report:#general", ("everyone", (GENERAL,))),
        (f"report:<#{GENERAL}|general>,#sales", ("everyone", (GENERAL, SALES))),
        ("audience:#sales", (f"channel:{SALES}", ())),
        (f"audience:channel:<#{SALES}|sales>", (f"channel:{SALES}", ())),
        ("audience:usergroup:@leads", (f"usergroup:{LEADS}", ())),
        (f"audience:<!subteam^{LEADS}|@leads>", (f"usergroup:{LEADS}", ())),
    ],
)
async def test_schedule_add_stores_channel_and_group_ids(
    slash: Slash, options: str, stored: tuple[str, tuple[str, ...]]
) -> None:
    reply = await slash(f"schedule add every monday 09:00 {options}")
    assert reply.startswith("Schedule #1 added"), reply
    assert await slash.schedules() == [stored]


@pytest.mark.parametrize(
    "options", ["report:#nope", "report:#general,#nope", "audience:#nope", "audience:@nobody"]
)
async def test_schedule_add_refuses_unknown_channels_now(slash: Slash, options: str) -> None:
    reply = await slash(f"schedule add every monday 09:00 {options}")
    assert reply.startswith(("I cannot find a channel called #nope", "There is no user group")), (
        reply
    )
    assert await slash.schedules() == []


# -- admins add / remove ------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["@Carol", f"<@{CAROL}|carol>"])
async def test_admins_add_and_remove_a_person(slash: Slash, typed: str) -> None:
    assert await slash(f"admins add {typed} role:manager") == f"{CAROL} is now manager."
    assert await slash.grants() == {CAROL: "manager"}
    assert await slash(f"admins remove {typed}") == f"{CAROL} has no role now."
    assert await slash.grants() == {}


@pytest.mark.parametrize("typed", ["@leads", f"<!subteam^{LEADS}|@leads>", "usergroup:leads"])
async def test_admins_add_a_user_group(slash: Slash, typed: str) -> None:
    assert await slash(f"admins add {typed}") == f"usergroup:{LEADS} is now admin."
    assert await slash.grants() == {f"usergroup:{LEADS}": "admin"}


async def test_admins_add_an_unknown_name_is_refused(slash: Slash) -> None:
    reply = await slash("admins add @Zed")
    assert reply.startswith("No one in this workspace is called @Zed"), reply
    reply = await slash("admins add Zed")
    assert reply.startswith("No one in this workspace is called @Zed"), reply
    assert await slash.grants() == {}


async def test_typed_ampersands_and_angle_brackets_arrive_unescaped(slash: Slash) -> None:
    # Slack sends what the person typed as HTML entities: "R&D <core>".
    reply = await slash('attributes add "R&amp;D &lt;core&gt;"')
    # Stored as typed; the reply escapes it again for mrkdwn, so Slack shows "R&D <core>".
    assert reply == "Added 'R&amp;D &lt;core&gt;'."
    attributes = await slash.app.store.list_attributes(await slash.ws())
    assert "R&D <core>" in [a.name for a in attributes]


async def test_a_role_of_someone_who_left_can_still_be_removed(
    slash: Slash, fake_slack: FakeSlackApi
) -> None:
    assert await slash(f"admins add <@{CAROL}|carol>") == f"{CAROL} is now admin."
    fake_slack.users[CAROL]["deleted"] = True  # Carol left the workspace
    assert await slash(f"admins remove <@{CAROL}|carol>") == f"{CAROL} has no role now."
    assert await slash.grants() == {}
