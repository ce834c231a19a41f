"""One round of answers analysed against customer research: the whole organisation and
every team, for every customer segment."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from bot.analytics.agreement import kendall_w
from bot.analytics.alignment import rank_correlations, rbo_ext, share_exact_top_k, top_k_hits
from bot.analytics.customers import CustomerProfile, customer_profile
from bot.analytics.ranks import RankMatrix, consensus_order, rank_matrix
from bot.analytics.results import (
    Analysis,
    Answer,
    AnswerCount,
    AnswerLike,
    GroupResult,
    SegmentResult,
    Settings,
)
from bot.analytics.score import GroupDraws, component_score, group_draws, score_from_draws
from bot.analytics.surprises import (
    ShareComparison,
    Surprise,
    compare_shares,
    detectable_gap,
    find_surprises,
    rank_gaps,
)
from bot.model.research import ResearchStudy

# Mapping is invariant in its key, so a literal {None: study} or {"smb": study} held in a
# variable would not match Mapping[str | None, ...] alone.
Studies = (
    Mapping[str | None, ResearchStudy] | Mapping[str, ResearchStudy] | Mapping[None, ResearchStudy]
)
Part = tuple[str | None, ResearchStudy, CustomerProfile, tuple[str, ...]]
TOP3 = 3  # what a top-3 study measured


def analyse(
    attributes: Sequence[str],
    answers: Sequence[AnswerLike],
    studies: Studies | None = None,
    *,
    k: int = 3,
    settings: Settings | None = None,
) -> Analysis:
    """Analyse one round of answers.

    ``attributes``: the names asked about. ``answers``: :class:`Answer` objects or
    ``(respondent, teams, ranking)`` tuples, rankings best first; a respondent id that
    appears twice counts once, with its last answer. ``studies`` maps a customer segment
    (None = all customers) to its research; with none, only staff figures are computed.
    Every group (the organisation, each team) with fewer than ``settings.min_group_size``
    answers is returned as suppressed. A top-3 study measured customers' top 3, so its
    shares are tested against each respondent's first 3 (with a poll k below 3 there is no
    such share, and no test).
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    kept = _latest(answers)
    names = tuple(attributes)
    return _analyse(names, kept, rank_matrix(names, [r for _, r in kept]), studies, k, settings)


def analyse_counts(
    attributes: Sequence[str],
    counts: Sequence[AnswerCount],
    studies: Studies | None = None,
    *,
    k: int = 3,
    settings: Settings | None = None,
) -> Analysis:
    """:func:`analyse` for answers already counted: each :class:`AnswerCount` stands for
    ``count`` respondents with the same teams and ranking.

    Time and memory grow with the number of distinct (teams, ranking) rows, not with the
    respondents. Every figure that does not come from random draws (counts, shares, mean
    ranks, Kendall's W and its chi-square test, the score, the share tests and q-values) is
    the same as :func:`analyse` gives on one answer per respondent; the permutation tests
    and the bootstrap are drawn from the same distributions (for groups of more than 50
    respondents the score's null is even the same draw)."""
    if k < 1:
        raise ValueError("k must be at least 1")
    names = tuple(attributes)
    kept = [(tuple(c.teams), tuple(c.ranking)) for c in counts]
    weights = np.fromiter((c.count for c in counts), dtype=np.int64, count=len(counts))
    matrix = rank_matrix(names, [r for _, r in kept], weights)
    return _analyse(names, kept, matrix, studies, k, settings)


def _analyse(
    names: tuple[str, ...],
    kept: Sequence[tuple[tuple[str, ...], tuple[str, ...]]],
    matrix: RankMatrix,
    studies: Studies | None,
    k: int,
    settings: Settings | None,
) -> Analysis:
    settings = settings or Settings()
    profiles = _profiles(names, studies or {}, k)
    overall = _group(matrix, profiles, k, settings)
    if overall is None:
        return Analysis(names, k, settings, None, {})
    teams = {
        team: _group(matrix.rows(rows), profiles, k, settings)
        for team, rows in _team_rows(kept).items()
    }
    return Analysis(names, k, settings, overall, teams)


def _latest(answers: Sequence[AnswerLike]) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """(teams, ranking) per respondent, keeping each respondent's last answer."""
    latest: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
    for answer in answers:
        who, teams, ranking = (
            (answer.respondent, answer.teams, answer.ranking)
            if isinstance(answer, Answer)
            else answer
        )
        # A bare string is a Sequence[str] too; treat it as one team, not as letters.
        team_tuple = (teams,) if isinstance(teams, str) else tuple(teams)
        latest.pop(who, None)  # re-insert so order follows the last answer
        latest[who] = (team_tuple, tuple(ranking))
    return list(latest.values())


def _team_rows(
    kept: Iterable[tuple[tuple[str, ...], tuple[str, ...]]],
) -> dict[str, NDArray[np.intp]]:
    rows: dict[str, list[int]] = {}
    for index, (teams, _) in enumerate(kept):
        for team in dict.fromkeys(teams):
            rows.setdefault(team, []).append(index)
    return {team: np.asarray(found, dtype=np.intp) for team, found in sorted(rows.items())}


def _profiles(
    names: Sequence[str], studies: Studies, k: int
) -> list[tuple[str | None, ResearchStudy, CustomerProfile]]:
    ordered = sorted(studies.items(), key=lambda item: item[0] is not None)  # None first
    return [(seg, study, _profile(seg, study, names, k)) for seg, study in ordered]


