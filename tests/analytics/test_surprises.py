from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from bot.analytics import (
    ShareComparison,
    compare_shares,
    customer_profile,
    detectable_gap,
    find_surprises,
    newcombe_interval,
    two_proportion_p,
    wilson_interval,
)

from .conftest import importance_study, ranking_study, top3_study


def test_newcombe_method_10_published_examples() -> None:
    # Newcombe (1998), Statistics in Medicine 17:873-890, Table II, method 10 (hybrid score):
    # (a) 56/70 − 48/80 = 0.2 → 0.0524 to 0.3339; (b) 9/10 − 3/10 → 0.1705 to 0.8090.
    low, high = newcombe_interval(56, 70, 48, 80)
    assert (round(low, 4), round(high, 4)) == (0.0524, 0.3339)
    low, high = newcombe_interval(9, 10, 3, 10)
    assert (round(low, 4), round(high, 4)) == (0.1705, 0.8090)
    # 0/10 − 0/20 follows by hand from the Wilson limits 0.2775 and 0.1611: −0.1611 to 0.2775.
    low, high = newcombe_interval(0, 10, 0, 20)
    assert (round(low, 4), round(high, 4)) == (-0.1611, 0.2775)


@pytest.mark.parametrize(("x", "n"), [(0, 10), (10, 10), (3, 7), (56, 70), (1, 300)])
def test_wilson_matches_scipy(x: int, n: int) -> None:
    ci = stats.binomtest(x, n).proportion_ci(method="wilson")
    assert wilson_interval(x, n) == pytest.approx((ci.low, ci.high), abs=1e-12)


def test_pooled_z_test_equals_uncorrected_chi_square() -> None:
    tables = [(56, 70, 48, 80), (3, 300, 10, 200), (150, 300, 100, 200), (0, 50, 7, 60)]
    for x1, n1, x2, n2 in tables:
        expected = stats.chi2_contingency([[x1, n1 - x1], [x2, n2 - x2]], correction=False).pvalue
        got = two_proportion_p(np.array([x1]), n1, np.array([x2]), n2)[0]
        assert got == pytest.approx(expected, rel=1e-9)


def test_pooled_z_test_with_nothing_to_compare_is_one() -> None:
    p = two_proportion_p(np.array([0, 10]), 10, np.array([0, 20]), 20)
    assert p.tolist() == [1.0, 1.0]


def test_measured_shares_use_two_proportion_test_and_interval() -> None:
    profile = customer_profile(top3_study({"a": 56, "b": 10}, 70), k=3)
    [a, b] = compare_shares([48, 40], 80, profile, ["a", "b"])
    assert a.gap == pytest.approx(0.2)
    assert a.p_value == pytest.approx(
        stats.chi2_contingency([[56, 14], [48, 32]], correction=False).pvalue
    )
    assert a.interval() == pytest.approx((0.0524, 0.3339), abs=5e-5)
    assert b.employee_share == 0.5


def test_research_without_measured_shares_is_not_share_tested() -> None:
    # Formerly a modelled share was tested with an exact binomial test as if measured.
    profile = customer_profile(importance_study({"a": 3.0, "b": 1.0, "c": 1.0, "d": 1.0}), k=1)
    assert compare_shares([10, 30, 30, 30], 100, profile, ["a", "b", "c", "d"]) == []
    ranking = customer_profile(ranking_study(["a", "b", "c"]))
    assert compare_shares([10, 30, 30], 100, ranking, ["a", "b", "c"]) == []


BH_1995 = [
    0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344,
    0.0459, 0.3240, 0.4262, 0.5719, 0.6528, 0.7590, 1.000,
]  # fmt: skip


SIZE = 10_000  # large samples: the gap's interval is narrow, so p-values decide alone


def _comparisons(p_values: list[float], gap: float = 0.5) -> list[ShareComparison]:
    # Staff share 0, customer share ``gap``, both measured on SIZE people. (Flagging now
    # needs the gap's interval, hence the counts; before issue #14 it used the point gap.)
    count = round(gap * SIZE)
    return [
        ShareComparison(f"attr{i:02d}", None, 0, SIZE, count / SIZE, p, count, SIZE)
        for i, p in enumerate(p_values)
    ]


def test_benjamini_hochberg_paper_example() -> None:
    # Benjamini & Hochberg (1995), JRSS B 57:289-300, section 4: of these 15 p-values,
    # at q* = 0.05 exactly the four smallest are rejected (p_(4) = 0.0095 ≤ 4/15·0.05,
    # no larger p_(i) ≤ i/15·0.05). Unadjusted, nine would be below 0.05.
    flagged = find_surprises(_comparisons(BH_1995), alpha=0.05, min_gap=0.15)
    assert sorted(s.attribute for s in flagged) == ["attr00", "attr01", "attr02", "attr03"]
    assert max(s.q_value for s in flagged) == pytest.approx(0.0095 * 15 / 4)


def test_bh_family_is_everything_passed_in() -> None:
    # The same p = 0.02 passes alone but not when tested with 14 unremarkable others.
    assert find_surprises(_comparisons([0.02]))
    assert not find_surprises(_comparisons([0.02] + [0.9] * 14))


def test_small_gaps_are_not_surprises_however_significant() -> None:
    assert not find_surprises(_comparisons([1e-9], gap=0.14))
    assert find_surprises(_comparisons([1e-9], gap=0.14), min_gap=0.10)
    assert not find_surprises(_comparisons([0.04]), alpha=0.01)


def test_kind_and_sign() -> None:
    blind = ShareComparison("quality", "smb", 10, 100, 0.6, 1e-6, 60, 100)
    over = ShareComparison("price", "smb", 80, 100, 0.3, 1e-6, 30, 100)
    by_name = {s.attribute: s for s in find_surprises([blind, over])}
    assert by_name["quality"].kind == "blind_spot"
    assert by_name["quality"].gap == pytest.approx(0.5)
    assert by_name["price"].kind == "overrated"
    assert by_name["price"].gap == pytest.approx(-0.5)
    assert by_name["price"].segment == "smb"


def test_a_gap_is_flagged_only_when_its_whole_interval_clears_the_minimum() -> None:
    # 30 of 50 customers vs 3 of 12 staff: the point gap is 35 points and q is tiny, but the
    # 90 % Newcombe interval (one-sided 95 %) reaches down to about 3 points, below 15.
    small = ShareComparison("support", None, 3, 12, 0.6, 1e-6, 30, 50)
    low, _ = small.interval(0.90)
    assert small.gap == pytest.approx(0.35)
    assert low is not None
    assert low < 0.15
    assert find_surprises([small]) == []
    # The same shares measured on 20 times as many people clear it.
    large = ShareComparison("support", None, 60, 240, 0.6, 1e-6, 600, 1000)
    [flagged] = find_surprises([large])
    assert flagged.ci_low is not None
    assert flagged.ci_low >= 0.15


def test_a_comparison_without_counts_has_no_interval_and_is_never_flagged() -> None:
    assert find_surprises([ShareComparison("a", None, 0, 100, 0.9, 1e-12)]) == []


def test_detectable_gap_shrinks_with_group_size() -> None:
    # 15 points plus z(0.95)·sqrt(¼/12 + ¼/300) = 0.15 + 1.645·0.1472 = 0.392.
    assert detectable_gap(12, 300) == pytest.approx(
        0.15 + 1.6449 * (0.25 / 12 + 0.25 / 300) ** 0.5, abs=1e-4
    )
    assert detectable_gap(12, 300) > detectable_gap(50, 300) > detectable_gap(500, 300) > 0.15
