"""Seeded simulations of the headline figures (issue #14): what a statistician would check.

Each test runs the whole ``analyse`` pipeline on simulated groups, except where a vectorised
run of the score's own functions gives the same figure far faster. Groups are small (12 to
50 respondents, 8 attributes, top 3), as in real teams. The figures these tests measure are
quoted in README ("The figures, in plain words"); ``python -m pytest -s`` prints them.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy.optimize import brentq

from bot.analytics import Answer, SegmentResult, Settings, analyse, rank_matrix
from bot.analytics.score import pair_weights, staff_top_k, weighted_agreement
from bot.model.research import ResearchStudy

from .conftest import importance_study, plackett_luce_top, ranking_study, top3_study

ATTRS = ("price", "quality", "speed", "service", "range", "brand", "eco", "support")
WEIGHTS = np.array([3.0, 2.5, 2.0, 1.5, 1.2, 1.0, 0.8, 0.5])  # customers value price most
RUNS = 200
FAST = Settings(permutations=0, score_draws=200)  # W's permutation p is not looked at here


def _answers(rows: NDArray[np.intp] | Sequence[Sequence[int]]) -> list[Answer]:
    return [Answer(f"r{i}", (), tuple(ATTRS[j] for j in row)) for i, row in enumerate(rows)]


def _headline(
    answers: list[Answer], study: ResearchStudy, k: int = 3, settings: Settings = FAST
) -> SegmentResult:
    result = analyse(ATTRS, answers, {None: study}, k=k, settings=settings)
    assert result.headline is not None
    return result.headline


def _random_answers(rng: np.random.Generator, people: int) -> list[Answer]:
    return _answers(rng.permuted(np.tile(np.arange(8), (people, 1)), axis=1)[:, :3])


def _top3_shares(weights: NDArray[np.float64]) -> NDArray[np.float64]:
    """Each item's chance to be in a Plackett-Luce top 3, exactly (all 336 ordered triples)."""
    shares = np.zeros(len(weights))
    for triple in itertools.permutations(range(len(weights)), 3):
        chosen = weights[list(triple)]
        left = weights.sum() - np.concatenate(([0.0], np.cumsum(chosen)[:-1]))
        shares[list(triple)] += np.prod(chosen / left)
    return shares


def _surveyed(rng: np.random.Generator, weights: NDArray[np.float64], asked: int) -> ResearchStudy:
    counts = np.bincount(plackett_luce_top(rng, weights, asked).ravel(), minlength=len(ATTRS))
    return top3_study(dict(zip(ATTRS, counts.tolist(), strict=True)), asked)


# --- the score -----------------------------------------------------------------------------


def test_pipeline_scores_shuffled_answers_as_the_vectorised_null_does() -> None:
    # 200 groups of 12 shuffled answers through ``analyse``: each score is the one the
    # vectorised statistic below gives, so the 5,000-group null tests speak for the product.
    rng = np.random.default_rng(14)
    study = ranking_study(ATTRS)
    cheap = Settings(permutations=0, score_draws=20)  # draws feed only p and the interval
    pairs = pair_weights(np.arange(1.0, 9.0))
    ideal = weighted_agreement(staff_top_k(np.array([1, 2, 3, 6, 6, 6, 6, 6.0]), 3), pairs)
    scores = []
    for _ in range(RUNS):
        answers = _random_answers(rng, 12)
        score = _headline(answers, study, settings=cheap).alignment_score
        mean_ranks = rank_matrix(ATTRS, [a.ranking for a in answers]).ranks.mean(axis=0)
        expected = 100 * weighted_agreement(staff_top_k(mean_ranks, 3), pairs) / ideal
        assert score == int(np.floor(expected + 0.5 + 1e-9))
        scores.append(score)
    print(f"\nnull, 12 answers, {RUNS} runs through analyse: mean {np.mean(scores):+.1f}, "
          f"95th percentile {np.percentile(scores, 95):.0f}")  # fmt: skip


