from __future__ import annotations

import pytest

from bot.analytics import alignment_score, expected_random_hits


def test_perfect_is_100_and_reversed_is_0() -> None:
    assert alignment_score(1.0, hits=3, k=3, n=8) == 100
    assert alignment_score(-1.0, hits=0, k=3, n=8) == 0


def test_chance_level_is_0() -> None:
    # Random guess: rho ≈ 0 and E = k²/n = 9/8 hits → no credit on either half.
    assert expected_random_hits(3, 8) == pytest.approx(1.125)
    assert alignment_score(0.0, hits=1, k=3, n=8) == 0


def test_formula() -> None:
    # 100·(0.5·0.5 + 0.5·(2 − 1.125)/(3 − 1.125)) = 25 + 23.33 = 48.33 → 48.
    assert alignment_score(0.5, hits=2, k=3, n=8) == 48
    # 100·(0.5·0 + 0.5·(3 − 1.125)/1.875) = 50: same top 3, unrelated order.
    assert alignment_score(-0.2, hits=3, k=3, n=8) == 50
    # Halves round up: rho = 0.05 → 2.5 → 3 (Python's round() would give 2).
    assert alignment_score(0.05, hits=0, k=3, n=8) == 3


def test_k_covering_every_attribute_uses_rho_only() -> None:
    assert alignment_score(0.6, hits=3, k=3, n=3) == 60


def test_undefined_rho_gives_no_score() -> None:
    assert alignment_score(None, hits=3, k=3, n=8) is None
