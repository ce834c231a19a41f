"""The headline alignment score: chance-corrected and top-weighted.

The agreement T between the staff and the customers is a weighted Kendall tau (Vigna 2015,
"A weighted correlation index for rankings with ties", with the additive hyperbolic weigher
of ``scipy.stats.weightedtau``), weighted by the customers' ranks: a pair of attributes
(i, j) weighs 1/r_i + 1/r_j, so disagreeing about the customers' #1 and #2 costs
1 + 1/2 = 1.5 while disagreeing about their #7 and #8 costs 1/7 + 1/8 ≈ 0.27.

The staff side is what the staff actually said: the consensus top k (by mean rank, items tied
in mean rank kept tied), every other attribute tied below it. Ties count as neither agreement
nor disagreement, and T is divided by the total weight of the pairs the customers order:

    T = Σ_{i<j} w_ij · sign(x_j − x_i) · sign(y_j − y_i) / Σ_{i<j, y_i ≠ y_j} w_ij

Why this and not RBO or scipy's own normalisation: the denominator does not depend on the
staff's answers, so when each respondent's answer is shuffled over the attributes (the
permutation null) every pair is as likely to be concordant as discordant and E₀[T] = 0
exactly, for any group size, answer length or tie pattern; RBO's null expectation depends on
the tie pattern of the consensus. With no ties T equals ``scipy.stats.weightedtau`` given the
customers' ranks (the tests check it).

    score = 100 · (T − E₀[T]) / (T_max − E₀[T]) = 100 · T / T_max

where T_max is T when every respondent names the customers' top k in their order: 100 means
exactly that, 0 means no better than shuffled answers, and a negative score means worse than
chance (shown as it is; never below −100).

The permutation p-value and the null's 95th percentile come from ``draws`` shuffles of every
respondent's answer; for large groups (more than ``EXACT_NULL_CELLS`` cells to shuffle) the
shuffled consensus has no ties and its order is a uniformly random permutation, which is what
is drawn instead. The interval is a percentile bootstrap over respondents (for large groups,
its normal limit: the mean ranks drawn from their sampling covariance).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bot.analytics.ranks import FloatMatrix, IntVector, expand_rows, mean_rows

EXACT_NULL_CELLS = 300_000  # draws × respondents × attributes shuffled one by one at most
_TIE_DECIMALS = 9  # mean ranks equal up to float noise are ties


@dataclass(frozen=True, slots=True)
class ScoreResult:
    """The chance-corrected score with its test and interval (scores from −100 to 100)."""

    score: int
    agreement: float  # T
    expected: float  # E₀[T] under the permutation null
    maximum: float  # T_max
    p_value: float  # one-sided: P₀(T ≥ observed), with the observed counted (never 0)
    null_95th: int  # 95th percentile of the score under the null
    ci_low: int
    ci_high: int
    draws: int


@dataclass(frozen=True, slots=True)
class PairWeights:
    """The customers' side of T: pair weights and the customers' order of each pair."""

    weights: FloatMatrix  # n×n, w_ij for i < j where customers order i and j, else 0
    customer_sign: FloatMatrix  # n×n, sign(y_j − y_i)

    @property
    def total(self) -> float:
        return float(self.weights.sum())


def pair_weights(customer_ranks: NDArray[np.float64]) -> PairWeights:
    """Hyperbolic weights 1/r_i + 1/r_j from the customers' ranks (1 = most valued)."""
    y = np.asarray(customer_ranks, dtype=np.float64)
    sign = np.sign(y[None, :] - y[:, None])
    upper = np.triu(np.ones((len(y), len(y)), dtype=np.bool_), k=1)
    inverse = 1.0 / y
    weights = np.where(upper & (sign != 0), inverse[:, None] + inverse[None, :], 0.0)
    return PairWeights(weights, sign)


