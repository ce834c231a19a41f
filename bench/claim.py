"""The outbox's claim against the size of the queue: does a claim cost the same with 10,000 or
50,000 messages still queued?

For each N (``--sizes``): a new SQLite file in a temporary folder, migrated; one workspace; N poll
messages queued through ``SqlStore.enqueue`` (not timed). Then, timed, ``claim_outbox`` with the
outbox's own limits (``CLAIM_LIMIT``, 50 per workspace: a window's refill at 200/s) until the
queue is empty, as a fan-out's claims go. Printed per N: the claims, the first claim's time, the
total and the mean per claim. Target: the mean per claim does not grow with N (the largest N's
mean within 2x the smallest's).

    python bench/claim.py                   # 10,000 and 50,000 messages
    python bench/claim.py --sizes 2000 10000
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from _common import print_machine, verdict

from bot.model.domain import WorkspaceRef
from bot.model.records import NewOutboxItem, OutboxKind
from bot.rounds.outbox import CLAIM_LIMIT
from storage.database import create_engine, upgrade
from storage.sql_store import SqlStore

PER_WORKSPACE = 50


async def measure(size: int, folder: Path) -> tuple[int, float, float]:
    """(claims, first claim s, all claims s) for a queue of ``size`` messages."""
    engine = create_engine(f"sqlite+aiosqlite:///{folder / f'claim-{size}.db'}")
    await upgrade(engine)
    store = SqlStore(engine)
    try:
        workspace = await store.ensure_workspace(WorkspaceRef("slack", "TBENCH"))
        polls = [
            NewOutboxItem(f"poll:{i}", OutboxKind.POLL, {"round_id": 1, "person_id": i})
            for i in range(size)
        ]
        await store.enqueue(workspace.id, polls)
        now = datetime.now(UTC)
        times: list[float] = []
        while True:
            started = time.perf_counter()
            claimed = await store.claim_outbox(
                now, worker="bench", limit=CLAIM_LIMIT, per_workspace=PER_WORKSPACE
            )
            times.append(time.perf_counter() - started)
            if not claimed:
                return len(times), times[0], sum(times)
    finally:
        await store.close()


async def main(sizes: list[int]) -> None:
    print("bench/claim.py: the outbox's claim against the size of the queue, SQLite")
    print_machine()
    means: list[float] = []
    with tempfile.TemporaryDirectory(prefix="alignment-claim-") as folder:
        print(f"{'queued':>9}  {'claims':>6}  {'first ms':>8}  {'total s':>7}  {'mean ms':>7}")
        for size in sizes:
            claims, first, total = await measure(size, Path(folder))
            means.append(total / claims)
            print(
                f"{size:>9,}  {claims:>6,}  {first * 1000:>8.1f}  {total:>7.2f}  "
                f"{means[-1] * 1000:>7.1f}"
            )
    growth = means[-1] / means[0]
    print(
        f"target: mean per claim at {sizes[-1]:,} within 2x that at {sizes[0]:,} -> "
        f"{growth:.2f}x  [{verdict(growth <= 2)}]"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--quick", action="store_true", help="2,000 and 10,000 messages")
    args = parser.parse_args()
    asyncio.run(main([2_000, 10_000] if args.quick else sorted(args.sizes)))
