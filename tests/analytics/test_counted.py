"""Answers counted per distinct (teams, ranking) give the same figures as one row each.

``analyse_counts`` is what the bot runs on a closed round (the database counts the answers);
``analyse`` on one answer per respondent is the reference. Every figure that does not come
from random draws must be equal to the last bit; the score's permutation null of groups over
50 respondents does not depend on the answers, so its p-value and percentile match too.
"""

from __future__ import annotations

import numpy as np
import pytest

from bot.analytics import (
    Settings,
    analyse,
    analyse_counts,
    chance_corrected_score,
    kendall_w,
    rank_matrix,
    tie_sum,
)
from bot.analytics.score import group_draws

from .conftest import importance_study, plackett_luce_top, ranking_study, top3_study
from .same_figures import counted, deterministic, random_draws

ATTRS = ("price", "quality", "speed", "service", "range", "brand", "eco", "support")
TEAMS = ("ops", "sales", "eng", "hr")


def _rows(
    people: int, seed: int, k: int = 3, overlap: bool = True
) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    rng = np.random.default_rng(seed)
    picks = plackett_luce_top(rng, rng.gamma(2.0, 1.0, len(ATTRS)), people, k)
    teams = rng.integers(0, len(TEAMS), people)
    second = rng.integers(0, len(TEAMS), people)
    rows = []
    for i in range(people):
        member = {TEAMS[teams[i]]}
        if overlap and i % 7 == 0:
            member.add(TEAMS[second[i]])  # some people are in two teams
        length = 1 + i % k if i % 5 == 0 else k  # a few short answers
        rows.append((f"p{i}", tuple(sorted(member)), tuple(ATTRS[j] for j in picks[i][:length])))
    return rows


def _studies() -> dict[str | None, object]:
    rng = np.random.default_rng(7)
    counts = rng.integers(10, 200, len(ATTRS))
    return {
        None: top3_study(dict(zip(ATTRS, counts.tolist(), strict=True)), 300),
        "smb": ranking_study(ATTRS[::-1]),
        "ent": importance_study(dict(zip(ATTRS[:6], [5.0, 4.0, 4.0, 2.0, 1.5, 1.0], strict=True))),
    }


@pytest.mark.parametrize(
    ("people", "seed", "k"), [(12, 1, 3), (90, 2, 3), (600, 3, 3), (400, 4, 5)]
)
@pytest.mark.parametrize("guard", [False, True])
def test_counted_answers_give_identical_figures(
    people: int, seed: int, k: int, guard: bool
) -> None:
    rows = _rows(people, seed, k)
    settings = Settings(unanimity_guard=guard, min_group_size=3)
    studies = _studies()
    one_each = analyse(ATTRS, rows, studies, k=k, settings=settings)
    tally = counted(rows)
    assert len(tally) < len(rows) or people < 50
    grouped = analyse_counts(ATTRS, tally, studies, k=k, settings=settings)
    assert deterministic(grouped) == deterministic(one_each)
    assert grouped.to_json_dict().keys() == one_each.to_json_dict().keys()


def test_large_groups_draw_the_same_null() -> None:
    # Above 50 respondents (8 attributes, 500 draws: over EXACT_NULL_CELLS) the null is a
    # uniformly random order whatever the answers, so p-value and null percentile agree.
    rows = _rows(2_000, 5, overlap=False)
    studies = _studies()
    one_each = analyse(ATTRS, rows, studies)
    grouped = analyse_counts(ATTRS, counted(rows), studies)
    mine, theirs = random_draws(grouped), random_draws(one_each)
    for key, figures in theirs.items():
        if isinstance(figures, tuple):
            assert mine[key][:2] == figures[:2], key
            # The bootstrap's normal limit: the same mean and covariance (frequency weights),
            # so the interval agrees up to float noise in the covariance.
            low, high = mine[key][2:]
            assert abs(low - figures[2]) <= 1, key
            assert abs(high - figures[3]) <= 1, key


def test_weighted_rows_equal_repeated_rows() -> None:
    answers = [("a", "b", "c"), ("b",), ("c", "a"), ("d", "e", "f")]
    weights = np.array([3, 1, 5, 2])
    names = ("a", "b", "c", "d", "e", "f", "g")
    repeated = rank_matrix(
        names, [a for a, w in zip(answers, weights, strict=True) for _ in range(w)]
    )
    grouped = rank_matrix(names, answers, weights)
    assert grouped.respondents == repeated.respondents == 11
    assert np.array_equal(grouped.mean_ranks(), repeated.mean_ranks())
    assert np.array_equal(grouped.top_k_counts(2), repeated.top_k_counts(2))
    assert np.array_equal(grouped.top_k_share(3), repeated.top_k_share(3))
    assert tie_sum(grouped.ranks, grouped.weights) == tie_sum(repeated.ranks)
    assert np.array_equal(np.sort(grouped.expanded(), axis=0), np.sort(repeated.ranks, axis=0))
    w_grouped = kendall_w(grouped.ranks, weights=grouped.weights, permutations=0)
    assert w_grouped == kendall_w(repeated.ranks, permutations=0)


def test_weights_must_be_positive_counts() -> None:
    with pytest.raises(ValueError, match="weights"):
        rank_matrix(("a", "b"), [("a",), ("b",)], [1, 0])
    with pytest.raises(ValueError, match="weights"):
        rank_matrix(("a", "b"), [("a",), ("b",)], [1])


def test_weighted_permutation_tests_keep_their_level() -> None:
    # Small groups are expanded and shuffled as before (only the row order differs), so the
    # permutation tests keep their size: under the null (every answer drawn at random) they
    # reject at about 5 %. Two-name answers over 8 attributes repeat often among 12 people,
    # so the rows really are weighted.
    from bot.analytics.score import score_from_draws

    rng = np.random.default_rng(11)
    customers = np.arange(1.0, len(ATTRS) + 1)
    rejected_w = rejected_score = weighted = 0
    runs = 300
    for _ in range(runs):
        picks = [tuple(rng.permutation(ATTRS)[:2].tolist()) for _ in range(12)]
        tally: dict[tuple[str, ...], int] = {}
        for p in picks:
            tally[p] = tally.get(p, 0) + 1
        weighted += len(tally) < len(picks)
        matrix = rank_matrix(ATTRS, list(tally), list(tally.values()))
        seed = int(rng.integers(1 << 30))
        w = kendall_w(matrix.ranks, weights=matrix.weights, permutations=199, seed=seed)
        assert w.permutation_p is not None
        rejected_w += w.permutation_p <= 0.05
        score = score_from_draws(group_draws(matrix.ranks, 199, seed, matrix.weights), customers, 3)
        assert score is not None
        rejected_score += score.p_value <= 0.05
    assert weighted > runs // 2
    # An exact permutation test rejects at most 5 % under the null; 300 runs have a binomial
    # sd of 1.3 points, so more than 9 % would be a real excess.
    assert rejected_w / runs <= 0.09
    assert rejected_score / runs <= 0.09


def test_chance_corrected_score_unchanged_without_weights() -> None:
    # The one-row-per-respondent path draws exactly as before (the seeded tests pin it).
    ranks = rank_matrix(ATTRS, [ATTRS[:3], ATTRS[2:5], ATTRS[1:4]] * 4).ranks
    first = chance_corrected_score(ranks, np.arange(1.0, 9.0), 3, draws=100, seed=3)
    again = chance_corrected_score(ranks, np.arange(1.0, 9.0), 3, draws=100, seed=3)
    assert first == again
