"""A closed round's published figures as a JSON document, and back.

When a round closes its analysis (after disclosure control, so hidden groups are not in it),
the verdicts and the number invited are stored once; every later report, export and trend
of that round is built from this document. Forgetting a person deletes their answers but
cannot change figures already published, so nothing can be differenced against them.

The encoding follows the dataclasses' own type hints, so a field added to the analysis
later is stored without changes here.
"""

from __future__ import annotations

import math
import types
from collections.abc import Mapping
from dataclasses import Field, dataclass, fields, is_dataclass
from enum import Enum
from functools import cache
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from bot.analytics import Analysis
from bot.analytics.results import annotation_types
from bot.reports.disclosure import Verdict, Verdicts

FORMAT = 1


@dataclass(frozen=True, slots=True)
class Published:
    """What a round may show: its analysis after disclosure control and why groups are hidden."""

    analysis: Analysis
    verdicts: Verdicts
    invited: int


def encode(published: Published) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "invited": published.invited,
        "verdicts": {
            name: {"published": v.published, "reason": v.reason}
            for name, v in published.verdicts.groups.items()
        },
        "analysis": _plain(published.analysis),
    }


def decode(document: Mapping[str, Any]) -> Published:
    verdicts = Verdicts(
        {
            name: Verdict(bool(v["published"]), str(v["reason"]))
            for name, v in document["verdicts"].items()
        }
    )
    analysis = _typed(Analysis, document["analysis"])
    return Published(analysis, verdicts, int(document["invited"]))


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        # As pairs: keys may be None (the "all customers" segment), which JSON cannot key.
        return [[_plain(k), _plain(v)] for k, v in value.items()]
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON (and PostgreSQL's json) has no NaN or infinity
    return value


def _typed(hint: Any, data: Any) -> Any:
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        return None if data is None else _typed(_not_none(args), data)
    if origin is Literal or hint is Any:
        return data
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_typed(args[0], item) for item in data)
        return tuple(_typed(arg, item) for arg, item in zip(args, data, strict=True))
    if origin in (Mapping, dict):
        return {_typed(args[0], k): _typed(args[1], v) for k, v in data}
    if isinstance(hint, type) and is_dataclass(hint):
        hints, own = _shape(hint)
        return hint(**{f.name: _typed(hints[f.name], data[f.name]) for f in own})
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(data)
    if hint is float:
        return float(data)
    return data


@cache
def _shape(cls: type) -> tuple[dict[str, Any], tuple[Field[Any], ...]]:
    """A dataclass's resolved hints and fields: the same for every value of the class, and
    resolving them is most of a decode's cost (a dashboard reads many rounds at once)."""
    # The result types name numpy's types only for type checkers; annotation_types() stands
    # in for them so resolving needs no numpy.
    return get_type_hints(cls, localns=annotation_types()), fields(cls)


def _not_none(args: tuple[Any, ...]) -> Any:
    kept = [arg for arg in args if arg is not type(None)]
    return kept[0] if len(kept) == 1 else Union[tuple(kept)]  # noqa: UP007
