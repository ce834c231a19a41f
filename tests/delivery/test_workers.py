"""`alignment serve --workers N`: N real server processes on one port (PostgreSQL).

The supervisor keeps N workers answering on the shared port, replaces one that dies, stops
them all on SIGTERM, and a SIGKILLed supervisor leaves no worker behind.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import TEST_DATABASE
from tests.delivery.harness import ServeProcess, wait_until
from tests.fakes.slack_api import FakeSlackApi

pytestmark = pytest.mark.skipif(
    TEST_DATABASE == "sqlite",
    reason="several workers need PostgreSQL; the SQLite refusal is tested in tests/test_cli.py",
)

WORKERS = 2


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlackApi]:
    fake = await FakeSlackApi().start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
async def supervisor(
    database_url: str, fake: FakeSlackApi, tmp_path: Path
) -> AsyncIterator[ServeProcess]:
    serve = ServeProcess(
        database_url, fake.api_url, tmp_path / "serve.log", args=["--workers", str(WORKERS)]
    )
    serve.start()
    try:
        await serve.healthy(within=60)
        yield serve
    finally:
        serve.stop()


async def pids_answering(serve: ServeProcess, *, at_least: int, within: float = 30.0) -> set[int]:
    """Worker pids seen on /healthz over fresh connections (the kernel picks a worker per
    connection), until ``at_least`` different ones have answered."""
    seen: set[int] = set()
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        connector = aiohttp.TCPConnector(force_close=True)
        async with aiohttp.ClientSession(connector=connector) as session:
            for _ in range(20):
                try:
                    async with session.get(serve.url + "/healthz") as response:
                        if response.status == 200:
                            seen.add(int((await response.json())["pid"]))
                except aiohttp.ClientError:
                    pass
        if len(seen) >= at_least:
            return seen
        await asyncio.sleep(0.2)
    raise AssertionError(f"saw workers {seen}, wanted {at_least}:\n{serve.log_path.read_text()}")


def parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def alive(pid: int) -> bool:
    state = Path(f"/proc/{pid}/stat")
    try:
        return state.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


async def test_workers_share_the_port_and_stop_together(supervisor: ServeProcess) -> None:
    assert supervisor.process is not None
    workers = await pids_answering(supervisor, at_least=WORKERS)
    assert len(workers) == WORKERS
    assert {parent_of(pid) for pid in workers} == {supervisor.process.pid}
    supervisor.process.send_signal(signal.SIGTERM)
    assert supervisor.process.wait(timeout=30) == 0
    assert not any(alive(pid) for pid in workers)


async def test_a_dead_worker_is_replaced(supervisor: ServeProcess) -> None:
    first = await pids_answering(supervisor, at_least=WORKERS)
    victim = min(first)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 60
    now = first
    while victim in now and time.monotonic() < deadline:
        now = await pids_answering(supervisor, at_least=WORKERS)
    assert victim not in now, now
    replacements = now - first
    assert len(replacements) == 1
    assert all(alive(pid) for pid in now)


async def test_a_killed_supervisor_leaves_no_workers(supervisor: ServeProcess) -> None:
    workers = await pids_answering(supervisor, at_least=WORKERS)
    supervisor.kill()
    assert await wait_until(lambda: not any(alive(pid) for pid in workers), within=30)
