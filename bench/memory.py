"""Resident memory of an idle ``alignment serve`` with Slack and Teams both on.

Starts the fake Slack Web API (its own process), then ``alignment serve`` on a free port of
127.0.0.1 with SQLite in a temporary folder, ``SLACK_BOT_TOKEN`` / ``SLACK_SIGNING_SECRET`` /
``SLACK_API_URL`` pointing at the fake, and ``TEAMS_ENABLED=true``. Waits for
``GET /healthz`` 200, lets it settle, and reads VmRSS from /proc/PID/status for the server
and every child it has. Stops both processes and removes the folder.

    python bench/memory.py
    python bench/memory.py --quick    # 1 s settle
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from _common import (
    BENCH,
    alignment_command,
    base_env,
    children,
    command_line,
    descendants,
    free_port,
    print_machine,
    python,
    spawn,
    start_fake_slack,
    status_kib,
    verdict,
    wait_http_ok,
)

TARGET_MIB = 100.0
# Compiled parts of libraries an idle server must not have loaded (issue #18): their shared
# objects in /proc/PID/maps show it from outside the process. cryptography comes with the
# Teams SDK (PyJWT, msal), which loads on the first Teams call.
FIRST_USE_ONLY = ("numpy", "scipy", "matplotlib", "cryptography")
SIGNING_SECRET = "bench-signing-secret"
# Imported one after the other in a fresh interpreter: what each adds to RSS on top of the
# ones before it (shared dependencies count where they are first loaded).
BREAKDOWN = (
    "aiohttp",
    "pydantic_settings",
    "sqlalchemy.ext.asyncio",
    "alembic.command",
    "asyncpg",
    "aiosqlite",
    "numpy",
    "scipy.stats",
    "matplotlib.figure",
    "matplotlib.backends.backend_agg",
    "slack_bolt.async_app",
    "botbuilder.core",
    "botbuilder.integration.aiohttp",
    "typer",
    "bot.runtime.cli",
    "bot.runtime.app",
    "adapters.slack",
    "adapters.teams",
)
BREAKDOWN_SCRIPT = """
import importlib, sys
def rss():
    for line in open('/proc/self/status'):
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) / 1024
    return 0.0
print(f"{'interpreter':<34} {rss():6.1f} MiB")
for name in sys.argv[1:]:
    before = rss()
    importlib.import_module(name)
    print(f"{name:<34} +{rss() - before:5.1f} MiB  = {rss():6.1f}")
"""


def mapped_libraries(pid: int) -> str:
    """The paths of the shared objects mapped into a process, one string."""
    try:
        maps = Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return ""
    return "\n".join(
        {line.split()[-1] for line in maps.splitlines() if line.rstrip().endswith(".so")}
        | {line.split()[-1] for line in maps.splitlines() if ".so." in line}
    )


def import_breakdown() -> None:
    print()
    print("where it goes (imports in a fresh interpreter, cumulative; the server loads Alembic,")
    print("numpy, scipy, matplotlib and botbuilder only on first use, so an idle one holds none):")
    done = subprocess.run(
        [python(), "-c", BREAKDOWN_SCRIPT, *BREAKDOWN],
        env=base_env(),
        cwd=BENCH,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    for line in (done.stdout or done.stderr).splitlines():
        print("  " + line)


async def measure(settle: float, samples: int, target_mib: float = TARGET_MIB) -> None:
    with (
        tempfile.TemporaryDirectory(prefix="alignment-bench-memory-") as tmp,
        children() as started,
    ):
        folder = Path(tmp)
        fake = await start_fake_slack(started, folder)
        port = free_port()
        env = base_env(
            DATABASE_URL=f"sqlite+aiosqlite:///{folder / 'alignment.db'}",
            SLACK_BOT_TOKEN="xoxb-test",
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=fake.api_url,
            TEAMS_ENABLED="true",
            LOG_LEVEL="INFO",
        )
        argv = [*alignment_command(), "serve", "--host", "127.0.0.1", "--port", str(port)]
        launched = time.perf_counter()
        server = spawn("alignment-serve", argv, env=env, cwd=folder, log_dir=folder)
        started.append(server)
        await wait_http_ok(f"http://127.0.0.1:{port}/healthz", child=server, within=90)
        ready_s = time.perf_counter() - launched
        log = server.log.read_text(errors="replace")
        slack_on = "Slack adapter on" in log
        teams_on = "Teams adapter on" in log
        await asyncio.sleep(settle)

        readings: list[int] = []
        pids: list[int] = [server.pid]
        for index in range(samples):
            pids = [server.pid, *descendants(server.pid)]
            readings.append(sum(status_kib(pid, "VmRSS") for pid in pids))
            if index + 1 < samples:
                await asyncio.sleep(0.5)
        rss_mib = readings[-1] / 1024
        hwm_mib = sum(status_kib(pid, "VmHWM") for pid in pids) / 1024
        anon_mib = sum(status_kib(pid, "RssAnon") for pid in pids) / 1024
        file_mib = sum(status_kib(pid, "RssFile") for pid in pids) / 1024

        print(f"server  : {' '.join(argv[-5:])} (pid {server.pid}), ready in {ready_s:.1f} s")
        print(f"adapters: Slack {'on' if slack_on else '?'}, Teams {'on' if teams_on else '?'}")
        for pid in pids[1:]:
            print(f"child   : pid {pid} {command_line(pid)[:80]}")
        print(
            f"settled : {settle:.1f} s, {samples} samples 0.5 s apart: "
            + ", ".join(f"{r / 1024:.1f}" for r in readings)
            + " MiB"
        )
        print()
        print(
            f"VmRSS (server + {len(pids) - 1} children): {rss_mib:.1f} MiB  "
            f"(anon {anon_mib:.1f}, file-backed {file_mib:.1f}; peak VmHWM {hwm_mib:.1f})"
        )
        print(
            f"target: < {target_mib:.0f} MiB -> {rss_mib:.1f} MiB  [{verdict(rss_mib < target_mib)}]"
        )
        mapped = sorted(
            {name for pid in pids for name in FIRST_USE_ONLY if name in mapped_libraries(pid)}
        )
        print(
            f"first-use libraries mapped by the idle server ({', '.join(FIRST_USE_ONLY)}): "
            f"{', '.join(mapped) or 'none'}"
        )
        server.stop()
        if server.process.returncode not in (0, None):
            print(f"note: the server exited with {server.process.returncode} on SIGTERM")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--settle", type=float, default=3.0, help="seconds idle before reading")
    parser.add_argument("--samples", type=int, default=3, help="RSS readings, 0.5 s apart")
    parser.add_argument(
        "--no-breakdown", action="store_true", help="skip the per-import RSS breakdown"
    )
    parser.add_argument("--quick", action="store_true", help="settle 1 s, one reading")
    args = parser.parse_args(argv)
    settle = 1.0 if args.quick else args.settle
    samples = 1 if args.quick else max(1, args.samples)
    print("bench/memory.py: idle RSS of alignment serve (SQLite, Slack + Teams)")
    print_machine()
    asyncio.run(measure(settle, samples))
    if not args.no_breakdown:
        import_breakdown()


if __name__ == "__main__":
    main()
