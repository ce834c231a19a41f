"""Poll DM edits after answers: behind the acks, latest state only, never starved."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from adapters.slack.poll_refresh import PollRefresh, Traffic
from bot.model.domain import ConversationKind, ConversationRef, MessageRef, WorkspaceRef
from bot.model.ports import DeliveryError
from bot.model.views import PollOption, PollView

# Not a speed target: how long an edit that is due may take to show up.
LIVENESS_SECONDS = 10.0
WORKSPACE = WorkspaceRef("slack", "T0001")


def message(channel: str) -> MessageRef:
    return MessageRef(ConversationRef(WORKSPACE, channel, ConversationKind.DM), "1700000000.1")


def poll(*current: str) -> PollView:
    options = tuple(PollOption(v, v.title()) for v in ("price", "quality", "speed"))
    return PollView(1, "Top 2?", options, 2, datetime(2030, 1, 1, tzinfo=UTC), current=current)


class RecordingPort:
    def __init__(self) -> None:
        self.edits: list[tuple[str, tuple[str, ...]]] = []
        self.failing: set[str] = set()
        self.broken: set[str] = set()

    async def update_poll(
        self, message: MessageRef, poll: PollView, notice: str | None = None
    ) -> None:
        channel = message.conversation.conversation_id
        if channel in self.failing:
            raise DeliveryError("chat.update failed: message_not_found", retryable=False)
        if channel in self.broken:
            raise KeyError("blocks")  # a bug, not Slack's refusal
        self.edits.append((channel, poll.current))


def refresh_for(port: RecordingPort, traffic: Traffic, *, max_delay: float = 60) -> PollRefresh:
    return PollRefresh(port, traffic, max_delay=max_delay)  # type: ignore[arg-type]


async def test_edits_wait_while_requests_are_answered_and_keep_only_the_latest() -> None:
    port, traffic = RecordingPort(), Traffic()
    refresh = refresh_for(port, traffic)
    with traffic:
        refresh.put(message("D1"), poll("price", "speed"))
        refresh.put(message("D2"), poll("quality", "price"))
        refresh.put(message("D1"), poll("speed", "quality"))  # D1 changed before its edit
        await asyncio.sleep(0.3)
        assert port.edits == []  # still answering requests

    await asyncio.wait_for(refresh.idle(), LIVENESS_SECONDS)
    assert port.edits == [("D1", ("speed", "quality")), ("D2", ("quality", "price"))]


async def test_a_server_that_never_goes_quiet_still_sends_its_edits() -> None:
    port, traffic = RecordingPort(), Traffic()
    refresh = refresh_for(port, traffic, max_delay=0.2)
    with traffic:  # busy for the whole test
        refresh.put(message("D1"), poll("price", "speed"))
        await asyncio.wait_for(refresh.idle(), LIVENESS_SECONDS)
        assert port.edits == [("D1", ("price", "speed"))]


async def test_at_shutdown_edits_go_out_at_once_even_when_busy() -> None:
    port, traffic = RecordingPort(), Traffic()
    refresh = refresh_for(port, traffic)
    with traffic:
        refresh.put(message("D1"), poll("price", "speed"))
        await asyncio.sleep(0.2)  # the sender is waiting for quiet
        refresh.stop_waiting()
        await asyncio.wait_for(refresh.idle(), LIVENESS_SECONDS)
        assert port.edits == [("D1", ("price", "speed"))]


async def test_one_failed_edit_does_not_stop_the_others() -> None:
    port, traffic = RecordingPort(), Traffic()
    port.failing.add("D1")
    port.broken.add("D4")
    refresh = refresh_for(port, traffic)
    for channel in ("D1", "D2", "D3", "D4", "D5", "D6"):
        refresh.put(message(channel), poll("price", "speed"))

    await asyncio.wait_for(refresh.idle(), LIVENESS_SECONDS)
    assert [channel for channel, _ in port.edits] == ["D2", "D3", "D5", "D6"]
