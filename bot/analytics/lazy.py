"""The heavy half of the statistics on first use: numpy with the analysis, scipy.stats.

Importing scipy.stats costs about 60 MB and a second, numpy about 12 MB; a server that is
idle, or only taking answers, needs neither, so the analytics modules fetch scipy when a
figure is actually computed, and the rest of the bot calls ``analyse``, ``analyse_counts``
and ``customer_profile`` through here, which import their modules (and numpy) on the first call.
"""

from __future__ import annotations

import importlib
from functools import cache
from types import ModuleType
from typing import TYPE_CHECKING, Any


@cache
def scipy_stats() -> ModuleType:
    return importlib.import_module("scipy.stats")


if TYPE_CHECKING:
    from bot.analytics.analysis import analyse, analyse_counts
    from bot.analytics.customers import customer_profile
else:

    def analyse(*args: Any, **kwargs: Any) -> Any:
        return importlib.import_module("bot.analytics.analysis").analyse(*args, **kwargs)

    def analyse_counts(*args: Any, **kwargs: Any) -> Any:
        return importlib.import_module("bot.analytics.analysis").analyse_counts(*args, **kwargs)

    def customer_profile(*args: Any, **kwargs: Any) -> Any:
        return importlib.import_module("bot.analytics.customers").customer_profile(*args, **kwargs)


__all__ = ["analyse", "analyse_counts", "customer_profile", "scipy_stats"]
