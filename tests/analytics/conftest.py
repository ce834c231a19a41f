"""Small builders shared by the analytics tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from bot.model.research import ResearchForm, ResearchRow, ResearchStudy


def top3_study(
    counts: Mapping[str, int], sample_size: int, source: str = "survey"
) -> ResearchStudy:
    rows = tuple(ResearchRow(name, top3_count=c) for name, c in counts.items())
    return ResearchStudy(source, ResearchForm.TOP3, rows, sample_size=sample_size)


def ranking_study(order: Sequence[str], source: str = "ranking") -> ResearchStudy:
    rows = tuple(ResearchRow(name, rank=i + 1) for i, name in enumerate(order))
    return ResearchStudy(source, ResearchForm.RANKING, rows)


def importance_study(values: Mapping[str, float], source: str = "scores") -> ResearchStudy:
    rows = tuple(ResearchRow(name, importance=v) for name, v in values.items())
    return ResearchStudy(source, ResearchForm.IMPORTANCE, rows)


def plackett_luce_top(
    rng: np.random.Generator, weights: np.ndarray, people: int, k: int = 3
) -> np.ndarray:
    """Top-k choices (column indices, best first) of ``people`` Plackett-Luce rankers.

    Adding Gumbel noise to log-weights and sorting draws a Plackett-Luce ranking exactly
    (the Gumbel-max trick, e.g. Yellott 1977), which is vectorised.
    """
    scores = np.log(weights) + rng.gumbel(size=(people, len(weights)))
    return np.argsort(-scores, axis=1)[:, :k]