@pytest.mark.parametrize("people", [5, 12, 50])
def test_score_of_shuffled_answers_averages_zero_over_many_groups(people: int) -> None:
    # The same statistic vectorised over 5,000 groups: the standard error of the mean is
    # about 0.5 points, so ±3 is a sharp check that the centring is right at every size.
    rng = np.random.default_rng(people)
    groups = 5000
    answer = rank_matrix(ATTRS, [ATTRS[:3]]).ranks[0]  # any top-3 answer's rank vector
    shuffled = rng.permuted(np.broadcast_to(answer, (groups, people, 8)), axis=2)
    pairs = pair_weights(np.arange(1.0, 9.0))
    ideal = weighted_agreement(staff_top_k(answer, 3), pairs)
    scores = 100 * weighted_agreement(staff_top_k(shuffled.mean(axis=1), 3), pairs) / ideal
    print(f"\nnull, {people} answers, {groups} groups: mean {scores.mean():+.2f}, "
          f"95th percentile {np.percentile(scores, 95):.0f}")  # fmt: skip
    assert abs(scores.mean()) <= 3


def test_permutation_p_is_calibrated_under_the_null() -> None:
    rng = np.random.default_rng(41)
    study = ranking_study(ATTRS)
    p = [_headline(_random_answers(rng, 12), study).score for _ in range(RUNS)]
    rejected = np.mean([s is not None and s.p_value <= 0.05 for s in p])
    print(f"\nnull, 12 answers: permutation p <= 0.05 in {rejected:.1%} of runs")
    assert rejected <= 0.075  # 5 % plus two binomial standard errors of 200 runs


@pytest.mark.parametrize(
    "study",
    [
        ranking_study(ATTRS),
        importance_study(dict(zip(ATTRS, [6.5, 6.1, 5.9, 5.2, 4.8, 4.4, 4.0, 3.1], strict=True))),
        top3_study(dict(zip(ATTRS, [180, 150, 120, 90, 60, 50, 40, 10], strict=True)), 300),
    ],
    ids=["ranking", "importance", "top3"],
)
def test_perfect_match_scores_100_in_every_form(study: ResearchStudy) -> None:
    assert _headline(_answers([[0, 1, 2]] * 12), study).alignment_score == 100


def test_swapping_the_first_two_costs_more_than_the_last_two() -> None:
    study = ranking_study(ATTRS)
    full = list(range(8))
    swapped_top = [1, 0, *full[2:]]
    swapped_bottom = [*full[:6], 7, 6]

    def score(row: list[int], k: int) -> int:
        value = _headline(_answers([row[:k]] * 12), study, k=k).alignment_score
        assert value is not None
        return value

    # Full rankings (k = 8): both swaps are visible, the top one costs more.
    assert score(full, 8) == 100
    assert 100 - score(swapped_top, 8) > 100 - score(swapped_bottom, 8) > 0
    # Top 3 (k = 3): the customers' #7 and #8 are not named, so swapping them costs nothing.
    assert 100 - score(swapped_top, 3) > 100 - score(swapped_bottom, 3) == 0


# --- surprises -----------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["ranking", "importance"])
def test_customers_exact_order_gives_no_surprise_without_measured_shares(form: str) -> None:
    # Formerly 7 (ranking) or 8 (importance) "surprises" for exactly this.
    likert = dict(zip(ATTRS, [6.5, 6.1, 5.9, 5.2, 4.8, 4.4, 4.0, 3.1], strict=True))
    study = ranking_study(ATTRS) if form == "ranking" else importance_study(likert)
    for k in (3, 8):
        segment = _headline(_answers([list(range(k))] * 50), study, k=k)
        assert segment.surprises == ()
        assert not segment.share_test
        named = {g.attribute: g.difference for g in segment.rank_gaps if g.attribute in ATTRS[:k]}
        assert named == dict.fromkeys(ATTRS[:k], 0.0)


def test_customers_exact_shares_give_no_surprise_in_the_top3_form() -> None:
    # 50 staff whose top-3 answers reproduce the customers' measured top-3 shares exactly
    # (80 %, 80 %, 60 %, 40 %, 40 %, then nobody), 300 customers asked.
    study = top3_study(dict(zip(ATTRS, [240, 240, 180, 120, 120, 0, 0, 0], strict=True)), 300)
    patterns = [[1, 2, 3]] * 10 + [[0, 2, 3]] * 10 + [[0, 1, 4]] * 20 + [[0, 1, 2]] * 10
    staff = np.bincount(np.array(patterns).ravel(), minlength=8) / len(patterns)
    assert staff.tolist() == pytest.approx([0.8, 0.8, 0.6, 0.4, 0.4, 0, 0, 0])
    assert _headline(_answers(patterns), study).surprises == ()


