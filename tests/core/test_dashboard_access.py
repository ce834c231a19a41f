"""Who the dashboard lets in, decided by the core on every request: the link's lifetime
setting, and a role that came from the platform (a Slack workspace admin) asked again."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from bot.model.dashboard import DashboardAccess
from bot.model.domain import UserRef, WorkspaceRef
from bot.model.events import CommandInvoked
from bot.model.ports import DeliveryError, UserProfile
from tests.core.conftest import EXAMPLES, World, make_world

LINK = re.compile(r"(https?://\S+/dashboard/open\?token=\S+)")


@pytest.fixture
async def short(database_url: str, tmp_path: Path) -> AsyncIterator[World]:
    async for world in make_world(database_url, tmp_path, dashboard_link_minutes=5):
        yield world


def _token(text: str) -> str:
    found = LINK.search(text)
    assert found is not None, text
    return parse_qs(urlsplit(found.group(1)).query)["token"][0]


async def test_the_link_lives_as_long_as_the_setting_says(short: World) -> None:
    out = await short.run("boss", "/alignment dashboard")
    assert "it works for 5 minutes" in out
    token = _token(out)
    short.clock.advance(timedelta(minutes=3))
    entry = await short.app.core.dashboard.enter(token)  # the session's 5 minutes start now
    assert entry.access is DashboardAccess.OK
    assert entry.max_age == 300
    short.clock.advance(timedelta(minutes=2))
    assert (await short.app.core.dashboard.enter(token)).access is DashboardAccess.EXPIRED
    assert (await short.app.core.dashboard.check(entry.session)).access is DashboardAccess.OK
    short.clock.advance(timedelta(minutes=3))
    assert (await short.app.core.dashboard.check(entry.session)).access is DashboardAccess.EXPIRED


class PlatformDirectory:
    """Only what the dashboard asks of a chat platform: is this person an admin there?"""

    platform = "chatapp"

    def __init__(self) -> None:
        self.admins: set[str] = set()
        self.down = False

    async def lookup_user(self, user: UserRef) -> UserProfile:
        if self.down:
            raise DeliveryError("platform unreachable", retryable=True)
        return UserProfile(user, user.user_id, is_platform_admin=user.user_id in self.admins)


async def test_a_platform_admins_access_is_asked_of_the_platform_again(world: World) -> None:
    directory = PlatformDirectory()
    directory.admins.add("U-owner")
    world.app.core.ports["chatapp"] = directory  # type: ignore[assignment]
    owner = UserRef(WorkspaceRef("chatapp", "T1"), "U-owner")
    result = await world.app.core.handle_command(
        CommandInvoked("e1", owner, "dashboard", user_is_platform_admin=True)
    )
    entry = await world.app.core.dashboard.enter(_token(result.text))
    assert entry.access is DashboardAccess.OK
    dashboard = world.app.core.dashboard
    assert (await dashboard.check(entry.session)).access is DashboardAccess.OK

    directory.down = True  # an unknown standing grants nothing
    assert (await dashboard.check(entry.session)).access is DashboardAccess.REVOKED
    directory.down = False
    directory.admins.clear()  # no longer a workspace admin on the platform
    assert (await dashboard.check(entry.session)).access is DashboardAccess.REVOKED


async def test_an_employee_gets_no_link_and_a_forged_session_nothing(world: World) -> None:
    out = await world.run("ann", "/alignment dashboard")
    assert "Only managers or admins" in out
    dashboard = world.app.core.dashboard
    assert (await dashboard.check(None)).access is DashboardAccess.SIGNED_OUT
    for forged in ("", "x", "a.b", "." * 700, "eyJ9.AAAA", "é.é", "a.\x00"):
        assert (await dashboard.enter(forged)).access is DashboardAccess.INVALID, forged


async def test_a_round_hidden_in_chat_is_hidden_on_every_page(world: World) -> None:
    """Three answers: chat says "too few answers"; so does each page, with no figure."""
    await world.run("boss", f"/alignment research import {EXAMPLES / 'research_top3.csv'}")
    for person in ("a", "b", "c"):
        await world.session(person).join()
    await world.run("boss", "/alignment poll now window:2h")
    await world.app.core.idle()
    for person in ("a", "b", "c"):
        assert "recorded" in await world.run(person, "answer 1 1 2 3")
    world.clock.advance(timedelta(hours=2))
    chat = await world.run("boss", "/alignment poll close")
    assert "Too few answers" in chat
    dashboard = world.app.core.dashboard
    entry = await dashboard.enter(_token(await world.run("boss", "/alignment dashboard")))
    viewer = (await dashboard.check(entry.session)).viewer
    assert viewer is not None
    [row] = (await dashboard.overview(viewer, "")).rows
    assert row.withheld == "Too few answers to show results."
    assert (row.respondents, row.invited, row.kendall_w, row.scores) == (None, None, None, ())
    heat = await dashboard.heatmap(viewer, None, "")
    assert heat.rows == ()
    assert heat.note == "This round shows no figures: too few answers."
    detail = await dashboard.round_page(viewer, 1, "", "")
    assert detail.report.figures is None
    assert detail.surprises == ()
