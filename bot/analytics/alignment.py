"""How well the employees' consensus matches the customers' ranking."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bot.analytics.lazy import scipy_stats
from bot.analytics.ranks import RankMatrix


@dataclass(frozen=True, slots=True)
class Correlations:
    """None when undefined (fewer than two attributes, or one side ties everything)."""

    spearman: float | None
    kendall_tau: float | None


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else value


def rank_correlations(first: Sequence[float], second: Sequence[float]) -> Correlations:
    """Spearman's rho and Kendall's tau-b of two rank (or score) vectors; ties allowed."""
    if len(first) != len(second):
        raise ValueError("rank vectors differ in length")
    if len(first) < 2:
        return Correlations(None, None)
    with warnings.catch_warnings():
        # A constant vector gives NaN plus a warning; NaN is reported as None instead.
        warnings.simplefilter("ignore", scipy_stats().ConstantInputWarning)
        rho = float(scipy_stats().spearmanr(first, second).statistic)
        tau = float(scipy_stats().kendalltau(first, second, variant="b").statistic)
    return Correlations(_finite(rho), _finite(tau))


def rbo_ext(first: Sequence[str], second: Sequence[str], p: float = 0.9) -> float:
    """Extrapolated rank-biased overlap of two lists of equal length k.

    Webber, Moffat & Zobel (2010), "A similarity measure for indefinite rankings", eq. 30:
        RBO_ext = (X_k / k) · p^k + ((1 − p) / p) · Σ_{d=1..k} (X_d / d) · p^d
    where X_d is the number of items the two top-d prefixes share. 1 for identical lists.
    Not a chance-corrected agreement measure (≈ 0.5 for random orders of 8), so it is shown
    as a detail, never as "alignment".
    """
    if len(first) != len(second):
        raise ValueError("rbo_ext needs two lists of equal length")
    if not 0 < p < 1:
        raise ValueError("p must be in (0, 1)")
    k = len(first)
    if k == 0:
        return 1.0
    overlap = _prefix_overlaps(first, second)
    depths = np.arange(1, k + 1, dtype=np.float64)
    agreement = overlap / depths
    tail = float(agreement[-1]) * p**k
    return tail + (1 - p) / p * float(np.sum(agreement * p**depths))


def _prefix_overlaps(first: Sequence[str], second: Sequence[str]) -> NDArray[np.float64]:
    """X_d for d = 1..k: an item joins the overlap at the depth where both lists have shown it."""
    depth_in_second = {name: d for d, name in enumerate(second)}
    if len(depth_in_second) != len(second) or len(set(first)) != len(first):
        raise ValueError("rbo_ext lists must not repeat items")
    joins = np.zeros(len(first), dtype=np.float64)
    for d, name in enumerate(first):
        other = depth_in_second.get(name)
        if other is not None:
            joins[max(d, other)] += 1
    return np.cumsum(joins)


def top_k_hits(consensus_top: Sequence[str], customer_top: Sequence[str]) -> int:
    """How many of the customers' top k are also in the staff's consensus top k."""
    return len(set(consensus_top) & set(customer_top))


def share_exact_top_k(
    matrix: RankMatrix, compared: Sequence[str], customer_top: Sequence[str]
) -> float | None:
    """Share of respondents whose own top k, as a set, is exactly the customers' top k.

    Only the compared attributes count: a respondent's answer is read with the attributes
    the research does not cover struck out, and their first k remaining names are their set.
    None when there are no respondents.
    """
    if matrix.respondents == 0:
        return None
    columns = {name: i for i, name in enumerate(matrix.attributes)}
    top = [columns[name] for name in customer_top]
    rest = [columns[name] for name in compared if name not in set(customer_top)]
    ranks, listed = matrix.ranks, matrix.listed
    all_named = listed[:, top].all(axis=1)
    worst_top = ranks[:, top].max(axis=1)
    best_rest = ranks[:, rest].min(axis=1) if rest else np.full(matrix.respondents, np.inf)
    # Named ranks are distinct and beat every unnamed one, so "all customer-top attributes
    # named and ranked above everything else compared" means exactly that set.
    exact = all_named & (worst_top < best_rest)
    if matrix.weights is None:
        return float(np.mean(exact))
    return float(int(matrix.weights @ exact) / matrix.respondents)
