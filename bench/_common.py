"""Helpers shared by the benchmark scripts: machine facts, subprocesses, ports, RSS, Postgres.

Imported by its file name (``from _common import …``): each script runs as
``python bench/NAME.py``, which puts ``bench/`` first on ``sys.path``. ``ROOT`` is put on
``sys.path`` too, so scripts can import ``tests.fakes`` (the repo's test helpers).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PG_ADMIN_DSN = os.environ.get("BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")


# --- machine -----------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    found = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return found.group(1).strip() if found else platform.processor() or "unknown"


def machine_lines() -> list[str]:
    import numpy as np

    cores = os.cpu_count() or 0
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    memory = "?"
    with contextlib.suppress(OSError, ValueError, IndexError):
        line = next(
            x for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemTotal")
        )
        memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return [
        f"machine : {cpu_model()}, {cores} cores ({usable} usable), {memory} RAM",
        f"system  : {platform.system()} {platform.release()} ({platform.machine()})",
        f"python  : {platform.python_implementation()} {platform.python_version()}, "
        f"numpy {np.__version__}",
    ]


def load_line() -> str:
    """The 1/5/15-minute load average, with a warning when other work competes for the CPU."""
    try:
        one, five, fifteen = Path("/proc/loadavg").read_text().split()[:3]
    except (OSError, ValueError):
        return "load    : unknown"
    cores = os.cpu_count() or 1
    busy = float(one) > 0.5 * cores
    warning = "  (busy machine: other processes compete, figures are pessimistic)" if busy else ""
    return f"load    : {one} {five} {fifteen} (1/5/15 min) on {cores} cores{warning}"


def print_machine(extra: Mapping[str, str] | None = None) -> None:
    for line in machine_lines():
        print(line)
    print(load_line())
    for name, value in (extra or {}).items():
        print(f"{name:<8}: {value}")


# --- numbers -----------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of unsorted values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"


# --- processes ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def python() -> str:
    return sys.executable


def alignment_command() -> list[str]:
    """``alignment`` from the same environment as this interpreter (console script or -c)."""
    script = Path(sys.executable).with_name("alignment")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from bot.runtime.cli import main; main()"]


@dataclass
class Child:
    """A subprocess we started; stopped by its own pid (its process group), nothing else."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        if not self.alive():
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def spawn(
    name: str, argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, log_dir: Path
) -> Child:
    """Start ``argv`` in its own process group, output to ``log_dir/name.log``."""
    log = log_dir / f"{name}.log"
    handle = log.open("wb")
    process = subprocess.Popen(
        list(argv),
        env=dict(env),
        cwd=cwd,
        stdout=handle,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    handle.close()
    return Child(name, process, log)


@contextlib.contextmanager
def children() -> Iterator[list[Child]]:
    """Every child appended to the list is stopped on the way out, whatever happens."""
    started: list[Child] = []
    try:
        yield started
    finally:
        for child in reversed(started):
            child.stop()


def base_env(**values: str) -> dict[str, str]:
    """The current environment without settings that would leak into a server we start."""
    prefixes = ("SLACK_", "ALIGNMENT_", "MICROSOFT", "Microsoft", "TEAMS_", "DATABASE_URL")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
    )
    env.update(values)
    return env


async def wait_http_ok(url: str, *, child: Child | None = None, within: float = 60.0) -> float:
    """Poll ``url`` until it answers 200; returns the seconds it took."""
    import aiohttp

    start = time.perf_counter()
    deadline = start + within
    timeout = aiohttp.ClientTimeout(total=2)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        while True:
            if child is not None and not child.alive():
                raise RuntimeError(f"{child.name} exited early:\n{child.tail()}")
            with contextlib.suppress(aiohttp.ClientError, TimeoutError, OSError):
                async with session.get(url) as response:
                    if response.status == 200:
                        return time.perf_counter() - start
            if time.perf_counter() > deadline:
                tail = child.tail() if child is not None else ""
                raise TimeoutError(f"{url} did not answer 200 within {within:.0f} s\n{tail}")
            await asyncio.sleep(0.1)


# --- /proc ---------------------------------------------------------------------------------------


def descendants(pid: int) -> list[int]:
    """pid's children, grandchildren, … (from /proc/PID/task/*/children)."""
    found: list[int] = []
    todo = [pid]
    while todo:
        current = todo.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            with contextlib.suppress(OSError):
                kids = [int(x) for x in (task / "children").read_text().split()]
                found.extend(kids)
                todo.extend(kids)
    return found


def status_kib(pid: int, field: str) -> int:
    """A ``kB`` field of /proc/PID/status (VmRSS, VmHWM, RssAnon, …), 0 if gone."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def command_line(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    return "?"


def cpu_times(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of one process so far."""
    with contextlib.suppress(OSError, IndexError, ValueError):
        raw = Path(f"/proc/{pid}/stat").read_text()
        fields = raw[raw.rindex(")") + 2 :].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return int(fields[11]) / ticks, int(fields[12]) / ticks
    return 0.0, 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far."""
    return sum(cpu_times(pid))


def tree_cpu_times(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of a process and its live children (``serve --workers``:
    the supervisor and its workers)."""
    user, system = cpu_times(pid)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            raw = stat.read_text()
            if int(raw[raw.rindex(")") + 2 :].split()[1]) == pid:
                child_user, child_system = cpu_times(int(stat.parent.name))
                user, system = user + child_user, system + child_system
    return user, system


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and its live children."""
    return sum(tree_cpu_times(pid))


# --- PostgreSQL ----------------------------------------------------------------------------------


async def create_pg_database(name: str) -> str:
    """Create a scratch database; returns its SQLAlchemy URL."""
    import asyncpg  # type: ignore[import-untyped]

    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    host_part = PG_ADMIN_DSN.split("://", 1)[1].rsplit("/", 1)[0]
    return f"postgresql+asyncpg://{host_part}/{name}"


async def drop_pg_database(name: str) -> None:
    import asyncpg

    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


# --- the fake Slack Web API ----------------------------------------------------------------------


@dataclass(frozen=True)
class FakeSlack:
    child: Child
    api_url: str
    stats_url: str


async def start_fake_slack(
    started: list[Child], log_dir: Path, *, admins: Sequence[str] = ()
) -> FakeSlack:
    """bench/_fake_slack.py in its own process; appended to ``started`` so it is stopped."""
    import json

    ready = log_dir / "fake-slack.json"
    argv = [python(), str(BENCH / "_fake_slack.py"), "--ready-file", str(ready)]
    for admin in admins:
        argv += ["--admin", admin]
    child = spawn("fake-slack", argv, env=base_env(), cwd=log_dir, log_dir=log_dir)
    started.append(child)
    deadline = time.perf_counter() + 30
    while not ready.exists():
        if not child.alive():
            raise RuntimeError(f"the fake Slack API exited early:\n{child.tail()}")
        if time.perf_counter() > deadline:
            raise TimeoutError("the fake Slack API did not start within 30 s")
        await asyncio.sleep(0.05)
    info = json.loads(ready.read_text())
    return FakeSlack(child, str(info["api_url"]), str(info["stats_url"]))


async def fake_slack_calls(fake: FakeSlack) -> dict[str, int]:
    import aiohttp

    async with aiohttp.ClientSession() as session, session.get(fake.stats_url) as response:
        data = await response.json()
    return {str(k): int(v) for k, v in data["calls"].items()}