def _profile(
    segment: str | None, study: ResearchStudy, names: Sequence[str], k: int
) -> CustomerProfile:
    # The mapping key names the segment, whatever the study file says.
    return replace(customer_profile(study, k, names), segment=segment)


def _group(
    matrix: RankMatrix,
    profiles: Sequence[tuple[str | None, ResearchStudy, CustomerProfile]],
    k: int,
    settings: Settings,
) -> GroupResult | None:
    if matrix.respondents < max(settings.min_group_size, 1):
        return None
    consensus, mean = consensus_order(matrix, k)
    counts = _guarded(matrix.top_k_counts(k), matrix.respondents, settings)
    names = matrix.attributes
    partial: list[Part] = [
        (segment, study, profile, tuple(a for a in names if a in profile.ranks))
        for segment, study, profile in profiles
    ]
    surprises = _surprises(matrix, k, partial, settings)
    draws: dict[tuple[str, ...], GroupDraws] = {}  # segments comparing the same attributes
    segments = tuple(
        _segment(matrix, consensus, k, settings, part, surprises, draws) for part in partial
    )
    return GroupResult(
        respondents=matrix.respondents,
        consensus=consensus,
        mean_ranks={a: float(r) for a, r in zip(names, mean, strict=True)},
        employee_top_k_share={
            a: float(c) / matrix.respondents for a, c in zip(names, counts, strict=True)
        },
        concordance=kendall_w(
            matrix.ranks,
            permutations=settings.permutations,
            seed=settings.seed,
            weights=matrix.weights,
        ),
        segments=segments,
    )


def _guarded(counts: NDArray[np.int64], n: int, settings: Settings) -> NDArray[np.int64]:
    """Counts kept within 1..n-1 when the unanimity guard is on (and the group has two)."""
    if not settings.unanimity_guard or n < 2:
        return counts
    return np.clip(counts, 1, n - 1)


def _surprises(
    matrix: RankMatrix, k: int, parts: Sequence[Part], settings: Settings
) -> list[Surprise]:
    if k < TOP3:
        return []  # nobody named a top 3 to compare with the customers' top-3 shares
    # A top-3 study measured customers' top 3: compare it with the staff's top 3, whatever k.
    # Guarded like every published share: a surprise's staff share must not read 100% either.
    counts = _guarded(matrix.top_k_counts(TOP3), matrix.respondents, settings)
    count_of = dict(zip(matrix.attributes, counts.tolist(), strict=True))
    comparisons: list[ShareComparison] = []
    for _, _, profile, compared in parts:
        staff_counts = [int(count_of[a]) for a in compared]
        comparisons += compare_shares(staff_counts, matrix.respondents, profile, compared)
    # One BH family per group: every attribute of every segment, tested together.
    return find_surprises(comparisons, settings.alpha, settings.min_gap)


def _guarded_share(share: float, n: int, settings: Settings) -> float:
    if not settings.unanimity_guard or n < 2:
        return share
    return min(max(share, 1 / n), (n - 1) / n)


def _segment(
    matrix: RankMatrix,
    consensus: tuple[str, ...],
    k: int,
    settings: Settings,
    part: Part,
    surprises: Sequence[Surprise],
    draws: dict[tuple[str, ...], GroupDraws],
) -> SegmentResult:
    segment, study, profile, compared = part
    staff = tuple(a for a in consensus if a in profile.ranks)
    position = {name: float(i + 1) for i, name in enumerate(staff)}
    correlations = rank_correlations(
        [position[a] for a in compared], [profile.ranks[a] for a in compared]
    )
    top = min(k, len(compared))
    hits = top_k_hits(staff[:top], profile.top(top))
    columns = [matrix.attributes.index(a) for a in compared]
    if compared not in draws:
        draws[compared] = group_draws(
            matrix.ranks[:, columns], settings.score_draws, settings.seed, matrix.weights
        )
    score = score_from_draws(draws[compared], np.array([profile.ranks[a] for a in compared]), top)
    share_test = profile.measured and k >= TOP3
    return SegmentResult(
        segment=segment,
        customers=profile,
        compared=compared,
        not_in_research=tuple(a for a in matrix.attributes if a not in profile.ranks),
        not_asked=tuple(a for a in study.attributes if a not in set(matrix.attributes)),
        consensus=staff,
        top3_hits=hits,
        share_exact_match=_guarded_share(
            share_exact_top_k(matrix, compared, profile.top(top)) or 0.0,
            matrix.respondents,
            settings,
        ),
        spearman=correlations.spearman,
        kendall_tau=correlations.kendall_tau,
        rbo=rbo_ext(staff, profile.order, settings.rbo_p),
        alignment_score=None if score is None else score.score,
        surprises=tuple(s for s in surprises if s.segment == segment),
        score=score,
        component_score=component_score(correlations.spearman, hits, top, len(compared)),
        share_test=share_test,
        detectable_gap=_detectable(matrix.respondents, profile, settings) if share_test else None,
        rank_gaps=rank_gaps(draws[compared].observed.tolist(), profile, compared),
    )


def _detectable(respondents: int, profile: CustomerProfile, settings: Settings) -> float | None:
    if profile.sample_size is None:
        return None
    return detectable_gap(respondents, profile.sample_size, settings.alpha, settings.min_gap)
