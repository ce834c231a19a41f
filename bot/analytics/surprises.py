"""Surprises: attributes whose top-3 share differs between staff and customers.

Per attribute we compare the share of employees who put it in their top 3 with the share of
customers who did, which only a top-3 study measured (research in the ranking or importance
form has no share to test: it is compared by order, see :class:`RankGap`). The p-values of
every attribute and every customer segment of one group are adjusted together with
Benjamini-Hochberg, because reading many gaps at once would otherwise turn noise into
"findings". A surprise needs both a small q-value and an interval for the gap that lies
wholly beyond the minimum gap worth reporting: a point estimate past 15 points is not enough.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from statistics import NormalDist
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from bot.analytics.customers import CustomerProfile
from bot.analytics.lazy import scipy_stats

Kind = Literal["blind_spot", "overrated"]


@dataclass(frozen=True, slots=True)
class RankGap:
    """Where customers and staff put one attribute, for research that gives only an order.

    ``difference`` = staff rank − customer rank: positive means staff rank it lower than
    customers do. Ranks run 1..n over the compared attributes; ties share their mean rank.
    Descriptive only: one customer ranking carries no sampling error to test against.
    """

    attribute: str
    customer_rank: float
    staff_rank: float

    @property
    def difference(self) -> float:
        return self.staff_rank - self.customer_rank


@dataclass(frozen=True, slots=True)
class ShareComparison:
    """One attribute's staff-vs-customer test, before the multiple-testing adjustment.

    ``gap`` = customer share − employee share: positive means customers value it more than
    staff think (a blind spot). The counts are kept so an interval for the gap can be
    computed for the comparisons with a small q; without ``customer_count`` and
    ``customer_size`` there is no interval and the comparison is never flagged.
    """

    attribute: str
    segment: str | None
    employee_count: int
    respondents: int
    customer_share: float
    p_value: float
    customer_count: int | None = None
    customer_size: int | None = None

    @property
    def employee_share(self) -> float:
        return self.employee_count / self.respondents

    @property
    def gap(self) -> float:
        return self.customer_share - self.employee_share

    def interval(self, level: float = 0.95) -> tuple[float | None, float | None]:
        """Newcombe interval for the gap; (None, None) without the customers' counts."""
        if self.customer_count is None or self.customer_size is None:
            return None, None
        return newcombe_interval(
            self.customer_count, self.customer_size, self.employee_count, self.respondents, level
        )


@dataclass(frozen=True, slots=True)
class Surprise:
    attribute: str
    segment: str | None
    kind: Kind
    employee_share: float
    customer_share: float
    gap: float  # customer share − employee share
    p_value: float
    q_value: float
    ci_low: float | None
    ci_high: float | None
    ci_level: float = 0.90  # the interval's level: 1 − 2α (one-sided α at each end)


