"""Partial rankings (an employee's top k) turned into full rank vectors.

Every employee names their top k attributes in order. To compare answers with each other and
with customers we need a rank for *every* attribute, so the attributes nobody named share the
ranks that were left over: with n attributes and k named, each unnamed one gets the mean of
ranks k+1..n, i.e. (k + 1 + n) / 2. This keeps every rank vector summing to n(n+1)/2, which is
what Kendall's W and the Friedman statistic assume.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatMatrix = NDArray[np.float64]
BoolMatrix = NDArray[np.bool_]
IntVector = NDArray[np.int64]


@dataclass(frozen=True, slots=True, eq=False)
class RankMatrix:
    """m respondents × n attributes.

    ``ranks[j, i]`` is respondent j's rank of attribute i (1 = most valued); ``listed[j, i]``
    says whether respondent j named attribute i at all (unnamed ones hold the tied mean rank).

    With ``weights`` a row stands for ``weights[j]`` respondents who gave the same answer
    (answers counted in the database: a few thousand distinct rows however many people
    answered). Every figure is then computed from the weighted rows; because ranks are
    multiples of ½, weighted sums are exact and equal the sums over one row per respondent.
    """

    attributes: tuple[str, ...]
    ranks: FloatMatrix
    listed: BoolMatrix
    lengths: IntVector  # how many attributes each respondent named
    weights: IntVector | None = None  # respondents per row; None: one each

    @property
    def respondents(self) -> int:
        if self.weights is None:
            return int(self.ranks.shape[0])
        return int(self.weights.sum())

    def rows(self, index: NDArray[np.intp]) -> RankMatrix:
        """The same matrix restricted to some respondents (e.g. one team)."""
        return RankMatrix(
            self.attributes,
            self.ranks[index],
            self.listed[index],
            self.lengths[index],
            None if self.weights is None else self.weights[index],
        )

    def top_k(self, k: int) -> BoolMatrix:
        """Who put which attribute among their first k (a longer answer counts only its top k)."""
        # ``listed`` is needed as well: for short answers the tied rank of the unnamed ones
        # can itself be ≤ k, and those were not chosen.
        return self.listed & (self.ranks <= k)

    def top_k_counts(self, k: int) -> IntVector:
        """How many respondents put each attribute in their top k (vector of length n)."""
        chosen = self.top_k(k)
        if self.weights is None:
            return np.asarray(chosen.sum(axis=0), dtype=np.int64)
        return np.asarray(self.weights @ chosen.astype(np.int64), dtype=np.int64)

    def top_k_share(self, k: int) -> FloatMatrix:
        """Share of respondents who put each attribute in their top k (vector of length n)."""
        if self.respondents == 0:
            return np.zeros(len(self.attributes))
        if self.weights is None:
            return np.asarray(self.top_k(k).mean(axis=0), dtype=np.float64)
        return np.asarray(self.top_k_counts(k) / self.respondents, dtype=np.float64)

    def mean_ranks(self) -> FloatMatrix:
        """Each attribute's mean rank over the respondents (vector of length n)."""
        return mean_rows(self.ranks, self.weights)

    def expanded(self) -> FloatMatrix:
        """The rank matrix with one row per respondent (weighted rows repeated)."""
        return expand_rows(self.ranks, self.weights)


def mean_rows(ranks: FloatMatrix, weights: IntVector | None) -> FloatMatrix:
    """Column means of a (weighted) rank matrix: sum / respondents, as ``ranks.mean(axis=0)``.

    Ranks are multiples of ½, so the weighted sum is exact and the mean equals the
    unweighted mean over the repeated rows to the last bit."""
    if weights is None:
        return np.asarray(ranks.mean(axis=0), dtype=np.float64)
    return np.asarray((weights @ ranks) / int(weights.sum()), dtype=np.float64)


def expand_rows(ranks: FloatMatrix, weights: IntVector | None) -> FloatMatrix:
    """One row per respondent: each row repeated by its weight (for small groups only)."""
    if weights is None:
        return ranks
    return np.asarray(np.repeat(ranks, weights, axis=0), dtype=np.float64)


def rank_matrix(
    attributes: Sequence[str],
    answers: Sequence[Sequence[str]],
    weights: Sequence[int] | IntVector | None = None,
) -> RankMatrix:
    """Build the m×n rank matrix from ordered answers (best first, distinct, non-empty).

    ``weights``: how many respondents gave each answer (each at least 1); None: one each.
    Raises ``ValueError`` naming the first bad answer: an unknown attribute, a repeated one,
    or an empty answer.
    """
    names = tuple(attributes)
    if len(set(names)) != len(names):
        raise ValueError("attribute names must be distinct")
    n, m = len(names), len(answers)
    lengths = np.fromiter((len(a) for a in answers), dtype=np.int64, count=m)
    if m and lengths.min() == 0:
        raise ValueError(f"answer {int(np.argmin(lengths))} ranks no attribute")
    position = {name: i for i, name in enumerate(names)}
    total = int(lengths.sum())
    cols = np.fromiter(
        (position.get(name, -1) for answer in answers for name in answer), np.intp, count=total
    )
    rows = np.repeat(np.arange(m), lengths)
    if total and cols.min() < 0:
        bad = int(np.argmin(cols))
        raise ValueError(f"answer {int(rows[bad])} names an attribute not asked about")
    # Position of each entry within its own answer: 1 for the first named, 2 for the next...
    starts = np.cumsum(lengths) - lengths
    places = np.arange(total) - np.repeat(starts, lengths) + 1
    ranks = np.repeat(((lengths + 1 + n) / 2.0)[:, None], n, axis=1)
    listed = np.zeros((m, n), dtype=np.bool_)
    ranks[rows, cols] = places
    listed[rows, cols] = True
    # A repeated name overwrites its own cell, so fewer cells are marked than names given.
    repeated = np.flatnonzero(listed.sum(axis=1) != lengths)
    if repeated.size:
        raise ValueError(f"answer {int(repeated[0])} names an attribute twice")
    if weights is None:
        return RankMatrix(names, ranks, listed, lengths)
    counts = np.asarray(weights, dtype=np.int64)
    if counts.shape != (m,) or (m and counts.min() < 1):
        raise ValueError("weights must give a count of at least 1 for every answer")
    return RankMatrix(names, ranks, listed, lengths, counts)


def consensus_order(matrix: RankMatrix, k: int) -> tuple[tuple[str, ...], FloatMatrix]:
    """Attributes best first, plus the mean rank of each attribute (in attribute order).

    Sorted by mean rank; a tie goes to the attribute more people put in their top k, then to
    the alphabetically first name so the same answers always give the same order.
    """
    names = matrix.attributes
    if matrix.respondents == 0:
        mean = np.full(len(names), np.nan)
        return tuple(sorted(names)), mean
    mean = matrix.mean_ranks()
    share = matrix.top_k_share(k)
    alphabetical = np.argsort(np.argsort(np.array(names, dtype=object)))
    # Round away float noise so equal mean ranks really tie and fall to the next key.
    order = np.lexsort((alphabetical, -share, np.round(mean, 9)))
    return tuple(names[i] for i in order), mean
