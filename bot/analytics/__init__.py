"""Statistics core: staff answers compared with each other and with customer research.

``analyse`` is the entry point; ``compare`` gives the trend between two rounds. The smaller
functions are public so the figures can be reproduced and tested one by one.

May import: ``bot.model`` (the research study type), numpy and scipy.
"""

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
