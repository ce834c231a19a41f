"""Outbound operations against the fake Web API: rate limits, pagination, errors."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator

import pytest

from adapters.slack import render
from adapters.slack.client import SDK_CLIENT_LOGGER, SlackApi, make_client
from adapters.slack.port import SlackPort
from adapters.slack.render import poll_message
from bot.model.domain import (
    AudienceKind,
    AudienceSource,
    ConversationKind,
    ConversationRef,
    UserRef,
    WorkspaceRef,
)
from bot.model.ports import DeliveryError
from bot.model.views import PollState, PollView
from tests.fakes.slack_api import FakeSlackApi
from tests.slack.fake_core import sample_poll

WS = WorkspaceRef("slack", "T0001")
CHANNEL = ConversationRef(WS, "C0GENERAL", ConversationKind.CHANNEL)


async def _token(team_id: str) -> str:
    return "xoxb-test"


@pytest.fixture
def port(fake_slack: FakeSlackApi) -> SlackPort:
    return SlackPort(SlackApi(base_url=fake_slack.api_url, token_for=_token))


@pytest.mark.slow
async def test_429_storm_delivers_every_message_exactly_once(
    port: SlackPort, fake_slack: FakeSlackApi
) -> None:
    fake_slack.rate_limit("chat.postMessage", times=4, retry_after=1)
    started = time.monotonic()
    sent = await asyncio.gather(*(port.post_text(CHANNEL, f"note {n}") for n in range(6)))
    texts = sorted(c.params["text"] for c in fake_slack.calls_to("chat.postMessage"))
    assert texts == sorted(f"note {n}" for n in range(6))
    assert len({m.message_id for m in sent}) == 6
    assert len(fake_slack.refused) == 4
    assert time.monotonic() - started >= 1.0  # Retry-After was honoured


async def test_rate_limit_beyond_retries_is_retryable_delivery_error(
    port: SlackPort, fake_slack: FakeSlackApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("adapters.slack.client.RATE_LIMIT_RETRIES", 0)
    fake_slack.rate_limit("chat.postMessage", times=1, retry_after=30)
    with pytest.raises(DeliveryError) as caught:
        await port.post_text(CHANNEL, "hello")
    assert caught.value.retryable
    assert caught.value.retry_after == 30


async def test_api_error_is_permanent_delivery_error(
    port: SlackPort, fake_slack: FakeSlackApi
) -> None:
    fake_slack.fail("chat.postMessage", "not_in_channel")
    with pytest.raises(DeliveryError) as caught:
        await port.post_text(CHANNEL, "hello")
    assert not caught.value.retryable
    assert "not_in_channel" in str(caught.value)


async def test_connection_refused_is_retryable(fake_slack: FakeSlackApi) -> None:
    port = SlackPort(SlackApi(base_url="http://127.0.0.1:9/api/", token_for=_token))
    with pytest.raises(DeliveryError) as caught:
        await port.post_text(CHANNEL, "hello")
    assert caught.value.retryable


async def test_channel_members_all_pages_without_bots(
    port: SlackPort, fake_slack: FakeSlackApi
) -> None:
    fake_slack.add_user("UBOT", name="alignment", is_bot=True)
    fake_slack.add_user("UCAT", name="Cat")
    fake_slack.add_user("UDAN", name="Dan")
    fake_slack.channel_members["C0SALES"] = ["UADA", "UBOT", "UBOB", "UCAT", "USLACKBOT", "UDAN"]
    fake_slack.add_user("USLACKBOT", name="slackbot")
    members = await port.members(WS, AudienceSource(AudienceKind.CHANNEL, "C0SALES"))
    assert [m.user_id for m in members] == ["UADA", "UBOB", "UCAT", "UDAN"]
    pages = fake_slack.calls_to("conversations.members")
    assert len(pages) == 3
    assert [p.params.get("cursor") for p in pages] == [None, "2", "4"]


async def test_usergroup_and_everyone(port: SlackPort, fake_slack: FakeSlackApi) -> None:
    fake_slack.add_user("UBOT", is_bot=True)
    fake_slack.add_user("UOLD", deleted=True)
    fake_slack.usergroups["S0LEADS"] = ["UADA", "UBOT"]
    leads = await port.members(WS, AudienceSource(AudienceKind.USERGROUP, "S0LEADS"))
    assert [m.user_id for m in leads] == ["UADA"]
    everyone = await port.members(WS, AudienceSource(AudienceKind.EVERYONE))
    assert [m.user_id for m in everyone] == ["UADA", "UBOB"]
    with pytest.raises(DeliveryError):
        await port.members(WS, AudienceSource(AudienceKind.TEAM, "sales"))


async def test_lookup_user_and_ephemeral(port: SlackPort, fake_slack: FakeSlackApi) -> None:
    profile = await port.lookup_user(UserRef(WS, "UADA"))
    assert profile.display_name == "Ada"
    assert profile.is_platform_admin
    assert profile.time_zone == "Europe/Berlin"
    await port.post_ephemeral(CHANNEL, UserRef(WS, "UBOB"), "only for you")
    (call,) = fake_slack.calls_to("chat.postEphemeral")
    assert call.params["user"] == "UBOB"
    assert call.params["channel"] == "C0GENERAL"
    assert call.token == "xoxb-test"


async def test_a_restarted_port_finds_a_dm_poll_by_its_key(
    port: SlackPort, fake_slack: FakeSlackApi
) -> None:
    """The outbox's crash check: a fresh process knows the DM only by the user id, and must
    find the message an earlier process posted there (conversations.history needs the D… id)."""
    ada = UserRef(WS, "UADA")
    posted = await port.post_text(await port.open_dm(ada), "poll", key="poll:7:1")
    restarted = SlackPort(SlackApi(base_url=fake_slack.api_url, token_for=_token))
    dm = await restarted.open_dm(ada)
    assert dm.conversation_id == "UADA"
    assert await restarted.find_delivered(dm, "poll:7:1") == posted
    assert await restarted.find_delivered(dm, "poll:7:2") is None
    assert len(fake_slack.calls_to("conversations.open")) == 1  # then remembered
    (history, _) = fake_slack.calls_to("conversations.history")
    assert history.params["channel"] == "DADA"


async def test_a_poll_sent_to_many_is_rendered_as_each_view_requires(
    port: SlackPort, fake_slack: FakeSlackApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The port renders a view once for a run of sends of it (a fan-out), and a different
    view (an answered poll, a poll closed since) as its own."""
    rendered: list[PollView] = []

    def counting(poll: PollView, notice: str | None = None) -> tuple[str, list[render.Block]]:
        rendered.append(poll)
        return poll_message(poll, notice)

    monkeypatch.setattr(render, "poll_message", counting)
    shared = sample_poll()
    for user in ("U1", "U2"):
        await port.send_poll(ConversationRef(WS, user, ConversationKind.DM), shared)
    answered = sample_poll(PollState.ANSWERED, ("a2", "a1", "a3"))
    await port.send_poll(ConversationRef(WS, "U3", ConversationKind.DM), answered)
    await port.send_poll(ConversationRef(WS, "U4", ConversationKind.DM), sample_poll())
    posts = [c.params for c in fake_slack.calls_to("chat.postMessage")]
    assert [p["channel"] for p in posts] == ["U1", "U2", "U3", "U4"]
    assert len(rendered) == 3  # the shared view once, then each other view
    expected = [poll_message(v) for v in (shared, shared, answered, sample_poll())]
    assert [(p["text"], p["blocks"]) for p in posts] == [
        (text, blocks) for text, blocks in expected
    ]
    assert posts[0]["blocks"] != posts[2]["blocks"]  # the answered poll shows the answer


@pytest.fixture
def restore_sdk_logger() -> Iterator[None]:
    sdk = logging.getLogger(SDK_CLIENT_LOGGER)
    level, root_level = sdk.level, logging.getLogger().level
    yield
    sdk.setLevel(level)
    logging.getLogger().setLevel(root_level)


@pytest.mark.usefixtures("restore_sdk_logger")
@pytest.mark.parametrize("configured", [logging.INFO, logging.DEBUG])
def test_the_web_client_formats_debug_output_only_when_debug_is_on(configured: int) -> None:
    """slack_sdk builds each call's debug text (headers, the whole response) whenever its
    logger's *own* level is at or below DEBUG, and an unset level is 0: the client gets its
    logger's inherited level set on it, so at INFO nothing is built and at DEBUG all is."""
    logging.getLogger(SDK_CLIENT_LOGGER).setLevel(logging.NOTSET)
    logging.getLogger().setLevel(configured)
    client = make_client("http://127.0.0.1:9/api/")
    assert client.logger.level == configured
    assert (client.logger.level <= logging.DEBUG) is (configured == logging.DEBUG)
