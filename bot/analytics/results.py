"""Typed results of an analysis and their JSON form (the shape the bot and the API show)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # their modules need numpy; these types are only annotations here
    from bot.analytics.agreement import Concordance
    from bot.analytics.customers import CustomerProfile
    from bot.analytics.score import ScoreResult
    from bot.analytics.surprises import RankGap, Surprise


@dataclass(frozen=True, slots=True)
class Answer:
    """One employee's answer: their id, the teams they belong to, their ranking best first."""

    respondent: str
    teams: tuple[str, ...]
    ranking: tuple[str, ...]


AnswerLike = Answer | tuple[str, Sequence[str], Sequence[str]]


@dataclass(frozen=True, slots=True)
class AnswerCount:
    """``count`` respondents who belong to the same teams and gave the same ranking.

    A round's answers counted this way (in the database, one row per distinct pair) are all
    the figures need: at most distinct rankings × team combinations rows, however many
    people answered."""

    teams: tuple[str, ...]
    ranking: tuple[str, ...]
    count: int


@dataclass(frozen=True, slots=True)
class Settings:
    alpha: float = 0.05  # false discovery rate for surprises
    min_gap: float = 0.15  # smallest share gap worth reporting (15 percentage points)
    min_group_size: int = 5  # smaller groups are suppressed so nobody can be singled out
    permutations: int = 2000  # for Kendall's W with fewer than 20 respondents
    seed: int | None = 0  # fixed so the same answers always give the same report
    rbo_p: float = 0.9
    score_draws: int = 500  # permutation and bootstrap draws for the alignment score
    # Never let a share say "all" or "none" of a group (that would tell every member's pick):
    # counts behind shares and share tests are kept within 1..n-1. On for everything the bot
    # publishes; off for offline statistics on one's own files.
    unanimity_guard: bool = False


@dataclass(frozen=True, slots=True)
class SegmentResult:
    """The group's answers against one customer segment's research.

    ``compared`` is the attributes both asked about and covered by the research; every
    figure here is computed on them only. ``not_in_research`` were asked but the research
    does not cover them; ``not_asked`` are in the research but were not asked.
    """

    segment: str | None
    customers: CustomerProfile
    compared: tuple[str, ...]
    not_in_research: tuple[str, ...]
    not_asked: tuple[str, ...]
    consensus: tuple[str, ...]  # the staff consensus restricted to ``compared``
    top3_hits: int  # of the customers' top k, how many are in the staff's top k
    share_exact_match: float
    spearman: float | None
    kendall_tau: float | None
    rbo: float
    alignment_score: int | None  # chance-corrected: 0 = chance, 100 = identical top k
    surprises: tuple[Surprise, ...]
    score: ScoreResult | None = None  # the alignment score's test, interval and parts
    component_score: int | None = None  # the former, not chance-corrected score
    share_test: bool = True  # False: the research gives no customer shares to test
    detectable_gap: float | None = None  # smallest share gap a surprise can show at this size
    rank_gaps: tuple[RankGap, ...] = ()  # customers' rank vs staff rank, largest first


@dataclass(frozen=True, slots=True)
class GroupResult:
    """Figures for one group of respondents (the whole organisation or one team).

    ``segments`` lists the "all customers" segment (key None) first when there is one,
    otherwise in the order given; the first is the group's headline segment.
    """

    respondents: int
    consensus: tuple[str, ...]
    mean_ranks: Mapping[str, float]
    employee_top_k_share: Mapping[str, float]
    concordance: Concordance
    segments: tuple[SegmentResult, ...]

    @property
    def headline(self) -> SegmentResult | None:
        return self.segments[0] if self.segments else None


