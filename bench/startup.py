"""Start-up cost: how long ``alignment --help`` takes and what an idle ``alignment serve`` holds.

``--help`` is timed as a fresh process, ``--repeats`` times, next to a baseline measured in the
same run: a bare typer app with one command printing its help (the floor any typer CLI pays).
The modules ``--help`` loaded are listed, so a heavy import that sneaks back shows by name.
The idle RSS of ``alignment serve`` (SQLite, Slack and Teams on) is measured as in
``bench/memory.py``.

    python bench/startup.py
    python bench/startup.py --quick     # 3 repeats, 1 s settle
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import time
from collections.abc import Sequence

from _common import BENCH, alignment_command, base_env, median, print_machine, python, verdict
from memory import measure

HELP_TARGET_S = 0.5
RSS_TARGET_MIB = 100.0
HEAVY = ("alembic", "sqlalchemy", "scipy", "matplotlib", "numpy", "aiohttp", "botbuilder")
BARE_TYPER = """
import typer
app = typer.Typer(add_completion=False)
@app.command()
def hello() -> None: ...
@app.command()
def bye() -> None: ...
app()
"""
LOADED_BY_HELP = """
import json, sys
sys.argv = ["alignment", "--help"]
from bot.runtime.cli import main
try:
    main()
except SystemExit:
    pass
heavy = sorted({name.split(".")[0] for name in sys.modules} & set(HEAVY))
print(json.dumps(heavy), file=sys.stderr)
"""


def timed(argv: list[str], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(argv, env=base_env(), cwd=BENCH, capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return times


def heavy_modules_loaded_by_help() -> list[str]:
    script = LOADED_BY_HELP.replace("HEAVY", repr(HEAVY))
    done = subprocess.run(
        [python(), "-c", script], env=base_env(), cwd=BENCH, capture_output=True, text=True
    )
    return list(json.loads(done.stderr.strip().splitlines()[-1]))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else args.repeats
    print("bench/startup.py: `alignment --help` and the idle RSS of `alignment serve`")
    print_machine()

    ours = timed([*alignment_command(), "--help"], repeats)
    bare = timed([python(), "-c", BARE_TYPER, "--help"], repeats)
    print()
    print(f"alignment --help : median {median(ours):.3f} s, min {min(ours):.3f} s ({repeats} runs)")
    print(f"bare typer --help: median {median(bare):.3f} s, min {min(bare):.3f} s (the floor)")
    print(f"ratio to the floor: {median(ours) / median(bare):.2f}x")
    heavy = heavy_modules_loaded_by_help()
    print(f"heavy modules loaded by --help: {', '.join(heavy) or 'none'}")
    print(
        f"target: --help < {HELP_TARGET_S} s -> {median(ours):.3f} s "
        f"[{verdict(median(ours) < HELP_TARGET_S)}]"
    )
    print()
    asyncio.run(measure(1.0 if args.quick else 3.0, 1 if args.quick else 3, RSS_TARGET_MIB))


if __name__ == "__main__":
    main()
