"""A report's heavy, pure work (the statistics and the chart) on a thread of its own.

The statistics and the chart load numpy, scipy and matplotlib on first use (issue #18), which
takes a second or more, and computing a large round's figures or drawing its chart takes
hundreds of milliseconds. Done on the event loop, that holds up every request in flight for as
long: Slack gives an interaction three seconds to be acknowledged. On this one thread the
loop keeps answering meanwhile (the work holds the GIL only between its switches). One
thread, so figures are computed one at a time and no two share numpy's or matplotlib's state.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

# Its thread starts on the first report and idles until the process ends.
_FIGURES = ThreadPoolExecutor(max_workers=1, thread_name_prefix="figures")


async def off_loop(work: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``work(*args, **kwargs)`` on the figures thread, awaited from the event loop."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_FIGURES, functools.partial(work, *args, **kwargs))
