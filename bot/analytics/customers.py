"""What a research study says customers value, in the same terms as the staff's answers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bot.analytics.lazy import scipy_stats
from bot.model.research import ResearchForm, ResearchStudy


@dataclass(frozen=True, slots=True)
class CustomerProfile:
    """Customers' view of the compared attributes.

    ``ranks``: rank per attribute (1 = most valued; ties get average ranks).
    ``order``: attributes best first, ties broken by name.
    ``top_k_share``: share of customers putting each attribute in their top 3, measured by a
    top-3 study; empty for the other forms, which measure no share (see
    :func:`customer_profile`). ``top_k_count`` and ``sample_size`` likewise.
    """

    source: str
    segment: str | None
    form: ResearchForm
    ranks: Mapping[str, float]
    order: tuple[str, ...]
    top_k_share: Mapping[str, float]
    top_k_count: Mapping[str, int] | None
    sample_size: int | None

    def top(self, k: int) -> tuple[str, ...]:
        return self.order[:k]

    @property
    def measured(self) -> bool:
        """Whether the study measured customer shares (only then is a share test possible)."""
        return self.top_k_count is not None and self.sample_size is not None


def customer_profile(
    study: ResearchStudy, k: int = 3, attributes: Sequence[str] | None = None
) -> CustomerProfile:
    """Turn a study into ranks, an order and a top-k share, over ``attributes`` if given.

    Ranks: a RANKING study keeps its order; IMPORTANCE ranks higher importance first; TOP3
    ranks by how many customers chose the attribute. Ties get average ranks
    (``scipy.stats.rankdata``). Only the compared attributes are ranked, so ranks run 1..n
    within them.

    Top-3 share: a TOP3 study *measured* it (count / customers asked), so it supports a
    two-sample test. RANKING and IMPORTANCE studies do not say how many customers put an
    attribute in their top 3, nor how many customers were asked, and one ranking or one set
    of mean scores cannot fit a choice model with known uncertainty (a Likert shift alone
    would move a modelled share), so no share is made up: the profile has none and those
    forms are compared by order only. ``k`` is kept for callers; it no longer changes the
    profile.
    """
    rows = {row.attribute: row for row in study.rows}
    if len(rows) != len(study.rows):
        raise ValueError(f"study {study.source!r} lists an attribute twice")
    names = tuple(rows) if attributes is None else tuple(a for a in attributes if a in rows)
    if not names:
        raise ValueError(f"study {study.source!r} covers none of the compared attributes")
    values = _values(study, names)
    if study.form is ResearchForm.RANKING:
        ranks = scipy_stats().rankdata(values)
    else:
        ranks = scipy_stats().rankdata(-values)  # more important / chosen more often = better rank
    share, counts = _top_k_share(study, names, values)
    rank_map = {name: float(r) for name, r in zip(names, ranks, strict=True)}
    order = tuple(sorted(names, key=lambda name: (rank_map[name], name)))
    sample = study.sample_size if counts is not None else None
    return CustomerProfile(
        study.source, study.segment, study.form, rank_map, order, share, counts, sample
    )


def _values(study: ResearchStudy, names: Sequence[str]) -> NDArray[np.float64]:
    field = {
        ResearchForm.RANKING: "rank",
        ResearchForm.IMPORTANCE: "importance",
        ResearchForm.TOP3: "top3_count",
    }[study.form]
    rows = {row.attribute: row for row in study.rows}
    raw = [getattr(rows[name], field) for name in names]
    missing = [name for name, value in zip(names, raw, strict=True) if value is None]
    if missing:
        raise ValueError(f"study {study.source!r}: no {field} for {', '.join(missing)}")
    values = np.asarray(raw, dtype=np.float64)
    if np.any(values < 0) or not np.all(np.isfinite(values)):
        raise ValueError(f"study {study.source!r}: {field} must be finite and non-negative")
    return values


def _top_k_share(
    study: ResearchStudy, names: Sequence[str], values: NDArray[np.float64]
) -> tuple[dict[str, float], dict[str, int] | None]:
    if study.form is ResearchForm.TOP3:
        size = study.sample_size
        if size is None or size <= 0:
            raise ValueError(f"top-3 study {study.source!r} needs the number of customers asked")
        if np.any(values > size):
            raise ValueError(f"study {study.source!r}: a count exceeds the customers asked")
        counts = {name: int(v) for name, v in zip(names, values, strict=True)}
        return {name: c / size for name, c in counts.items()}, counts
    return {}, None
