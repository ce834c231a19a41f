"""bot.rounds.background.Background: work after the answer is waited for and its failures logged."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.rounds.background import Background


async def test_idle_waits_for_all_work_and_failures_are_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    background = Background(logging.getLogger("test.background"), "work failed")
    done: list[str] = []

    async def later(name: str) -> None:
        await asyncio.sleep(0.01)
        done.append(name)

    async def spawning() -> None:
        background.spawn(later("spawned by work"))

    async def failing() -> None:
        raise RuntimeError("boom")

    background.spawn(later("first"))
    background.spawn(failing())
    background.spawn(spawning())
    with caplog.at_level(logging.ERROR, logger="test.background"):
        await asyncio.wait_for(background.idle(), 10)

    assert sorted(done) == ["first", "spawned by work"]
    (record,) = caplog.records
    assert record.getMessage() == "work failed"
    assert record.exc_info is not None
