"""``alignment serve --workers N``: N server processes sharing one port.

One Python process answers on one core. A worker here is a whole replica (its own database
pool, outbox pump and scheduler candidate) bound to the same port with SO_REUSEPORT, so the
kernel spreads connections over them. Everything replicas need to share is already in the
database (outbox claims, the scheduler's leader lock, processed event ids), which is why
several workers need PostgreSQL: a SQLite file serves one process.

The supervisor restarts a worker that dies, stops all of them on SIGTERM/SIGINT, and gives
each its share of ``ALIGNMENT_SEND_RATE`` so together they keep to the platform's limit.
Workers watch their parent and stop if it disappears (a SIGKILLed supervisor leaves no
orphans behind).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

RESTART_DELAY_SECONDS: Final = 1.0
STOP_GRACE_SECONDS: Final = 20.0
PARENT_CHECK_SECONDS: Final = 1.0

_log = logging.getLogger(__name__)


class WorkersError(ValueError):
    pass


def check_workers(workers: int, database_url: str, port: int) -> None:
    """Why ``workers`` processes cannot serve this configuration, as one clear line."""
    if workers < 1:
        raise WorkersError("--workers must be at least 1")
    if workers == 1:
        return
    if not database_url.startswith("postgresql"):
        raise WorkersError(
            "several workers need PostgreSQL (DATABASE_URL=postgresql+asyncpg://…): "
            "a SQLite file serves one process"
        )
    if port == 0:
        raise WorkersError("several workers need a fixed port to share (not 0)")


def worker_env(base: Mapping[str, str], send_rate: float, workers: int) -> dict[str, str]:
    """The environment of one worker: its share of the send rate (0 stays unlimited)."""
    env = dict(base)
    if send_rate > 0:
        env["ALIGNMENT_SEND_RATE"] = repr(send_rate / workers)
    return env


def worker_argv(host: str, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "bot.runtime.cli",
        "serve",
        "--host",
        host,
        "--port",
        str(port),
        "--reuse-port",
        "--parent-pid",
        str(os.getpid()),
    ]


@dataclass
class Supervisor:
    argv: Sequence[str]
    env: Mapping[str, str]
    workers: int

    async def run(self, stop: asyncio.Event) -> int:
        """Keep ``workers`` processes running until ``stop``; 0 when they all stopped cleanly."""
        running = [await self._start(slot) for slot in range(self.workers)]
        stopping = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                exits = {asyncio.ensure_future(p.wait()): slot for slot, p in enumerate(running)}
                done, _ = await asyncio.wait(
                    {stopping, *exits}, return_when=asyncio.FIRST_COMPLETED
                )
                for waiter in exits:
                    if waiter not in done:
                        waiter.cancel()
                if stop.is_set():
                    break
                for waiter in done - {stopping}:
                    slot = exits[waiter]
                    _log.warning(
                        "worker %d (pid %d) exited with %s; restarting it",
                        slot,
                        running[slot].pid,
                        running[slot].returncode,
                    )
                    await asyncio.sleep(RESTART_DELAY_SECONDS)
                    running[slot] = await self._start(slot)
        finally:
            stopping.cancel()
            codes = await _stop_all(running)
        return 0 if all(code in (0, -signal.SIGTERM) for code in codes) else 1

    async def _start(self, slot: int) -> asyncio.subprocess.Process:
        process = await asyncio.create_subprocess_exec(*self.argv, env=dict(self.env))
        _log.info("worker %d started (pid %d)", slot, process.pid)
        return process


async def _stop_all(running: Sequence[asyncio.subprocess.Process]) -> list[int]:
    for process in running:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
    try:
        return list(
            await asyncio.wait_for(asyncio.gather(*(p.wait() for p in running)), STOP_GRACE_SECONDS)
        )
    except TimeoutError:
        for process in running:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
        return [await p.wait() for p in running]


async def watch_parent(parent_pid: int, stop: asyncio.Event) -> None:
    """Set ``stop`` once this worker's supervisor is gone (the worker was re-parented)."""
    while not stop.is_set():
        if os.getppid() != parent_pid:
            _log.warning("supervisor %d is gone; stopping", parent_pid)
            stop.set()
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), PARENT_CHECK_SECONDS)