def staff_top_k(mean_ranks: NDArray[np.float64], k: int) -> NDArray[np.float64]:
    """The staff's side: mean ranks of the consensus top k, +inf (one tie) for the rest.

    Works on any leading shape (…, n). An attribute is in the top k when at most k attributes
    have a mean rank at least as good as its own, so a tie across the k-th place leaves the
    whole tie out rather than picking by name.
    """
    rounded = np.round(np.asarray(mean_ranks, dtype=np.float64), _TIE_DECIMALS)
    as_good = (rounded[..., None, :] <= rounded[..., :, None]).sum(axis=-1)
    return np.where(as_good <= k, rounded, np.inf)


def weighted_agreement(staff: NDArray[np.float64], pairs: PairWeights) -> NDArray[np.float64]:
    """T for staff rank vectors of any leading shape (…, n); lower rank = more valued."""
    with np.errstate(invalid="ignore"):  # inf − inf: two attributes tied below the top k
        difference = staff[..., None, :] - staff[..., :, None]
        staff_sign = np.nan_to_num(np.sign(difference), nan=0.0)
    concordance = (pairs.weights * pairs.customer_sign * staff_sign).sum(axis=(-2, -1))
    return np.asarray(concordance / pairs.total, dtype=np.float64)


def ideal_staff(customer_order: NDArray[np.intp], n: int, k: int) -> NDArray[np.float64]:
    """The staff side when everyone names the customers' top k in the customers' order."""
    ideal = np.full(n, np.inf)
    ideal[customer_order[:k]] = np.arange(1, min(k, n) + 1, dtype=np.float64)
    return ideal


@dataclass(frozen=True, slots=True)
class GroupDraws:
    """A group's mean ranks: observed, under the permutation null, and bootstrapped.

    They depend on the staff's answers only, so one set serves every customer segment.
    """

    observed: NDArray[np.float64]  # n
    null: FloatMatrix  # draws × n
    bootstrap: FloatMatrix  # draws × n


def group_draws(
    ranks: FloatMatrix,
    draws: int = 500,
    seed: int | None = 0,
    weights: IntVector | None = None,
) -> GroupDraws:
    """Draw the null and bootstrap mean ranks of a respondents × attributes rank matrix.

    ``weights``: row j stands for ``weights[j]`` respondents with the same answer (None: one
    each). The observed mean ranks are exact either way. Small groups are expanded to one
    row per respondent and drawn exactly as without weights; for large groups the null does
    not depend on the answers and the bootstrap's normal limit needs only the weighted mean
    and covariance, so nothing is expanded."""
    rng = np.random.default_rng(seed)
    m = ranks.shape[0] if weights is None else int(weights.sum())
    exact = draws * m * ranks.shape[1] <= EXACT_NULL_CELLS
    rows = expand_rows(ranks, weights) if exact else ranks
    return GroupDraws(
        mean_rows(ranks, weights),
        _null_mean_ranks(rows, draws, rng, m),
        _bootstrap_mean_ranks(rows, draws, rng, None if exact else weights),
    )


def chance_corrected_score(
    ranks: FloatMatrix,
    customer_ranks: NDArray[np.float64],
    k: int,
    *,
    draws: int = 500,
    seed: int | None = 0,
) -> ScoreResult | None:
    """Score the staff's rank matrix (respondents × compared attributes) against customers.

    None when it cannot be defined: no respondents, fewer than two attributes, or customers
    who rank every attribute the same.
    """
    if ranks.shape[0] == 0 or ranks.shape[1] < 2:
        return None
    return score_from_draws(group_draws(ranks, draws, seed), customer_ranks, k)


