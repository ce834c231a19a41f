from __future__ import annotations

import json

import numpy as np
import pytest

from bot.analytics import Analysis, Answer, Settings, analyse, compare

from .conftest import plackett_luce_top, ranking_study, top3_study

ATTRS = ("price", "quality", "speed", "service", "range", "brand", "eco", "support")
CUSTOMER_ORDER = ATTRS  # customers rank them in the order listed


def _answers(rankings: list[tuple[str, ...]], team: str = "ops") -> list[Answer]:
    return [Answer(f"r{i}", (team,), r) for i, r in enumerate(rankings)]


def _agreeing(n: int, top: tuple[str, ...] = ("price", "quality", "speed")) -> list[Answer]:
    return _answers([top] * n)


def test_perfect_match_scores_100() -> None:
    # Staff all name the customers' top 3 in order; the unnamed five tie and fall back to
    # alphabetical order, so customers are given that same order for the rest.
    rest = tuple(sorted(ATTRS[3:]))
    order = ("price", "quality", "speed", *rest)
    result = analyse(ATTRS, _agreeing(6), {None: ranking_study(order)})
    seg = result.headline
    assert seg is not None
    assert seg.spearman == pytest.approx(1.0)
    assert seg.top3_hits == 3
    assert seg.share_exact_match == 1.0
    assert seg.rbo == pytest.approx(1.0)
    assert seg.alignment_score == 100


def test_reversed_scores_below_chance() -> None:
    # The chance-corrected score shows worse than chance as it is (the former score, kept
    # as ``component_score``, clipped it to 0).
    rest = tuple(sorted(ATTRS[3:]))
    order = ("price", "quality", "speed", *rest)
    result = analyse(ATTRS, _agreeing(6), {None: ranking_study(order[::-1])})
    assert result.headline is not None
    assert result.headline.spearman == pytest.approx(-1.0)
    assert result.headline.top3_hits == 0
    assert result.headline.component_score == 0
    assert result.headline.alignment_score is not None
    assert result.headline.alignment_score < 0


def test_small_teams_are_suppressed_without_any_figure() -> None:
    answers = [
        *_answers([("price", "speed")] * 5, team="big"),
        Answer("x1", ("small", "big"), ("eco",)),
        Answer("x2", ("small",), ("eco", "brand")),
    ]
    result = analyse(ATTRS, answers, {None: top3_study(dict.fromkeys(ATTRS, 30), 100)})
    assert result.respondents == 7
    assert result.teams["small"] is None
    team_big = result.teams["big"]
    assert team_big is not None
    assert team_big.respondents == 6
    data = result.to_json_dict()
    assert data["teams"]["small"] == {"suppressed": True}
    assert data["teams"]["big"]["n"] == 6
    assert data["teams"]["big"]["suppressed"] is False


def test_whole_organisation_suppressed_below_min_group_size() -> None:
    result = analyse(ATTRS, _agreeing(4), {None: ranking_study(ATTRS)})
    assert result.suppressed
    data = result.to_json_dict()
    assert data["suppressed"] is True
    assert "respondents" not in data
    assert "kendall_w" not in data
    assert data["teams"] == {}
    bigger = analyse(ATTRS, _agreeing(4), {None: ranking_study(ATTRS)},
                     settings=Settings(min_group_size=3))  # fmt: skip
    assert not bigger.suppressed


def test_json_has_the_documented_keys_and_is_plain_json() -> None:
    rng = np.random.default_rng(5)
    rankings = [tuple(ATTRS[j] for j in rng.permutation(8)[:3]) for _ in range(30)]
    studies = {None: top3_study(dict(zip(ATTRS, range(10, 90, 10), strict=True)), 100)}
    data = analyse(ATTRS, _answers(rankings), studies).to_json_dict()
    for key in (
        "respondents", "attributes", "consensus", "kendall_w", "kendall_w_p",
        "customer_ranking", "top3_hits", "spearman", "kendall_tau", "rbo",
        "alignment_score", "surprises", "teams", "segments",
    ):  # fmt: skip
        assert key in data, key
    assert data["respondents"] == 30
    assert next(iter(data["customer_ranking"])) == "support"  # best first: largest count
    json.dumps(data, allow_nan=False)  # no numpy scalars, no NaN
    team = data["teams"]["ops"]
    assert team["n"] == 30
    assert team["kendall_w"] == data["kendall_w"]


def test_surprise_json_fields() -> None:
    # 20 staff never name quality; 60 % of 200 customers do: a clear blind spot.
    counts = dict.fromkeys(ATTRS, 40) | {"quality": 120}
    data = analyse(
        ATTRS, _agreeing(20, ("price", "speed", "eco")), {None: top3_study(counts, 200)}
    ).to_json_dict()
    quality = next(s for s in data["surprises"] if s["attribute"] == "quality")
    assert quality["kind"] == "blind_spot"
    assert quality["employee_share"] == 0.0
    assert quality["customer_share"] == pytest.approx(0.6)
    assert quality["q_value"] < 0.05
    assert quality["ci_low"] < 0.6 < quality["ci_high"]
    over = {s["attribute"] for s in data["surprises"] if s["kind"] == "overrated"}
    assert over == {"price", "speed", "eco"}


