"""Kendall's W.

We could not recall a published worked table (Siegel & Castellan 1988 §9.4, Legendre 2005)
with enough certainty to quote its numbers, so the two examples below are small enough to
compute by hand (the arithmetic is in the comments) and are also checked against an
independent route: W = χ²_Friedman / (m(n − 1)) with ``scipy.stats.friedmanchisquare``,
which applies the same tie correction.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from bot.analytics import kendall_w, rank_matrix, tie_sum


def friedman_w(ranks: np.ndarray) -> float:
    m, n = ranks.shape
    chi2 = stats.friedmanchisquare(*ranks.T).statistic
    return float(chi2 / (m * (n - 1)))


def test_without_ties_by_hand_and_via_friedman() -> None:
    ranks = np.array([[1, 2, 3, 4], [2, 1, 3, 4], [1, 3, 2, 4]], dtype=float)
    # Rank sums 4, 6, 8, 12; mean 7.5; S = 3.5² + 1.5² + 0.5² + 4.5² = 35.
    # W = 12·35 / (3²·(4³ − 4)) = 420 / 540 = 7/9; χ² = m(n−1)W = 3·3·7/9 = 7 on 3 df.
    result = kendall_w(ranks, permutations=0)
    assert result.w == pytest.approx(7 / 9)
    assert result.w == pytest.approx(friedman_w(ranks))
    assert result.chi2 == pytest.approx(7.0)
    assert result.df == 3
    assert result.p_value == pytest.approx(stats.chi2.sf(7.0, 3))


def test_with_ties_by_hand_and_via_friedman() -> None:
    ranks = np.array([[1, 2.5, 2.5, 4], [1, 2, 3, 4], [1.5, 1.5, 3.5, 3.5]])
    # T = (2³−2) + 0 + 2·(2³−2) = 18. Rank sums 3.5, 6, 9, 11.5; S = 16 + 2.25 + 2.25 + 16
    # = 36.5. W = 12·36.5 / (9·60 − 3·18) = 438 / 486 = 73/81 (0.8111 without correction).
    assert tie_sum(ranks) == 18
    result = kendall_w(ranks, permutations=0)
    assert result.w == pytest.approx(73 / 81)
    assert result.w == pytest.approx(friedman_w(ranks))


def test_partial_answers_match_friedman_on_random_data() -> None:
    rng = np.random.default_rng(7)
    attrs = [f"a{i}" for i in range(8)]
    answers = [tuple(rng.permutation(attrs)[: rng.integers(1, 9)]) for _ in range(40)]
    ranks = rank_matrix(attrs, answers).ranks
    assert kendall_w(ranks).w == pytest.approx(friedman_w(ranks))


def test_perfect_agreement_and_permutation_p() -> None:
    ranks = np.tile(np.arange(1.0, 6.0), (5, 1))
    result = kendall_w(ranks, permutations=2000, seed=3)
    assert result.w == pytest.approx(1.0)
    # P(W = 1 under the null) = (1/5!)^4 ≈ 5e-9: no permutation reaches it.
    assert result.permutation_p == pytest.approx(1 / 2001)


def test_permutation_p_is_seeded_and_close_to_chi2_for_no_agreement() -> None:
    rng = np.random.default_rng(11)
    ranks = np.array([rng.permutation(6) + 1.0 for _ in range(10)])
    first = kendall_w(ranks, permutations=2000, seed=1)
    again = kendall_w(ranks, permutations=2000, seed=1)
    assert first.permutation_p == again.permutation_p
    assert first.permutation_p is not None
    assert first.p_value is not None
    assert abs(first.permutation_p - first.p_value) < 0.1


def test_permutation_only_for_fewer_than_20_raters() -> None:
    rng = np.random.default_rng(0)
    ranks = np.array([rng.permutation(4) + 1.0 for _ in range(20)])
    assert kendall_w(ranks).permutation_p is None
    assert kendall_w(ranks[:19]).permutation_p is not None


@pytest.mark.parametrize(
    "ranks",
    [
        np.array([[1.0, 2.0, 3.0]]),  # one rater
        np.array([[1.0], [1.0]]),  # one attribute
        np.full((4, 3), 2.0),  # every rater ties everything
        np.zeros((0, 3)),
    ],
)
def test_degenerate_inputs_give_none_not_nan(ranks: np.ndarray) -> None:
    result = kendall_w(ranks)
    assert result.w is None
    assert result.chi2 is None
    assert result.p_value is None
    assert result.permutation_p is None


def test_published_pulse_rate_example_sprent_and_smeeton() -> None:
    # Sprent & Smeeton, "Applied Nonparametric Statistical Methods", 3rd ed., section 6.3.2,
    # as reproduced in scipy's friedmanchisquare documentation: pulse rates of 7 students
    # before, immediately after and 5 minutes after exercise; Friedman statistic
    # 10.571428571428571, p = 0.005063414171757498. Kendall's W is that statistic over
    # m(n - 1) = 7 * 2, i.e. 0.7551..., with the same chi-square p-value.
    before = [72, 96, 88, 92, 74, 76, 82]
    right_after = [120, 120, 132, 120, 101, 96, 112]
    five_after = [76, 95, 104, 96, 84, 72, 76]
    ranks = np.array(
        [stats.rankdata(row) for row in zip(before, right_after, five_after, strict=True)],
        dtype=np.float64,
    )
    result = kendall_w(ranks, permutations=0)
    assert result.w == pytest.approx(10.571428571428571 / 14)
    assert result.chi2 == pytest.approx(10.571428571428571)
    assert result.p_value == pytest.approx(0.005063414171757498)
