from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from bot.analytics import (
    chance_corrected_score,
    component_score,
    expected_random_hits,
    pair_weights,
    rank_matrix,
    weighted_agreement,
)
from bot.analytics.score import ideal_staff, staff_top_k, to_score

NAMES = tuple("abcdefgh")
CUSTOMERS = np.arange(1.0, 9.0)  # customers rank a..h in that order


# --- the former score, kept as a component in the JSON ------------------------------------


def test_component_perfect_is_100_and_reversed_is_0() -> None:
    assert component_score(1.0, hits=3, k=3, n=8) == 100
    assert component_score(-1.0, hits=0, k=3, n=8) == 0


def test_component_chance_level_is_0() -> None:
    # Random guess: rho ≈ 0 and E = k²/n = 9/8 hits → no credit on either half.
    assert expected_random_hits(3, 8) == pytest.approx(1.125)
    assert component_score(0.0, hits=1, k=3, n=8) == 0


def test_component_formula() -> None:
    # 100·(0.5·0.5 + 0.5·(2 − 1.125)/(3 − 1.125)) = 25 + 23.33 = 48.33 → 48.
    assert component_score(0.5, hits=2, k=3, n=8) == 48
    # 100·(0.5·0 + 0.5·(3 − 1.125)/1.875) = 50: same top 3, unrelated order.
    assert component_score(-0.2, hits=3, k=3, n=8) == 50
    # Halves round up: rho = 0.05 → 2.5 → 3 (Python's round() would give 2).
    assert component_score(0.05, hits=0, k=3, n=8) == 3


def test_component_k_covering_every_attribute_uses_rho_only() -> None:
    assert component_score(0.6, hits=3, k=3, n=3) == 60


def test_component_undefined_rho_gives_no_score() -> None:
    assert component_score(None, hits=3, k=3, n=8) is None


# --- the chance-corrected, top-weighted score ----------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_agreement_equals_scipy_weightedtau_without_ties(seed: int) -> None:
    # Vigna (2015) weighted tau with the additive hyperbolic weigher and the customers'
    # ranks as the importance ranking, as computed by scipy.stats.weightedtau (which treats
    # larger values as better, hence the minus signs).
    staff = np.random.default_rng(seed).permutation(8) + 1.0
    expected = stats.weightedtau(-staff, -CUSTOMERS, rank=np.arange(8)).statistic
    assert weighted_agreement(staff, pair_weights(CUSTOMERS)) == pytest.approx(expected)


def test_pair_weights_are_hyperbolic_in_the_customers_rank() -> None:
    weights = pair_weights(CUSTOMERS).weights
    assert weights[0, 1] == pytest.approx(1 + 1 / 2)
    assert weights[6, 7] == pytest.approx(1 / 7 + 1 / 8)
    assert weights[1, 0] == 0.0  # each pair once
    tied = pair_weights(np.array([1.0, 2.5, 2.5, 4.0])).weights
    assert tied[1, 2] == 0.0  # customers do not order a tie: it carries no weight


def test_staff_top_k_leaves_a_tie_across_the_kth_place_out() -> None:
    top = staff_top_k(np.array([1.0, 2.0, 3.0, 3.0, 5.0]), 3)
    assert top.tolist() == [1.0, 2.0, np.inf, np.inf, np.inf]
    assert staff_top_k(np.array([1.0, 2.0, 3.0, 4.0]), 3).tolist() == [1.0, 2.0, 3.0, np.inf]


def test_the_customers_top_k_in_order_is_the_best_any_top_k_can_do() -> None:
    pairs = pair_weights(CUSTOMERS)
    best = weighted_agreement(ideal_staff(np.arange(8), 8, 3), pairs)
    every_top3 = [
        weighted_agreement(ideal_staff(np.array(picks + tuple(set(range(8)) - set(picks))), 8, 3),
                           pairs)
        for picks in itertools.permutations(range(8), 3)
    ]  # fmt: skip
    assert max(every_top3) == pytest.approx(best)


def _score(answers: list[tuple[str, ...]], k: int = 3) -> int:
    result = chance_corrected_score(rank_matrix(NAMES, answers).ranks, CUSTOMERS, k, draws=200)
    assert result is not None
    return result.score


def test_perfect_top3_match_is_100_whatever_the_unnamed_order() -> None:
    assert _score([("a", "b", "c")] * 6) == 100


def test_swapping_the_customers_first_two_costs_more_than_the_last_two() -> None:
    full = tuple(NAMES)
    top_swapped = ("b", "a", *full[2:])
    bottom_swapped = (*full[:6], "h", "g")
    assert _score([full] * 6, k=8) == 100
    assert 100 - _score([top_swapped] * 6, k=8) > 100 - _score([bottom_swapped] * 6, k=8) > 0
    assert _score([("b", "a", "c")] * 6) < _score([("a", "c", "b")] * 6) < 100


def test_worse_than_chance_is_negative() -> None:
    assert _score([("h", "g", "f")] * 6) < 0


def test_result_carries_test_and_interval() -> None:
    rng = np.random.default_rng(4)
    answers = [tuple(NAMES[j] for j in rng.permutation(8)[:3]) for _ in range(30)]
    answers += [("a", "b", "c")] * 30
    result = chance_corrected_score(rank_matrix(NAMES, answers).ranks, CUSTOMERS, 3)
    assert result is not None
    assert result.expected == 0.0
    assert result.ci_low <= result.score <= result.ci_high
    assert result.p_value == pytest.approx(1 / 501)  # beaten by no shuffle of 500
    assert result.null_95th < result.score


def test_score_is_undefined_when_customers_tie_everything() -> None:
    ranks = rank_matrix(NAMES, [("a", "b", "c")] * 6).ranks
    assert chance_corrected_score(ranks, np.full(8, 4.5), 3) is None


def test_to_score_rounds_half_up_and_clips() -> None:
    assert to_score(0.725, 1.0) == 73
    assert to_score(-2.0, 1.0) == -100