def test_k_equal_to_n_is_no_surprise() -> None:
    # k = n = 3: every attribute is in everyone's top 3, staff and customers alike.
    names = ATTRS[:3]
    study = top3_study(dict.fromkeys(names, 40), 40)
    answers = [Answer(f"r{i}", (), names) for i in range(12)]
    result = analyse(names, answers, {None: study}, k=3, settings=FAST)
    assert result.headline is not None
    assert result.headline.surprises == ()


def test_shifting_likert_means_changes_nothing() -> None:
    base = [6.5, 6.1, 5.9, 5.2, 4.8, 4.4, 4.0, 3.1]
    rng = np.random.default_rng(3)
    answers = _answers(plackett_luce_top(rng, WEIGHTS[::-1].copy(), 30))
    low = _headline(answers, importance_study(dict(zip(ATTRS, base, strict=True))))
    high = _headline(answers, importance_study(dict(zip(ATTRS, np.add(base, 2.5), strict=True))))
    assert (low.alignment_score, low.rank_gaps, low.surprises) == (
        high.alignment_score,
        high.rank_gaps,
        high.surprises,
    )


@pytest.mark.parametrize("form", ["top3", "ranking", "importance"])
def test_false_flags_under_a_true_null_stay_under_5_percent(form: str) -> None:
    # Staff and customers from the same Plackett-Luce preferences; 50 staff per run. Any
    # flagged surprise is a false alarm; the rate of runs with one must stay ≤ 5 %.
    rng = np.random.default_rng({"top3": 1, "ranking": 2, "importance": 3}[form])
    flagged = 0
    for _ in range(RUNS):
        answers = _answers(plackett_luce_top(rng, WEIGHTS, 50))
        if form == "top3":
            study = _surveyed(rng, WEIGHTS, 300)
        elif form == "ranking":
            study = ranking_study(ATTRS)
        else:
            study = importance_study(dict(zip(ATTRS, WEIGHTS.tolist(), strict=True)))
        flagged += bool(_headline(answers, study).surprises)
    print(f"\ntrue null, {form}: runs with a false surprise {flagged / RUNS:.1%}")
    assert flagged / RUNS <= 0.05


@pytest.mark.parametrize(
    ("staff_weight", "minimum_power"),
    [(0.2, 0.80), (0.5, 0.65)],
    ids=["staff-6%-customers-36%", "staff-14%-customers-44%"],
)
def test_power_for_a_30_point_blind_spot_with_50_respondents(
    staff_weight: float, minimum_power: float
) -> None:
    # Staff rarely pick "support" (weight ``staff_weight``); customers' weight for it is
    # raised until its top-3 share is exactly 30 points above the staff's; 300 customers
    # asked, 50 staff answering. Other attributes' true gaps are then under 6 points, so
    # flagging any of them is a false flag. Power depends on the staff's share: the interval
    # of a share near 14 % of 50 is wider than near 6 %, and a flag needs the whole interval
    # past 15 points, so the harder case reaches about 70 %, not 80 % (stated in README).
    support = ATTRS.index("support")

    def with_support(weight: float) -> NDArray[np.float64]:
        raised = WEIGHTS.copy()
        raised[support] = weight
        return raised

    staff = with_support(staff_weight)
    staff_shares = _top3_shares(staff)
    weight = brentq(
        lambda w: _top3_shares(with_support(w))[support] - staff_shares[support] - 0.30,
        staff_weight,
        20.0,
    )
    customers = with_support(weight)
    true_gaps = _top3_shares(customers) - staff_shares
    assert true_gaps[support] == pytest.approx(0.30)
    assert np.abs(np.delete(true_gaps, support)).max() < 0.10
    rng = np.random.default_rng(30)
    found = small_flags = 0
    for _ in range(RUNS):
        segment = _headline(
            _answers(plackett_luce_top(rng, staff, 50)), _surveyed(rng, customers, 300)
        )
        kinds = {s.attribute: s.kind for s in segment.surprises}
        found += kinds.pop("support", None) == "blind_spot"
        small_flags += bool(kinds)
    print(f"\n30-point blind spot ({staff_shares[support]:.0%} -> "
          f"{staff_shares[support] + 0.30:.0%}), 50 staff, 300 customers: power "
          f"{found / RUNS:.1%}; runs flagging a gap under 10 points {small_flags / RUNS:.1%}")  # fmt: skip
    assert found / RUNS >= minimum_power
    assert small_flags / RUNS <= 0.05