def test_segments_headline_is_all_customers_and_each_segment_is_reported() -> None:
    smb = ranking_study(ATTRS[::-1], source="smb study")
    everyone = ranking_study(ATTRS, source="all study")
    result = analyse(ATTRS, _agreeing(6), {"smb": smb, None: everyone})
    data = result.to_json_dict()
    assert data["customer_source"] == "all study"
    assert [s["customer_segment"] for s in data["segments"]] == [None, "smb"]
    assert data["segments"][1]["top3_hits"] == 0
    assert data["top3_hits"] == 3


def test_segment_surprises_share_one_bh_family() -> None:
    # Two identical segments: each comparison appears twice, so BH over both at once gives
    # the same q-values as one segment (duplicated p-values keep their ranks proportional).
    study = top3_study(dict.fromkeys(ATTRS, 30) | {"quality": 70}, 100)
    one = analyse(ATTRS, _agreeing(20, ("price", "speed", "eco")), {None: study})
    two = analyse(ATTRS, _agreeing(20, ("price", "speed", "eco")), {None: study, "b": study})
    assert one.headline is not None
    assert two.overall is not None
    q_one = {s.attribute: s.q_value for s in one.headline.surprises}
    q_two = {s.attribute: s.q_value for s in two.overall.segments[1].surprises}
    assert q_one == pytest.approx(q_two)
    assert {s.segment for s in two.overall.segments[1].surprises} == {"b"}


def test_attributes_left_out_are_reported_and_figures_use_the_intersection() -> None:
    study = ranking_study(["price", "quality", "speed", "loyalty"])
    result = analyse(ATTRS, _agreeing(6), {None: study})
    seg = result.headline
    assert seg is not None
    assert seg.compared == ("price", "quality", "speed")
    assert seg.not_in_research == ATTRS[3:]
    assert seg.not_asked == ("loyalty",)
    assert seg.consensus == ("price", "quality", "speed")
    assert seg.spearman == pytest.approx(1.0)


def test_no_research_gives_staff_figures_only() -> None:
    data = analyse(ATTRS, _agreeing(6)).to_json_dict()
    assert data["consensus"][:3] == ["price", "quality", "speed"]
    assert data["alignment_score"] is None
    assert data["surprises"] == []
    assert data["kendall_w"] == pytest.approx(1.0)


def test_tuple_answers_and_repeat_respondents() -> None:
    answers = [("a", ["t"], ["price"]), ("a", "t", ["quality", "speed"])]
    result = analyse(ATTRS, answers, settings=Settings(min_group_size=1))
    assert result.respondents == 1  # the later answer replaces the earlier one
    assert result.overall is not None
    assert result.overall.consensus[:2] == ("quality", "speed")
    assert set(result.teams) == {"t"}  # a bare string is one team name
    assert result.kendall_w is None  # one respondent: agreement undefined


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="k must"):
        analyse(ATTRS, _agreeing(6), k=0)
    with pytest.raises(ValueError, match="not asked"):
        analyse(ATTRS, _answers([("price", "fashion")] * 6))


def test_poll_k_is_used_for_top_k() -> None:
    result = analyse(ATTRS, _agreeing(6, ("price", "quality")), {None: ranking_study(ATTRS)},
                     k=2)  # fmt: skip
    assert result.overall is not None
    assert result.overall.employee_top_k_share["quality"] == 1.0
    assert result.headline is not None
    assert result.headline.top3_hits == 2


def test_trend() -> None:
    study = {None: ranking_study(("price", "quality", "speed", *sorted(ATTRS[3:])))}
    before = analyse(ATTRS, _agreeing(6, ("eco", "brand", "range")), study)
    after = analyse(ATTRS, _agreeing(8), study)
    trend = compare(before, after)
    assert before.headline is not None
    old_score = before.headline.alignment_score
    assert old_score is not None
    assert trend.alignment_score == 100 - old_score
    assert trend.top3_hits == 3
    assert trend.respondents == 2
    assert trend.kendall_w == pytest.approx(0.0)
    suppressed = analyse(ATTRS, _agreeing(2), study)
    gone = compare(suppressed, after)
    assert gone.alignment_score is None
    assert gone.respondents is None
    assert gone.to_json_dict()["spearman"] is None


@pytest.mark.slow
def test_100k_respondents_by_12_attributes() -> None:
    # Speed is measured by bench/report.py, never asserted here (shared, noisy machines).
    attrs = tuple(f"attr{i:02d}" for i in range(12))
    rng = np.random.default_rng(2)
    top = plackett_luce_top(rng, np.linspace(3, 0.5, 12), 100_000)
    answers = [(str(i), (), tuple(attrs[j] for j in row)) for i, row in enumerate(top)]
    counts = dict(zip(attrs, rng.integers(10, 290, 12).tolist(), strict=True))
    studies = {None: top3_study(counts, 300), "smb": ranking_study(attrs)}
    result: Analysis = analyse(attrs, answers, studies)
    assert result.respondents == 100_000
    assert result.headline is not None
    assert result.headline.consensus[0] == "attr00"  # the planted favourite wins
