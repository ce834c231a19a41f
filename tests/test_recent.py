"""bot.rounds.recent.Recent: concurrent misses share one read; failures and misses are not kept."""

from __future__ import annotations

import asyncio

import pytest

from bot.rounds.recent import Recent


class Source:
    def __init__(self) -> None:
        self.reads = 0
        self.release = asyncio.Event()
        self.fail = False

    async def read(self) -> str:
        self.reads += 1
        await self.release.wait()
        if self.fail:
            raise RuntimeError("store down")
        return f"value {self.reads}"


async def test_concurrent_misses_share_one_read() -> None:
    recent: Recent[str, str] = Recent(ttl=5)
    source = Source()
    waiting = [asyncio.ensure_future(recent.get("k", source.read)) for _ in range(50)]
    await asyncio.sleep(0)
    source.release.set()

    assert await asyncio.gather(*waiting) == ["value 1"] * 50
    assert source.reads == 1


async def test_a_failed_read_reaches_every_waiter_and_is_not_kept() -> None:
    recent: Recent[str, str] = Recent(ttl=5)
    source = Source()
    source.fail = True
    waiting = [asyncio.ensure_future(recent.get("k", source.read)) for _ in range(3)]
    await asyncio.sleep(0)
    source.release.set()

    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    source.fail = False
    assert await recent.get("k", source.read) == "value 2"


async def test_a_caller_giving_up_does_not_cancel_the_others_read() -> None:
    recent: Recent[str, str] = Recent(ttl=5)
    source = Source()
    impatient = asyncio.ensure_future(recent.get("k", source.read))
    patient = asyncio.ensure_future(recent.get("k", source.read))
    await asyncio.sleep(0)
    impatient.cancel()
    source.release.set()

    assert await patient == "value 1"
    with pytest.raises(asyncio.CancelledError):
        await impatient


async def test_values_expire_and_unkept_ones_are_read_again() -> None:
    now = [0.0]
    recent: Recent[str, str | None] = Recent(
        ttl=5, keep=lambda value: value is not None, clock=lambda: now[0]
    )
    reads: list[str] = []

    async def read_value() -> str | None:
        reads.append("value")
        return "value"

    async def read_nothing() -> str | None:
        reads.append("nothing")
        return None

    assert await recent.get("a", read_value) == "value"
    now[0] = 4.9
    assert await recent.get("a", read_value) == "value"
    now[0] = 5.1
    assert await recent.get("a", read_value) == "value"
    assert await recent.get("b", read_nothing) is None
    assert await recent.get("b", read_nothing) is None
    assert reads == ["value", "value", "nothing", "nothing"]
