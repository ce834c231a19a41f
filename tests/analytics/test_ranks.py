from __future__ import annotations

import numpy as np
import pytest

from bot.analytics import consensus_order, rank_matrix

ATTRS = ("price", "quality", "speed", "service", "range")


def test_unlisted_attributes_get_the_mean_of_the_remaining_ranks() -> None:
    m = rank_matrix(ATTRS, [("speed", "price")])
    # n = 5, k = 2: unnamed ones share ranks 3, 4, 5 → (k + 1 + n) / 2 = 4.
    assert m.ranks.tolist() == [[2.0, 4.0, 1.0, 4.0, 4.0]]
    assert m.listed.tolist() == [[True, False, True, False, False]]
    assert m.lengths.tolist() == [2]


def test_k_may_vary_and_a_complete_ranking_has_no_ties() -> None:
    m = rank_matrix(ATTRS, [("range",), ("range", "service", "speed", "quality", "price")])
    assert m.ranks[0].tolist() == [3.5, 3.5, 3.5, 3.5, 1.0]  # (1 + 1 + 5) / 2 = 3.5
    assert m.ranks[1].tolist() == [5.0, 4.0, 3.0, 2.0, 1.0]
    # Every row keeps the rank total n(n+1)/2 that Kendall's W relies on.
    assert np.allclose(m.ranks.sum(axis=1), 15.0)


def test_top_k_ignores_positions_beyond_k_and_the_tied_unnamed_rank() -> None:
    # Row 1 ranks all four but only its first 3 are its top 3. Row 2 named one: with n = 4
    # the unnamed share rank (1 + 1 + 4)/2 = 3 ≤ k, yet they were not chosen.
    m = rank_matrix(ATTRS[:4], [("price", "quality", "speed", "service"), ("speed",)])
    top = m.top_k(3)
    assert top.tolist() == [[True, True, True, False], [False, False, True, False]]
    assert m.top_k_share(3).tolist() == [0.5, 0.5, 1.0, 0.0]


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ([("price", "nope")], "not asked"),
        ([("price", "price")], "twice"),
        ([()], "no attribute"),
    ],
)
def test_bad_answers_are_refused(answers: list[tuple[str, ...]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rank_matrix(ATTRS, answers)


def test_no_answers_gives_an_empty_matrix() -> None:
    m = rank_matrix(ATTRS, [])
    assert m.ranks.shape == (0, 5)


def test_consensus_by_mean_rank() -> None:
    answers = [("quality", "price"), ("quality", "speed"), ("price", "quality")]
    order, mean = consensus_order(rank_matrix(ATTRS, answers), k=2)
    assert order[:3] == ("quality", "price", "speed")
    assert mean[ATTRS.index("quality")] == pytest.approx((1 + 1 + 2) / 3)


def test_consensus_tie_broken_by_top_k_share_then_name() -> None:
    # n = 3, k = 2, unnamed rank (2 + 1 + 3)/2 = 3. a: 1, 3; b: 2, 2; c: 3, 1 → all mean 2.
    # b is in both top-2s (share 1.0), a and c in one each (0.5) → b, then a, c by name.
    attrs = ("a", "b", "c")
    order, mean = consensus_order(rank_matrix(attrs, [("a", "b"), ("c", "b")]), k=2)
    assert mean.tolist() == [2.0, 2.0, 2.0]
    assert order == ("b", "a", "c")


def test_consensus_full_tie_is_alphabetical() -> None:
    attrs = ("zeta", "alpha", "mid")
    order, _ = consensus_order(rank_matrix(attrs, [("zeta",), ("alpha",), ("mid",)]), k=1)
    assert order == ("alpha", "mid", "zeta")
