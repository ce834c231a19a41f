from __future__ import annotations

import pytest

from bot.analytics import customer_profile
from bot.model.research import ResearchForm, ResearchRow, ResearchStudy

from .conftest import importance_study, ranking_study, top3_study


def test_top3_form_measures_shares_and_ranks_by_count_with_average_ties() -> None:
    study = top3_study({"price": 150, "quality": 90, "speed": 90, "range": 30}, 300)
    profile = customer_profile(study, k=3)
    assert profile.ranks == {"price": 1.0, "quality": 2.5, "speed": 2.5, "range": 4.0}
    assert profile.order == ("price", "quality", "speed", "range")  # tie broken by name
    assert profile.top_k_share["price"] == pytest.approx(0.5)
    assert profile.top_k_count == {"price": 150, "quality": 90, "speed": 90, "range": 30}
    assert profile.sample_size == 300


def test_importance_form_ranks_and_measures_no_share() -> None:
    # Formerly a share min(1, k·w/Σw) was modelled and tested as if measured; an importance
    # study measures no share, so none is given (issue #14).
    study = importance_study({"a": 8.0, "b": 1.0, "c": 1.0})
    profile = customer_profile(study, k=2)
    assert profile.ranks == {"a": 1.0, "b": 2.5, "c": 2.5}
    assert profile.top_k_share == {}
    assert not profile.measured
    assert profile.sample_size is None
    assert profile.top_k_count is None


def test_ranking_form_keeps_the_order_and_measures_no_share() -> None:
    profile = customer_profile(ranking_study(["x", "y", "z", "w"]), k=1)
    assert profile.top_k_share == {}
    assert not profile.measured
    assert profile.order == ("x", "y", "z", "w")


def test_top3_form_is_measured() -> None:
    assert customer_profile(top3_study({"a": 3, "b": 1}, 5)).measured


def test_restricting_to_asked_attributes_reranks_within_them() -> None:
    profile = customer_profile(ranking_study(["x", "y", "z", "w"]), k=1, attributes=["w", "y"])
    assert profile.ranks == {"w": 2.0, "y": 1.0}
    assert profile.order == ("y", "w")


def test_invalid_studies_are_refused() -> None:
    with pytest.raises(ValueError, match="customers asked"):
        customer_profile(
            ResearchStudy("s", ResearchForm.TOP3, (ResearchRow("a", top3_count=1),)), 3
        )
    with pytest.raises(ValueError, match="exceeds"):
        customer_profile(top3_study({"a": 11}, 10))
    with pytest.raises(ValueError, match="no importance"):
        customer_profile(ResearchStudy("s", ResearchForm.IMPORTANCE, (ResearchRow("a", rank=1),)))
    with pytest.raises(ValueError, match="none of the compared"):
        customer_profile(ranking_study(["a"]), attributes=["b"])
    with pytest.raises(ValueError, match="twice"):
        customer_profile(ranking_study(["a", "a"]))
