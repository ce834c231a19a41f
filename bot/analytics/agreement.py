"""How much employees agree with each other: Kendall's coefficient of concordance W.

W = 12 S / (m²(n³ − n) − m ΣT)  (Kendall & Babington Smith 1939, with the tie correction),
where S is the sum of squared deviations of the attribute rank sums from their mean and
T_j = Σ(t³ − t) over the tie groups of rater j. Partial answers always tie the unnamed
attributes, so without the correction W would be biased low.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bot.analytics.lazy import scipy_stats
from bot.analytics.ranks import FloatMatrix, IntVector, expand_rows

PERMUTATION_BELOW = 20  # the chi-square approximation is poor for few raters


@dataclass(frozen=True, slots=True)
class Concordance:
    """Kendall's W with its tests.

    ``w`` is None when agreement is undefined: fewer than two respondents or attributes, or
    every respondent tied every attribute. Then all test figures are None too.
    ``permutation_p`` is only computed for fewer than 20 respondents.
    """

    w: float | None
    chi2: float | None
    df: int
    p_value: float | None
    permutation_p: float | None


def tie_sum(ranks: FloatMatrix, weights: IntVector | None = None) -> float:
    """Σ over raters and tie groups of (t³ − t); vectorised, no loop over raters.

    With ``weights`` row j stands for ``weights[j]`` raters with the same ranks. Every term
    is an integer, so the weighted sum is exact and equals the sum over repeated rows."""
    m, n = ranks.shape
    if m == 0 or n == 0:
        return 0.0
    ordered = np.sort(ranks, axis=1)
    # A run starts at each row's first cell or wherever the value changes; every row starts
    # a run, so runs never cross rows when the matrix is flattened.
    starts = np.ones((m, n), dtype=np.bool_)
    starts[:, 1:] = ~np.isclose(ordered[:, 1:], ordered[:, :-1])
    run_starts = np.flatnonzero(starts.ravel())
    lengths = np.diff(np.append(run_starts, m * n)).astype(np.float64)
    if weights is None:
        return float(np.sum(lengths**3 - lengths))
    per_row = np.bincount(run_starts // n, weights=lengths**3 - lengths, minlength=m)
    return float(np.sum(per_row * weights))


def _statistic(rank_sums: NDArray[np.float64], denominator: float) -> NDArray[np.float64]:
    deviations = rank_sums - rank_sums.mean(axis=-1, keepdims=True)
    return np.asarray(12.0 * np.sum(deviations**2, axis=-1) / denominator, dtype=np.float64)


def kendall_w(
    ranks: FloatMatrix,
    *,
    permutations: int = 2000,
    seed: int | None = 0,
    weights: IntVector | None = None,
) -> Concordance:
    """Kendall's W of an m×n rank matrix (rows = respondents), tie-corrected.

    ``weights``: row j stands for ``weights[j]`` respondents (None: one each). W and its
    chi-square test come from the weighted rank sums and tie sums, which are exact, so they
    equal W of the matrix with every row repeated; the permutation test (below 20
    respondents) shuffles the repeated rows."""
    n = ranks.shape[1]
    m = ranks.shape[0] if weights is None else int(weights.sum())
    df = max(n - 1, 0)
    none = Concordance(None, None, df, None, None)
    if m < 2 or n < 2:
        return none
    denominator = m * m * (n**3 - n) - m * tie_sum(ranks, weights)
    if denominator <= 1e-9 * m * m * (n**3 - n):
        return none
    rank_sums = ranks.sum(axis=0) if weights is None else weights @ ranks
    w = float(_statistic(rank_sums, denominator))
    w = min(max(w, 0.0), 1.0)  # float noise only; W is in [0, 1] by construction
    chi2 = m * (n - 1) * w
    p_value = float(scipy_stats().chi2.sf(chi2, df))
    permutation_p = None
    if m < PERMUTATION_BELOW and permutations > 0:
        permutation_p = _permutation_p(
            expand_rows(ranks, weights), w, denominator, permutations, seed
        )
    return Concordance(w, chi2, df, p_value, permutation_p)


def _permutation_p(
    ranks: FloatMatrix, w: float, denominator: float, permutations: int, seed: int | None
) -> float:
    """Exchange each rater's ranks among attributes independently (the null of no agreement).

    Shuffling within a row keeps that rater's ties, so the tie-corrected denominator is the
    same for every permutation and only S needs recomputing.
    """
    rng = np.random.default_rng(seed)
    stacked = np.broadcast_to(ranks, (permutations, *ranks.shape))
    shuffled = rng.permuted(stacked, axis=2)
    null_w = _statistic(shuffled.sum(axis=1), denominator)
    # The +1 counts the observed arrangement itself (Phipson & Smyth 2010): p is never 0.
    exceed = int(np.count_nonzero(null_w >= w - 1e-12))
    return (1 + exceed) / (1 + permutations)