@dataclass(frozen=True, slots=True)
class Analysis:
    """A round's result. ``overall`` is None, and every team too, when suppressed: fewer
    than ``settings.min_group_size`` answers, so nothing about the group is shown."""

    attributes: tuple[str, ...]
    k: int
    settings: Settings
    overall: GroupResult | None
    teams: Mapping[str, GroupResult | None] = field(default_factory=dict)

    @property
    def suppressed(self) -> bool:
        return self.overall is None

    @property
    def respondents(self) -> int | None:
        return None if self.overall is None else self.overall.respondents

    @property
    def kendall_w(self) -> float | None:
        return None if self.overall is None else self.overall.concordance.w

    @property
    def headline(self) -> SegmentResult | None:
        return None if self.overall is None else self.overall.headline

    def to_json_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict. A suppressed group shows ``{"suppressed": true}`` only."""
        teams = {name: _group_json(group, "n") for name, group in self.teams.items()}
        if self.overall is None:
            return {
                "suppressed": True,
                "attributes": list(self.attributes),
                "k": self.k,
                "teams": teams,
            }
        return {
            "attributes": list(self.attributes),
            "k": self.k,
            **_group_json(self.overall, "respondents"),
            "teams": teams,
        }


def surprise_json(surprise: Surprise) -> dict[str, Any]:
    return {
        "attribute": surprise.attribute,
        "segment": surprise.segment,
        "kind": surprise.kind,
        "employee_share": surprise.employee_share,
        "customer_share": surprise.customer_share,
        "gap": surprise.gap,
        "p_value": surprise.p_value,
        "q_value": surprise.q_value,
        "ci_low": surprise.ci_low,
        "ci_high": surprise.ci_high,
        "ci_level": surprise.ci_level,
    }


_NO_SEGMENT: dict[str, Any] = {
    "customer_segment": None,
    "customer_source": None,
    "customer_ranking": None,
    "customer_order": None,
    "customer_top_k_share": None,
    "customer_sample_size": None,
    "compared_attributes": None,
    "not_in_research": None,
    "not_asked": None,
    "top3_hits": None,
    "share_exact_match": None,
    "spearman": None,
    "kendall_tau": None,
    "rbo": None,
    "alignment_score": None,
    "alignment_score_detail": None,
    "component_score": None,
    "share_test": None,
    "detectable_gap": None,
    "rank_gaps": [],
    "surprises": [],
}


def segment_json(result: SegmentResult) -> dict[str, Any]:
    customers = result.customers
    return {
        "customer_segment": result.segment,
        "customer_source": customers.source,
        # Best first, so the mapping reads as the customers' ranking.
        "customer_ranking": {name: customers.ranks[name] for name in customers.order},
        "customer_order": list(customers.order),
        # Only a top-3 study measured shares; the other forms give none (None, not a model).
        "customer_top_k_share": dict(customers.top_k_share) if customers.measured else None,
        "customer_sample_size": customers.sample_size,
        "compared_attributes": list(result.compared),
        "not_in_research": list(result.not_in_research),
        "not_asked": list(result.not_asked),
        "top3_hits": result.top3_hits,
        "share_exact_match": result.share_exact_match,
        "spearman": result.spearman,
        "kendall_tau": result.kendall_tau,
        "rbo": result.rbo,
        "alignment_score": result.alignment_score,
        "alignment_score_detail": None if result.score is None else score_json(result.score),
        "component_score": result.component_score,
        "share_test": result.share_test,
        "detectable_gap": result.detectable_gap,
        "rank_gaps": [rank_gap_json(g) for g in result.rank_gaps],
        "surprises": [surprise_json(s) for s in result.surprises],
    }


def score_json(score: ScoreResult) -> dict[str, Any]:
    return {
        "score": score.score,
        "weighted_tau": score.agreement,
        "expected_under_null": score.expected,
        "maximum": score.maximum,
        "permutation_p": score.p_value,
        "null_95th_percentile": score.null_95th,
        "ci_low": score.ci_low,
        "ci_high": score.ci_high,
        "draws": score.draws,
    }


def rank_gap_json(gap: RankGap) -> dict[str, Any]:
    return {
        "attribute": gap.attribute,
        "customer_rank": gap.customer_rank,
        "staff_rank": gap.staff_rank,
        "difference": gap.difference,
    }


def _group_json(group: GroupResult | None, count_key: str) -> dict[str, Any]:
    if group is None:
        return {"suppressed": True}  # not even the count: it could identify people
    w = group.concordance
    headline = group.headline
    return {
        "suppressed": False,
        count_key: group.respondents,
        "consensus": list(group.consensus),
        "mean_ranks": dict(group.mean_ranks),
        "employee_top_k_share": dict(group.employee_top_k_share),
        "kendall_w": w.w,
        "kendall_w_chi2": w.chi2,
        "kendall_w_df": w.df,
        "kendall_w_p": w.p_value,
        "kendall_w_permutation_p": w.permutation_p,
        **(_NO_SEGMENT if headline is None else segment_json(headline)),
        "segments": [segment_json(s) for s in group.segments],
    }


@cache
def annotation_types() -> dict[str, type]:
    """The types the annotations above name but this module does not import (they live with
    numpy): what ``typing.get_type_hints`` needs to resolve them (``bot.reports.snapshot``)."""
    from bot.analytics.agreement import Concordance
    from bot.analytics.customers import CustomerProfile
    from bot.analytics.score import ScoreResult
    from bot.analytics.surprises import RankGap, Surprise

    return {
        "Concordance": Concordance,
        "CustomerProfile": CustomerProfile,
        "ScoreResult": ScoreResult,
        "RankGap": RankGap,
        "Surprise": Surprise,
    }
