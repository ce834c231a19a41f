"""scipy.stats on first use.

Importing it costs about 60 MB and a second; a server that is idle, or only taking answers,
never needs it, so the analytics modules fetch it when a figure is actually computed."""

from __future__ import annotations

import importlib
from functools import cache
from types import ModuleType


@cache
def scipy_stats() -> ModuleType:
    return importlib.import_module("scipy.stats")
