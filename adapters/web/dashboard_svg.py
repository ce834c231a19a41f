"""Geometry for the dashboard's SVG charts; the templates draw them (no script, no library)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.model.dashboard import OverviewRow

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 16, 40
TICKS = (-100, -50, 0, 50, 100)

# Diverging, colour-blind-safe steps (blue: customers value it more; orange: staff do),
# by the size of the gap in points.
_BLUE = ("#f7f7f7", "#d1e5f0", "#92c5de", "#4393c3", "#2166ac")
_ORANGE = ("#f7f7f7", "#fddbc7", "#f4a582", "#d6604d", "#b2182b")
_STEPS = (5, 15, 30, 45)  # points


@dataclass(frozen=True, slots=True)
class Point:
    x: float
    y: float
    label: str
    score: int


@dataclass(frozen=True, slots=True)
class ScoreChart:
    width: int
    height: int
    points: tuple[Point, ...]
    ticks: tuple[tuple[int, float], ...]  # (score, y)
    left: int
    right: int
    zero: float

    @property
    def polyline(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)


def _y(score: float) -> float:
    return TOP + (100 - score) / 200 * (HEIGHT - TOP - BOTTOM)


def score_chart(rows: Sequence[OverviewRow], segment: str) -> ScoreChart:
    """The alignment score of ``segment`` round after round (rounds without it are skipped)."""
    scored = []
    for row in rows:
        found = row.score_for(segment)
        if found is not None and found.score is not None:
            scored.append((row.label, found.score))
    span = WIDTH - LEFT - RIGHT
    step = span / max(len(scored) - 1, 1)
    points = tuple(
        Point(LEFT + (i * step if len(scored) > 1 else span / 2), _y(score), label, score)
        for i, (label, score) in enumerate(scored)
    )
    return ScoreChart(
        WIDTH, HEIGHT, points, tuple((t, _y(t)) for t in TICKS), LEFT, WIDTH - RIGHT, _y(0)
    )


def heat_colour(gap: float) -> str:
    """The fill of a cell whose staff share minus customers' share is ``gap`` (0–1)."""
    points = abs(gap) * 100
    step = sum(1 for edge in _STEPS if points >= edge)
    return (_ORANGE if gap > 0 else _BLUE)[step]


def heat_text(gap: float) -> str:
    """A mark's colour on its cell: white only on the darkest steps, dark elsewhere (4.5:1)."""
    return "#ffffff" if abs(gap) * 100 >= _STEPS[-1] else "#1a1a1a"
