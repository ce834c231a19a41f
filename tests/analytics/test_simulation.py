"""Seeded simulations of the whole surprise pipeline (``analyse``)."""

from __future__ import annotations

import numpy as np

from bot.analytics import Answer, SegmentResult, analyse

from .conftest import plackett_luce_top, top3_study

ATTRS = ("price", "quality", "speed", "service", "range", "brand", "eco", "support")
WEIGHTS = np.array([3.0, 2.5, 2.0, 1.5, 1.2, 1.0, 0.8, 0.5])


def _run(rng: np.random.Generator, staff_w: np.ndarray, customer_w: np.ndarray) -> SegmentResult:
    staff = plackett_luce_top(rng, staff_w, 200)
    answers = [Answer(str(i), (), tuple(ATTRS[j] for j in row)) for i, row in enumerate(staff)]
    chosen = plackett_luce_top(rng, customer_w, 300)
    counts = np.bincount(chosen.ravel(), minlength=len(ATTRS))
    study = top3_study(dict(zip(ATTRS, counts.tolist(), strict=True)), 300)
    result = analyse(ATTRS, answers, {None: study})
    assert result.headline is not None
    return result.headline


def test_same_preferences_rarely_flag_a_surprise() -> None:
    # Staff and customers from the SAME Plackett-Luce distribution: any surprise is a false
    # alarm. BH plus the 15-point minimum gap should keep runs with one well under 5 %.
    rng = np.random.default_rng(20240601)
    runs = 200
    flagged = sum(bool(_run(rng, WEIGHTS, WEIGHTS).surprises) for _ in range(runs))
    assert flagged / runs <= 0.05


def test_planted_blind_spot_is_found() -> None:
    # Customers value "support" most (weight 6 instead of 0.5); staff do not.
    rng = np.random.default_rng(7)
    customer_w = WEIGHTS.copy()
    customer_w[ATTRS.index("support")] = 6.0
    runs = 30
    found = 0
    for _ in range(runs):
        segment = _run(rng, WEIGHTS, customer_w)
        kinds = {s.attribute: s.kind for s in segment.surprises}
        found += kinds.get("support") == "blind_spot"
    assert found == runs
