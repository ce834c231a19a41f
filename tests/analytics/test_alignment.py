from __future__ import annotations

import pytest

from bot.analytics import rank_correlations, rank_matrix, rbo_ext, share_exact_top_k


def test_spearman_scipy_doc_example() -> None:
    # scipy.stats.spearmanr docstring example: statistic 0.8207826816681233.
    result = rank_correlations([1, 2, 3, 4, 5], [5, 6, 7, 8, 7])
    assert result.spearman == pytest.approx(0.8207826816681233)


def test_kendall_tau_b_scipy_doc_example() -> None:
    # scipy.stats.kendalltau docstring example (tau-b, ties on both sides): -0.47140452079103173.
    result = rank_correlations([12, 2, 1, 12, 2], [1, 4, 7, 1, 0])
    assert result.kendall_tau == pytest.approx(-0.47140452079103173)


def test_correlations_undefined_for_constant_or_short_input() -> None:
    assert rank_correlations([1, 2, 3], [2, 2, 2]).spearman is None
    assert rank_correlations([1, 2, 3], [2, 2, 2]).kendall_tau is None
    assert rank_correlations([1], [1]).spearman is None
    with pytest.raises(ValueError, match="length"):
        rank_correlations([1, 2], [1, 2, 3])


def test_rbo_identical_lists_is_one() -> None:
    # With X_d = d: p^k + ((1−p)/p)·Σ p^d = p^k + (1 − p^k) = 1 (Webber et al. 2010, eq. 30).
    assert rbo_ext(list("abcdefgh"), list("abcdefgh")) == pytest.approx(1.0)
    assert rbo_ext(list("abc"), list("abc"), p=0.5) == pytest.approx(1.0)


def test_rbo_disjoint_lists_is_zero() -> None:
    assert rbo_ext(["a", "b"], ["c", "d"]) == 0.0


def test_rbo_swapped_top_two_by_hand() -> None:
    # S = abc, T = bac, p = 0.9: X_1 = 0, X_2 = 2, X_3 = 3 → A_d = X_d/d = 0, 1, 1.
    # RBO_ext = 1·0.9³ + (0.1/0.9)(0·0.9 + 1·0.81 + 1·0.729) = 0.729 + 0.171 = 0.9.
    assert rbo_ext(list("abc"), list("bac")) == pytest.approx(0.9)


def test_rbo_partial_overlap_by_hand() -> None:
    # S = abcd, T = acef: X = 1, 1, 2, 2 → A = 1, 1/2, 2/3, 1/2.
    # (1/2)·0.9⁴ + (1/9)(0.9 + 0.405 + 0.486 + 0.32805) = 0.32805 + 0.23545 = 0.5635.
    assert rbo_ext(list("abcd"), list("acef")) == pytest.approx(0.5635)


def test_rbo_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="equal length"):
        rbo_ext(["a"], ["a", "b"])
    with pytest.raises(ValueError, match="repeat"):
        rbo_ext(["a", "a"], ["a", "b"])
    with pytest.raises(ValueError, match="p must"):
        rbo_ext(["a"], ["a"], p=1.0)


def test_share_exact_top_k_is_set_based_and_respects_compared() -> None:
    attrs = ("a", "b", "c", "d", "e")
    answers = [
        ("a", "b", "c"),  # same set, same order
        ("c", "a", "b"),  # same set, other order: still a match
        ("a", "b", "d"),  # wrong set
        ("a", "b"),  # too short
        ("e", "a", "b", "c"),  # e is not compared, so its top 3 compared are a, b, c
    ]
    m = rank_matrix(attrs, answers)
    assert share_exact_top_k(m, attrs, ("a", "b", "c")) == pytest.approx(2 / 5)
    assert share_exact_top_k(m, attrs[:4], ("a", "b", "c")) == pytest.approx(3 / 5)
