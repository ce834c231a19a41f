"""Compare two analyses figure by figure: equal to the last bit for every figure that does
not come from random draws (used to show that counted answers give today's figures)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from bot.analytics import Analysis, AnswerCount, GroupResult, SegmentResult


def counted(rows: Iterable[tuple[str, Sequence[str], Sequence[str]]]) -> list[AnswerCount]:
    """(respondent, teams, ranking) rows counted per distinct (teams, ranking)."""
    tally = Counter((tuple(teams), tuple(ranking)) for _, teams, ranking in rows)
    return [AnswerCount(teams, ranking, n) for (teams, ranking), n in tally.items()]


def deterministic(analysis: Analysis) -> dict[str, object]:
    """Every figure of an analysis that does not come from random draws, by group."""
    groups: dict[str | None, GroupResult | None] = {None: analysis.overall}
    groups.update(analysis.teams)
    return {str(name): _group(group) for name, group in groups.items()}


def random_draws(analysis: Analysis) -> dict[str, object]:
    """The figures from random draws (permutation tests, null percentile, bootstrap)."""
    groups: dict[str | None, GroupResult | None] = {None: analysis.overall}
    groups.update(analysis.teams)
    found: dict[str, object] = {}
    for name, group in groups.items():
        if group is None:
            continue
        found[f"{name}/W perm p"] = group.concordance.permutation_p
        for seg in group.segments:
            if seg.score is not None:
                score = seg.score
                found[f"{name}/{seg.segment}"] = (
                    score.p_value,
                    score.null_95th,
                    score.ci_low,
                    score.ci_high,
                )
    return found


def _group(group: GroupResult | None) -> object:
    if group is None:
        return None
    w = group.concordance
    return {
        "respondents": group.respondents,
        "consensus": group.consensus,
        "mean_ranks": dict(group.mean_ranks),
        "shares": dict(group.employee_top_k_share),
        "W": (w.w, w.chi2, w.df, w.p_value),
        "segments": [_segment(s) for s in group.segments],
    }


def _segment(seg: SegmentResult) -> object:
    score = seg.score
    return {
        "segment": seg.segment,
        "compared": seg.compared,
        "consensus": seg.consensus,
        "hits": seg.top3_hits,
        "exact": seg.share_exact_match,
        "spearman": seg.spearman,
        "tau": seg.kendall_tau,
        "rbo": seg.rbo,
        "score": seg.alignment_score,
        "T": None if score is None else (score.agreement, score.maximum, score.expected),
        "component": seg.component_score,
        "share_test": seg.share_test,
        "detectable": seg.detectable_gap,
        "surprises": seg.surprises,  # every share, gap, p, q and interval
        "rank_gaps": seg.rank_gaps,
    }
