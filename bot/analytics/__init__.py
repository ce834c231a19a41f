"""Statistics core: staff answers compared with each other and with customer research.

``analyse`` is the entry point; ``compare`` gives the trend between two rounds. The smaller
functions are public so the figures can be reproduced and tested one by one.

May import: ``bot.model`` (the research study type), numpy and scipy.

Nothing is imported until a name is first used (PEP 562): the result types are plain
dataclasses, but the functions need numpy (and scipy on first use, see ``lazy``), which an
idle server, or one only taking answers, never pays for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.analytics.agreement import Concordance, kendall_w, tie_sum
    from bot.analytics.alignment import (
        Correlations,
        rank_correlations,
        rbo_ext,
        share_exact_top_k,
        top_k_hits,
    )
    from bot.analytics.analysis import analyse, analyse_counts
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
    from bot.analytics.score import (
        ScoreResult,
        chance_corrected_score,
        component_score,
        expected_random_hits,
        pair_weights,
        weighted_agreement,
    )
    from bot.analytics.surprises import (
        RankGap,
        ShareComparison,
        Surprise,
        compare_shares,
        detectable_gap,
        find_surprises,
        newcombe_interval,
        q_values,
        rank_gaps,
        two_proportion_p,
        wilson_interval,
    )
    from bot.analytics.trend import Trend, compare

_WHERE = {
    "Analysis": "bot.analytics.results",
    "Answer": "bot.analytics.results",
    "AnswerCount": "bot.analytics.results",
    "AnswerLike": "bot.analytics.results",
    "Concordance": "bot.analytics.agreement",
    "Correlations": "bot.analytics.alignment",
    "CustomerProfile": "bot.analytics.customers",
    "GroupResult": "bot.analytics.results",
    "RankGap": "bot.analytics.surprises",
    "RankMatrix": "bot.analytics.ranks",
    "ScoreResult": "bot.analytics.score",
    "SegmentResult": "bot.analytics.results",
    "Settings": "bot.analytics.results",
    "ShareComparison": "bot.analytics.surprises",
    "Surprise": "bot.analytics.surprises",
    "Trend": "bot.analytics.trend",
    "analyse": "bot.analytics.analysis",
    "analyse_counts": "bot.analytics.analysis",
    "chance_corrected_score": "bot.analytics.score",
    "compare": "bot.analytics.trend",
    "compare_shares": "bot.analytics.surprises",
    "component_score": "bot.analytics.score",
    "consensus_order": "bot.analytics.ranks",
    "customer_profile": "bot.analytics.customers",
    "detectable_gap": "bot.analytics.surprises",
    "expected_random_hits": "bot.analytics.score",
    "find_surprises": "bot.analytics.surprises",
    "kendall_w": "bot.analytics.agreement",
    "newcombe_interval": "bot.analytics.surprises",
    "pair_weights": "bot.analytics.score",
    "q_values": "bot.analytics.surprises",
    "rank_correlations": "bot.analytics.alignment",
    "rank_gaps": "bot.analytics.surprises",
    "rank_matrix": "bot.analytics.ranks",
    "rbo_ext": "bot.analytics.alignment",
    "share_exact_top_k": "bot.analytics.alignment",
    "tie_sum": "bot.analytics.agreement",
    "top_k_hits": "bot.analytics.alignment",
    "two_proportion_p": "bot.analytics.surprises",
    "weighted_agreement": "bot.analytics.score",
    "wilson_interval": "bot.analytics.surprises",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next lookup is an ordinary global
    return value


__all__ = [
    "Analysis",
    "Answer",
    "AnswerCount",
    "AnswerLike",
    "Concordance",
    "Correlations",
    "CustomerProfile",
    "GroupResult",
    "RankGap",
    "RankMatrix",
    "ScoreResult",
    "SegmentResult",
    "Settings",
    "ShareComparison",
    "Surprise",
    "Trend",
    "analyse",
    "analyse_counts",
    "chance_corrected_score",
    "compare",
    "compare_shares",
    "component_score",
    "consensus_order",
    "customer_profile",
    "detectable_gap",
    "expected_random_hits",
    "find_surprises",
    "kendall_w",
    "newcombe_interval",
    "pair_weights",
    "q_values",
    "rank_correlations",
    "rank_gaps",
    "rank_matrix",
    "rbo_ext",
    "share_exact_top_k",
    "tie_sum",
    "top_k_hits",
    "two_proportion_p",
    "weighted_agreement",
    "wilson_interval",
]