def wilson_interval(successes: int, trials: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for one proportion (Wilson 1927), without continuity correction.

    The same interval as ``scipy.stats.binomtest(x, n).proportion_ci(method="wilson")`` (the
    tests assert they agree), written out because binomtest also runs an exact two-sided
    test on construction, about 1 ms a call, which adds up over teams × attributes.
    """
    z = _normal_quantile(1 - (1 - level) / 2)
    p = successes / trials
    centre = p + z * z / (2 * trials)
    spread = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    denominator = 1 + z * z / trials
    return max(0.0, (centre - spread) / denominator), min(1.0, (centre + spread) / denominator)


@cache
def _normal_quantile(probability: float) -> float:
    # The standard library's inverse normal: scipy's norm.isf costs ~0.2 ms a call, and an
    # interval is computed for every comparison with a small q.
    return NormalDist().inv_cdf(probability)


def newcombe_interval(
    x1: int, n1: int, x2: int, n2: int, level: float = 0.95
) -> tuple[float, float]:
    """Interval for p1 − p2: Newcombe (1998) method 10, the hybrid score interval.

    Newcombe, "Interval estimation for the difference between independent proportions",
    Statistics in Medicine 17:873-890. Built from each proportion's Wilson interval; unlike
    the Wald interval it stays inside [−1, 1] and keeps its coverage near 0 % and 100 %.
    """
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson_interval(x1, n1, level)
    l2, u2 = wilson_interval(x2, n2, level)
    delta = math.hypot(p1 - l1, u2 - p2)
    epsilon = math.hypot(u1 - p1, p2 - l2)
    return p1 - p2 - delta, p1 - p2 + epsilon


def two_proportion_p(
    x1: NDArray[np.int64], n1: int, x2: NDArray[np.int64], n2: int
) -> NDArray[np.float64]:
    """Two-sided pooled two-proportion z-test, vectorised over attributes.

    z = (p1 − p2) / sqrt(p̄(1 − p̄)(1/n1 + 1/n2)), p = 2·Φ(−|z|) (e.g. Agresti, "Categorical
    Data Analysis", the score test for two binomials). It equals Pearson's chi-square on the
    2×2 table without Yates' correction (χ² = z²; the tests check it against
    ``scipy.stats.chi2_contingency``), but that function takes one table at a time, too slow
    for many teams. Both shares 0 % or both 100 % give p = 1: nothing differs.
    """
    x1 = np.asarray(x1, dtype=np.float64)
    x2 = np.asarray(x2, dtype=np.float64)
    pooled = (x1 + x2) / (n1 + n2)
    variance = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    differ = variance > 0
    z = np.zeros_like(pooled)
    z[differ] = (x1[differ] / n1 - x2[differ] / n2) / np.sqrt(variance[differ])
    return np.asarray(2 * scipy_stats().norm.sf(np.abs(z)), dtype=np.float64)


def compare_shares(
    employee_counts: Sequence[int],
    respondents: int,
    profile: CustomerProfile,
    attributes: Sequence[str],
) -> list[ShareComparison]:
    """Test each of ``attributes`` (staff top-3 counts in the same order) against customers.

    Only measured shares (a top-3 study's counts and sample size) are tested, with the
    two-proportion test; a profile without them gives no comparison at all.
    """
    if profile.top_k_count is None or profile.sample_size is None:
        return []
    counts = np.asarray(employee_counts, dtype=np.int64)
    customer = np.array([profile.top_k_count[name] for name in attributes], dtype=np.int64)
    ps = two_proportion_p(customer, profile.sample_size, counts, respondents)
    return [
        ShareComparison(
            name,
            profile.segment,
            int(count),
            respondents,
            int(chosen) / profile.sample_size,
            float(p),
            int(chosen),
            profile.sample_size,
        )
        for name, count, chosen, p in zip(attributes, counts, customer, ps, strict=True)
    ]


def rank_gaps(
    staff_mean_ranks: Sequence[float], profile: CustomerProfile, attributes: Sequence[str]
) -> tuple[RankGap, ...]:
    """Customers' rank against the staff's consensus rank per attribute, largest gap first."""
    staff = scipy_stats().rankdata(np.round(np.asarray(staff_mean_ranks, dtype=np.float64), 9))
    customers = scipy_stats().rankdata([profile.ranks[name] for name in attributes])
    gaps = [
        RankGap(name, float(c), float(s))
        for name, c, s in zip(attributes, customers, staff, strict=True)
    ]
    return tuple(sorted(gaps, key=lambda g: (-abs(g.difference), g.customer_rank, g.attribute)))


def detectable_gap(
    respondents: int, customer_size: int, alpha: float = 0.05, min_gap: float = 0.15
) -> float:
    """About the smallest share gap a surprise can show with these group sizes.

    The gap's interval must clear ``min_gap`` entirely, so the observed gap must exceed it
    by the interval's half-width; at the least favourable shares (50 %) that is
    z·sqrt(¼/m + ¼/N) (the normal approximation of the Newcombe interval used to flag).
    """
    z = _normal_quantile(1 - alpha)
    half_width = z * math.sqrt(0.25 / respondents + 0.25 / customer_size)
    return min(1.0, min_gap + half_width)


def q_values(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (``scipy.stats.false_discovery_control``)."""
    if not p_values:
        return []
    adjusted = scipy_stats().false_discovery_control(
        np.asarray(p_values, dtype=np.float64), method="bh"
    )
    return [float(q) for q in np.atleast_1d(adjusted)]


def find_surprises(
    comparisons: Sequence[ShareComparison], alpha: float = 0.05, min_gap: float = 0.15
) -> list[Surprise]:
    """Flag comparisons with BH q < ``alpha`` whose whole gap interval lies beyond
    ``min_gap``, largest gap first.

    The interval is Newcombe's at level 1 − 2α: its lower end (for a blind spot, the upper
    end for an overrated attribute) is then a one-sided α test that the true gap exceeds
    ``min_gap``, the question a surprise answers. A comparison without the customers' counts
    has no interval and is never flagged. All comparisons passed in form one family for the
    adjustment, so pass every attribute of every segment of a group together.
    """
    flagged = []
    qs = q_values([c.p_value for c in comparisons])
    for c, q in zip(comparisons, qs, strict=True):
        if q >= alpha:
            continue
        surprise = _surprise(c, q, 1 - 2 * alpha)
        if _beyond(surprise, min_gap):
            flagged.append(surprise)
    return sorted(flagged, key=lambda s: (-abs(s.gap), s.attribute, s.segment or ""))


def _beyond(surprise: Surprise, min_gap: float) -> bool:
    # A tiny tolerance keeps a bound of exactly min_gap from being lost to float rounding.
    if surprise.ci_low is None or surprise.ci_high is None:
        return False
    if surprise.kind == "blind_spot":
        return surprise.ci_low >= min_gap - 1e-12
    return surprise.ci_high <= -min_gap + 1e-12


def _surprise(c: ShareComparison, q: float, level: float) -> Surprise:
    kind: Kind = "blind_spot" if c.gap > 0 else "overrated"
    low, high = c.interval(level)  # only for small q: the interval costs two scipy calls
    return Surprise(
        attribute=c.attribute,
        segment=c.segment,
        kind=kind,
        employee_share=c.employee_share,
        customer_share=c.customer_share,
        gap=c.gap,
        p_value=c.p_value,
        q_value=q,
        ci_low=low,
        ci_high=high,
        ci_level=level,
    )
