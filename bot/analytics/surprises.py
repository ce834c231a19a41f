"""Surprises: attributes whose top-k share differs between staff and customers.

Per attribute we compare the share of employees who put it in their top k with the share of
customers who did. The p-values of every attribute and every customer segment of one group
are adjusted together with Benjamini-Hochberg, because reading many gaps at once would
otherwise turn noise into "findings". A surprise needs both a small q-value and a gap large
enough to matter in practice.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from bot.analytics.customers import CustomerProfile
from bot.analytics.lazy import scipy_stats

Kind = Literal["blind_spot", "overrated"]


@dataclass(frozen=True, slots=True)
class ShareComparison:
    """One attribute's staff-vs-customer test, before the multiple-testing adjustment.

    ``gap`` = customer share − employee share: positive means customers value it more than
    staff think (a blind spot). The counts are kept so an interval for the gap can be
    computed for the few comparisons that end up flagged; ``customer_count`` and
    ``customer_size`` are None when the customer share is modelled rather than measured.
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
        """Newcombe interval for the gap; (None, None) for a modelled customer share, which
        has no sampling error we could know."""
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


def wilson_interval(successes: int, trials: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for one proportion (Wilson 1927), without continuity correction.

    The same interval as ``scipy.stats.binomtest(x, n).proportion_ci(method="wilson")`` (the
    tests assert they agree), written out because binomtest also runs an exact two-sided
    test on construction, about 1 ms a call, which adds up over teams × attributes.
    """
    z = float(scipy_stats().norm.isf((1 - level) / 2))
    p = successes / trials
    centre = p + z * z / (2 * trials)
    spread = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    denominator = 1 + z * z / trials
    return max(0.0, (centre - spread) / denominator), min(1.0, (centre + spread) / denominator)


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
    """Test each of ``attributes`` (counts in the same order) against the customer profile.

    Measured customer shares (top-3 studies) get the two-proportion test. Modelled shares
    have no sample size, so the employees' count is tested against the share as a fixed
    value with the exact binomial test (``scipy.stats.binomtest``).
    """
    counts = np.asarray(employee_counts, dtype=np.int64)
    shares = [profile.top_k_share[name] for name in attributes]
    if profile.top_k_count is not None and profile.sample_size is not None:
        customer = np.array([profile.top_k_count[name] for name in attributes], dtype=np.int64)
        size: int | None = profile.sample_size
        ps = two_proportion_p(customer, profile.sample_size, counts, respondents)
        customer_counts: list[int | None] = [int(c) for c in customer]
    else:
        size = None
        ps = np.array(
            [
                scipy_stats().binomtest(int(c), respondents, s).pvalue
                for c, s in zip(counts, shares, strict=True)
            ]
        )
        customer_counts = [None] * len(attributes)
    return [
        ShareComparison(name, profile.segment, int(c), respondents, s, float(p), cc, size)
        for name, c, s, p, cc in zip(attributes, counts, shares, ps, customer_counts, strict=True)
    ]


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
    """Flag comparisons with BH q < ``alpha`` and |gap| ≥ ``min_gap``, largest gap first.

    All comparisons passed in form one family for the adjustment, so pass every attribute of
    every segment of a group together.
    """
    flagged = []
    qs = q_values([c.p_value for c in comparisons])
    for c, q in zip(comparisons, qs, strict=True):
        # A tiny tolerance keeps a gap of exactly min_gap (e.g. 0.65 − 0.5) from being lost
        # to float rounding.
        if q < alpha and abs(c.gap) >= min_gap - 1e-12:
            flagged.append(_surprise(c, q))
    return sorted(flagged, key=lambda s: (-abs(s.gap), s.attribute, s.segment or ""))


def _surprise(c: ShareComparison, q: float) -> Surprise:
    kind: Kind = "blind_spot" if c.gap > 0 else "overrated"
    low, high = c.interval()  # only for flagged ones: the interval costs two scipy calls
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
    )
