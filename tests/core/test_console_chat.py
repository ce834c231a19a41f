"""The console chat loop (`alignment chat`) as a person drives it, without a terminal."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import pytest

from adapters.console.port import LOCAL_WORKSPACE
from bot.model.domain import ConversationKind, ConversationRef
from bot.model.events import CommandInvoked, CommandResult
from bot.runtime.cli import chat_loop
from tests.core.conftest import World


def scripted(*lines: str) -> Callable[[], Awaitable[str | None]]:
    remaining = list(lines)

    async def read_line() -> str | None:
        return remaining.pop(0) if remaining else None

    return read_line


async def test_an_internal_fault_prints_one_line_with_a_request_id_and_the_chat_goes_on(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = world.app.core.handle_command

    async def faulty(event: CommandInvoked) -> CommandResult:
        if event.text == "boom":
            raise RuntimeError("the database went away")
        return await real(event)

    monkeypatch.setattr(world.app.core, "handle_command", faulty)
    shown: list[str] = []
    with caplog.at_level(logging.ERROR, logger="bot.chat"):
        await chat_loop(
            world.app,
            world.session("boss"),
            scripted("/alignment boom", "/alignment teams list"),
            shown.append,
        )

    fault = next(text for text in shown if "went wrong" in text)
    assert "\n" not in fault
    assert "Traceback" not in fault
    assert "RuntimeError" not in fault
    (record,) = caplog.records
    assert record.exc_info is not None
    request_id = record.getMessage().rsplit(" ", 1)[-1].rstrip(")")
    assert f"request id {request_id}," in fault
    assert any("No teams yet" in text for text in shown[shown.index(fault) :])


async def test_login_shows_the_newest_messages_not_the_whole_backlog(world: World) -> None:
    general = ConversationRef(LOCAL_WORKSPACE, "general", ConversationKind.CHANNEL)
    for n in range(6):
        await world.port.post_text(general, f"channel message {n}")
    shown: list[str] = []

    await chat_loop(world.app, world.session("emp"), scripted(), shown.append)

    (login,) = shown
    assert login.startswith("(3 earlier messages: type inbox to see them)")
    assert login.count("[#general]") == 3
    assert "channel message 5" in login
    assert "channel message 2" not in login
