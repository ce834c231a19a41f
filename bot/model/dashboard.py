"""The managers' web dashboard: who may look, and the pages' contents as plain values.

The web adapter (``adapters/web/dashboard.py``) turns HTTP requests into calls on
``DashboardApi`` and renders these values as HTML, SVG and CSV; it computes no figure.
Every figure comes from closed rounds' frozen, disclosure-controlled snapshots.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Protocol

from bot.model.mirror import CustomerAgreement
from bot.model.records import WorkspaceInfo
from bot.model.views import ReportView, SurpriseKind


class DashboardAccess(StrEnum):
    OK = "ok"
    EXPIRED = "expired"  # the link or the session is past its time
    INVALID = "invalid"  # not signed by us (tampered, truncated, another purpose)
    REVOKED = "revoked"  # the person no longer has the role, or asked to be forgotten
    SIGNED_OUT = "signed_out"  # no session at all


@dataclass(frozen=True, slots=True)
class Viewer:
    """A manager or admin whose role was checked for this very request."""

    workspace: WorkspaceInfo
    user_id: str
    person_id: int


@dataclass(frozen=True, slots=True)
class Entry:
    """The outcome of opening a link: a session token for the cookie when it was good."""

    access: DashboardAccess
    session: str | None = None
    max_age: int = 0  # seconds the session stays good


@dataclass(frozen=True, slots=True)
class Check:
    access: DashboardAccess
    viewer: Viewer | None = None


class DashboardNotFound(LookupError):
    """A round, segment or team the viewer's workspace does not have (or not closed)."""


# -- pages ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Choice:
    value: str  # what the query string carries ("" = the default)
    label: str


@dataclass(frozen=True, slots=True)
class SegmentScore:
    """One round's staff against one customer segment."""

    segment: str  # "" = all customers
    label: str
    study: str  # the study compared with, e.g. "#3 research_top3.csv"
    score: int | None
    interval: tuple[int, int] | None
    top_hits: int
    k: int


@dataclass(frozen=True, slots=True)
class OverviewRow:
    round_id: int
    label: str
    closed_at: datetime | None
    withheld: str  # why the round shows no figures; "" when it does
    respondents: int | None = None
    invited: int | None = None
    response_rate: float | None = None
    kendall_w: float | None = None
    agreement: str = ""
    scores: tuple[SegmentScore, ...] = ()

    def score_for(self, segment: str) -> SegmentScore | None:
        return next((s for s in self.scores if s.segment == segment), None)


@dataclass(frozen=True, slots=True)
class OverviewPage:
    rows: tuple[OverviewRow, ...]  # oldest first
    segments: tuple[Choice, ...]  # every customer segment the rounds were compared with
    segment: str  # the segment the chart follows


@dataclass(frozen=True, slots=True)
class HeatCell:
    attribute: str
    staff_share: float
    customer_share: float
    kind: SurpriseKind | None  # flagged by the group's own surprise test

    @property
    def gap(self) -> float:
        """Staff share minus customer share: negative = customers value it more."""
        return self.staff_share - self.customer_share


@dataclass(frozen=True, slots=True)
class HeatRow:
    group: str  # "All staff" or a team's name
    cells: tuple[HeatCell, ...] | None  # None: hidden (see ``reason``) or nothing to compare
    reason: str = ""


@dataclass(frozen=True, slots=True)
class HeatmapPage:
    round_id: int
    round_label: str
    rounds: tuple[Choice, ...]
    segment: str
    segments: tuple[Choice, ...]
    study: str
    attributes: tuple[str, ...]
    rows: tuple[HeatRow, ...]
    note: str = ""  # why there is no map (research without shares, figures withheld)


@dataclass(frozen=True, slots=True)
class SurpriseDetail:
    attribute: str
    kind: SurpriseKind
    staff_share: float
    customer_share: float
    q_value: float
    ci_low: float | None  # of customer share minus staff share
    ci_high: float | None
    ci_level: float


@dataclass(frozen=True, slots=True)
class RoundPage:
    round_id: int
    report: ReportView  # the chat report itself
    surprises: tuple[SurpriseDetail, ...]
    rounds: tuple[Choice, ...]
    segments: tuple[Choice, ...]
    teams: tuple[Choice, ...]
    segment: str
    team: str


@dataclass(frozen=True, slots=True)
class StudyRow:
    study_id: int
    source: str
    segment: str  # "" = all customers
    form: str
    conducted_on: date | None
    imported_at: datetime
    sample_size: int | None
    age_days: int
    stale: bool  # older than a year
    mirror: str | None  # the mirror survey it came from
    agreement: CustomerAgreement | None


@dataclass(frozen=True, slots=True)
class CustomersPage:
    studies: tuple[StudyRow, ...]


class DashboardApi(Protocol):
    """What the web adapter asks of the core."""

    async def enter(self, token: str) -> Entry:
        """Check a link's token; a good one gives a session token."""
        ...

    async def check(self, session: str | None) -> Check:
        """Re-check a session on every request: signature, time, person and current role."""
        ...

    async def overview(self, viewer: Viewer, segment: str) -> OverviewPage: ...

    async def heatmap(self, viewer: Viewer, round_id: int | None, segment: str) -> HeatmapPage: ...

    async def round_page(
        self, viewer: Viewer, round_id: int | None, segment: str, team: str
    ) -> RoundPage: ...

    async def customers(self, viewer: Viewer) -> CustomersPage: ...
