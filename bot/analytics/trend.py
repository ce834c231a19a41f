"""Change of the headline figures from one round to the next."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from bot.analytics.results import Analysis

Number = TypeVar("Number", int, float)


@dataclass(frozen=True, slots=True)
class Trend:
    """current − previous for each headline figure; None where either round lacks it
    (suppressed, no research, or undefined)."""

    alignment_score: int | None
    kendall_w: float | None
    top3_hits: int | None
    spearman: float | None
    respondents: int | None

    def to_json_dict(self) -> dict[str, Any]:
        return asdict(self)


def _delta(previous: Number | None, current: Number | None) -> Number | None:
    if previous is None or current is None:
        return None
    return current - previous


def _headline(analysis: Analysis) -> tuple[int | None, int | None, float | None]:
    """(alignment score, top-k hits, Spearman) of the headline segment, None if absent."""
    segment = analysis.headline
    if segment is None:
        return None, None, None
    return segment.alignment_score, segment.top3_hits, segment.spearman


def compare(previous: Analysis, current: Analysis) -> Trend:
    """How the headline figures moved since ``previous`` (current − previous)."""
    score_before, hits_before, rho_before = _headline(previous)
    score_now, hits_now, rho_now = _headline(current)
    return Trend(
        alignment_score=_delta(score_before, score_now),
        kendall_w=_delta(previous.kendall_w, current.kendall_w),
        top3_hits=_delta(hits_before, hits_now),
        spearman=_delta(rho_before, rho_now),
        respondents=_delta(previous.respondents, current.respondents),
    )
