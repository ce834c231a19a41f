"""The headline alignment score shown to users."""

from __future__ import annotations

import math


def expected_random_hits(k: int, n: int) -> float:
    """Expected overlap of two top-k sets when one is a random guess: k · (k / n)."""
    return k * k / n


def alignment_score(spearman: float | None, hits: int, k: int, n: int) -> int | None:
    """Alignment score, 0 to 100.

    Half of the score is how well the staff's whole ordering matches the customers'
    (Spearman's rho, a negative match counts as 0); the other half is how many of the
    customers' top k the staff's top k contains beyond what random guessing would get.
    0 = no better than chance, 100 = the same top k and the same order.

    score = round(100 × (0.5 × max(0, rho) + 0.5 × max(0, (hits − E) / (k − E)))), E = k²/n,
    rounded half up. When k ≥ n every guess contains the whole top k, so the top-k half says
    nothing and the score is 100 × max(0, rho). None when rho is undefined (for instance
    customers rated every attribute the same).
    """
    if spearman is None or n < 2 or k < 1:
        return None
    order_part = max(0.0, spearman)
    if k >= n:
        return _round_half_up(100 * order_part)
    expected = expected_random_hits(k, n)
    top_part = max(0.0, (hits - expected) / (k - expected))
    return _round_half_up(100 * (0.5 * order_part + 0.5 * top_part))


def _round_half_up(value: float) -> int:
    # Python's round() rounds halves to even (72.5 → 72); users expect 72.5 → 73. The small
    # epsilon keeps values like 72.49999999 from float noise landing on the wrong side.
    return min(100, max(0, math.floor(value + 0.5 + 1e-9)))