def score_from_draws(
    group: GroupDraws, customer_ranks: NDArray[np.float64], k: int
) -> ScoreResult | None:
    """The score of one group against one customer ranking (see :func:`group_draws`)."""
    n = len(customer_ranks)
    pairs = pair_weights(customer_ranks)
    if n < 2 or pairs.total <= 0:
        return None
    order = np.argsort(customer_ranks, kind="stable")
    maximum = float(weighted_agreement(ideal_staff(order, n, k), pairs))
    if maximum <= 0:
        return None
    observed = float(weighted_agreement(staff_top_k(group.observed, k), pairs))
    null = weighted_agreement(staff_top_k(group.null, k), pairs)
    boot = weighted_agreement(staff_top_k(group.bootstrap, k), pairs)
    exceed = int(np.count_nonzero(null >= observed - 1e-12))
    low, high = np.percentile(boot, [2.5, 97.5])
    return ScoreResult(
        score=to_score(observed, maximum),
        agreement=observed,
        expected=0.0,
        maximum=maximum,
        # The +1 counts the observed arrangement itself (Phipson & Smyth 2010).
        p_value=(1 + exceed) / (1 + len(null)),
        null_95th=to_score(float(np.percentile(null, 95)), maximum),
        ci_low=to_score(float(low), maximum),
        ci_high=to_score(float(high), maximum),
        draws=len(null),
    )


def _null_mean_ranks(
    ranks: FloatMatrix, draws: int, rng: np.random.Generator, m: int
) -> FloatMatrix:
    """Mean rank vectors of ``draws`` groups of ``m`` respondents whose every answer was
    shuffled (``ranks`` holds one row per respondent when the group is small)."""
    n = ranks.shape[1]
    if draws * m * n <= EXACT_NULL_CELLS:
        shuffled = rng.permuted(np.broadcast_to(ranks, (draws, m, n)), axis=2)
        return np.asarray(shuffled.mean(axis=1), dtype=np.float64)
    # Many respondents: the shuffled mean ranks are distinct and exchangeable, so their order
    # is a uniformly random permutation, and only the order matters to T.
    return rng.permuted(np.tile(np.arange(1.0, n + 1), (draws, 1)), axis=1)


def _bootstrap_mean_ranks(
    ranks: FloatMatrix, draws: int, rng: np.random.Generator, weights: IntVector | None
) -> FloatMatrix:
    """Mean rank vectors of ``draws`` resamples of the respondents (with replacement)."""
    n = ranks.shape[1]
    m = ranks.shape[0] if weights is None else int(weights.sum())
    if draws * m * n <= EXACT_NULL_CELLS:
        picks = rng.integers(0, m, size=(draws, m))
        return np.asarray(ranks[picks].mean(axis=1), dtype=np.float64)
    # Large groups: the resampled mean is normal with the sample covariance / m (the CLT),
    # which costs n² instead of m·n per draw. Weighted rows are frequency weights: the same
    # covariance as the repeated rows.
    if weights is None:
        covariance = np.cov(ranks, rowvar=False) / m
    else:
        covariance = np.cov(ranks, rowvar=False, fweights=weights) / m
    mean = mean_rows(ranks, weights)
    return rng.multivariate_normal(mean, covariance, size=draws, method="eigh")


def to_score(agreement: float, maximum: float) -> int:
    """100 · T / T_max, rounded half up, kept within −100..100."""
    value = 100 * agreement / maximum
    # The small epsilon keeps values like 72.49999999 from float noise landing on the wrong
    # side of a half.
    return min(100, max(-100, math.floor(value + 0.5 + 1e-9)))


def expected_random_hits(k: int, n: int) -> float:
    """Expected overlap of two top-k sets when one is a random guess: k · (k / n)."""
    return k * k / n


def component_score(spearman: float | None, hits: int, k: int, n: int) -> int | None:
    """The former headline score, kept in the JSON as a component (not chance-corrected).

    round(100 × (½·max(0, ρ) + ½·max(0, (hits − E)/(k − E)))), E = k²/n, rounded half up;
    100 × max(0, ρ) when k ≥ n. Random answers score 15–17 on average with it, which is why
    it is no longer the headline.
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
    # Python's round() rounds halves to even (72.5 → 72); users expect 72.5 → 73.
    return min(100, max(0, math.floor(value + 0.5 + 1e-9)))
