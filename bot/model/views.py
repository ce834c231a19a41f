"""Platform-neutral views: what the core asks an adapter to show.

Adapters render these into Block Kit, Adaptive Cards or plain text with pure functions; the
core never builds platform JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from bot.model.mirror import CustomerAgreement


@dataclass(frozen=True, slots=True)
class PollOption:
    value: str  # stable attribute id, survives renames
    label: str
    description: str = ""


class PollState(StrEnum):
    OPEN = "open"  # not answered yet
    ANSWERED = "answered"  # answered; may still be changed until the deadline
    CLOSED = "closed"  # deadline passed


@dataclass(frozen=True, slots=True)
class PollView:
    round_id: int
    question: str
    options: tuple[PollOption, ...]
    k: int
    deadline: datetime  # timezone-aware, UTC
    state: PollState = PollState.OPEN
    current: tuple[str, ...] = ()  # the recorded answer, option values best first

    def label_of(self, value: str) -> str:
        for option in self.options:
            if option.value == value:
                return option.label
        return value

    @property
    def current_labels(self) -> tuple[str, ...]:
        return tuple(self.label_of(value) for value in self.current)


class SurpriseKind(StrEnum):
    BLIND_SPOT = "blind_spot"  # customers value it, staff do not
    OVERRATED = "overrated"  # staff value it, customers do not


@dataclass(frozen=True, slots=True)
class SurpriseLine:
    attribute: str
    kind: SurpriseKind
    employee_share: float
    customer_share: float
    q_value: float


@dataclass(frozen=True, slots=True)
class Figures:
    """The headline figures for one group (organisation, team or segment)."""

    respondents: int
    alignment_score: int
    kendall_w: float | None
    kendall_w_p: float | None
    top_hits: int
    k: int
    spearman: float | None
    staff_top: tuple[str, ...]
    customer_top: tuple[str, ...]
    # The score's 95 % bootstrap interval, its permutation p-value and the score chance alone
    # reaches in 1 group of 20 of this size; None when unknown.
    score_interval: tuple[int, int] | None = None
    score_p: float | None = None
    chance_95th: int | None = None


@dataclass(frozen=True, slots=True)
class GroupLine:
    """A team or segment in the report; figures are None when the group is hidden."""

    name: str
    figures: Figures | None
    reason: str = "too few answers"  # why a hidden group is hidden, in words

    @property
    def suppressed(self) -> bool:
        return self.figures is None


@dataclass(frozen=True, slots=True)
class TrendLine:
    label: str
    previous: float
    current: float

    @property
    def delta(self) -> float:
        return self.current - self.previous


@dataclass(frozen=True, slots=True)
class ReportView:
    title: str
    round_label: str
    generated_at: datetime
    invited: int
    figures: Figures | None  # None: too few answers to show anything
    agreement_label: str = ""
    research_label: str = ""
    surprises: tuple[SurpriseLine, ...] = ()
    teams: tuple[GroupLine, ...] = ()
    segments: tuple[GroupLine, ...] = ()
    trend: tuple[TrendLine, ...] = ()
    notes: tuple[str, ...] = ()
    chart_png: bytes | None = field(default=None, repr=False)
    team: str | None = None  # the team the report is filtered to, if any
    segment: str | None = None  # the customer segment asked for, if any
    # Smallest share gap (0–1) a surprise can show at this group size; None without a share
    # test (no research, or research that gives no customer shares).
    detectable_gap: float | None = None

    @property
    def detectable_gap_text(self) -> str | None:
        """E.g. "With 12 answers, only gaps above 39 points can be seen." """
        if self.figures is None or self.detectable_gap is None:
            return None
        points = round(100 * self.detectable_gap)
        answers = self.figures.respondents
        return f"With {answers} answers, only gaps above {points} points can be seen."

    # Shown instead of the figures when they are withheld (never with a count).
    withheld: str = "Too few answers to show results."

    @property
    def withheld_for_size(self) -> bool:
        """Figures are missing only because the group is below the minimum size."""
        return self.withheld == ReportView.__dataclass_fields__["withheld"].default

    customers: CustomerAgreement | None = None  # among a mirror survey's customers

    @property
    def response_rate(self) -> float | None:
        if self.figures is None or self.invited == 0:
            return None
        return self.figures.respondents / self.invited


@dataclass(frozen=True, slots=True)
class AnswerSummary:
    round_label: str
    answered_at: datetime
    ranking: tuple[str, ...]
    customer_top: tuple[str, ...]  # empty while the round is open or without research
    hits: int | None


@dataclass(frozen=True, slots=True)
class HomeView:
    """App Home / personal tab: everyone sees their own answers; managers also see the state."""

    user_name: str
    my_answers: tuple[AnswerSummary, ...]
    is_manager: bool
    open_round_label: str | None = None
    open_round_deadline: datetime | None = None
    response_rate: float | None = None
    latest: Figures | None = None


@dataclass(frozen=True, slots=True)
class HelpLine:
    usage: str  # the command as typed after the bot's name, e.g. "report [team:NAME]"
    summary: str


@dataclass(frozen=True, slots=True)
class HelpView:
    """The commands a person may use; each adapter writes them in its platform's syntax."""

    title: str
    lines: tuple[HelpLine, ...]
