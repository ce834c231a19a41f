"""The dashboard's pages built from closed rounds' frozen figures.

Pure functions over ``Published`` snapshots (already through disclosure control): a group
hidden there has no figures here either, only the reason. The headline figures go through
``build_report``, the function the chat report uses, so a page cannot show a number the
chat report would not.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from bot.analytics import GroupResult, SegmentResult
from bot.model.dashboard import (
    HeatCell,
    HeatRow,
    OverviewRow,
    SegmentScore,
    SurpriseDetail,
)
from bot.model.records import RoundInfo
from bot.model.views import Figures, ReportView, SurpriseKind
from bot.reports.disclosure import TOO_FEW, Verdicts
from bot.reports.reporting import ReportInput, build_report
from bot.reports.snapshot import Published

ALL_STAFF = "All staff"
ALL_CUSTOMERS = "all customers"


def segment_key(segment: str | None) -> str:
    return segment or ""


def segment_label(key: str) -> str:
    return key or ALL_CUSTOMERS


def headline_report(
    round_info: RoundInfo,
    shown: Published,
    study_labels: Mapping[str, str],
    segment: str | None = None,
) -> ReportView:
    """The organisation's chat report of a round for one segment (None: the headline),
    without trend or chart: the figures are exactly the chat report's."""
    return build_report(
        ReportInput(
            title="Do we know what our customers value?",
            round_label=round_info.label,
            generated_at=round_info.closed_at or datetime.now(UTC),
            invited=shown.invited,
            analysis=shown.analysis,
            research_label="",
            segment=segment,
            study_labels=study_labels,
            verdicts=shown.verdicts,
        ),
        with_chart=False,
    )


def overview_row(
    round_info: RoundInfo, shown: Published, study_labels: Mapping[str, str]
) -> OverviewRow:
    overall = shown.analysis.overall
    headline = headline_report(round_info, shown, study_labels)
    if overall is None or headline.figures is None:
        return OverviewRow(round_info.id, round_info.label, round_info.closed_at, headline.withheld)
    # One report per round: its "Segments" table holds each segment's figures (built by the
    # same function as a report asked for that segment); with one segment, the headline.
    by_name = {line.name: line.figures for line in headline.segments}
    scores = []
    for result in overall.segments:
        key = segment_key(result.segment)
        figures = by_name.get(segment_label(key)) if by_name else headline.figures
        assert figures is not None  # the organisation is shown, so is each of its segments
        scores.append(_segment_score(key, study_labels, figures))
    return OverviewRow(
        round_id=round_info.id,
        label=round_info.label,
        closed_at=round_info.closed_at,
        withheld="",
        respondents=headline.figures.respondents,
        invited=headline.invited,
        response_rate=headline.response_rate,
        kendall_w=headline.figures.kendall_w,
        agreement=headline.agreement_label,
        scores=tuple(scores),
    )


def _segment_score(key: str, study_labels: Mapping[str, str], figures: Figures) -> SegmentScore:
    return SegmentScore(
        segment=key,
        label=segment_label(key),
        study=study_labels.get(key, ""),
        score=figures.alignment_score,
        interval=figures.score_interval,
        top_hits=figures.top_hits,
        k=figures.k,
    )


def pick_segment(group: GroupResult, segment: str) -> SegmentResult | None:
    """The group's result against ``segment`` ("" = the headline, as the chat report)."""
    if not segment:
        return group.headline
    return next((s for s in group.segments if segment_key(s.segment) == segment), None)


def heatmap_rows(
    shown: Published, segment: str
) -> tuple[tuple[str, ...], tuple[HeatRow, ...], str]:
    """Attributes (customers' favourite first), one row per group, and a note when there
    is no map to draw."""
    overall = shown.analysis.overall
    if overall is None:
        return (), (), "This round shows no figures: " + _reason(shown.verdicts, None) + "."
    chosen = pick_segment(overall, segment)
    if chosen is None:
        return (), (), "This round was not compared with that segment's customers."
    if not chosen.customers.measured:
        return (
            (),
            (),
            (
                "This segment's research gives customers' order, not how many chose each "
                "attribute, so there are no shares to compare. See the round's rank differences."
            ),
        )
    shares = chosen.customers.top_k_share
    attributes = tuple(sorted(chosen.compared, key=lambda a: (-shares[a], a)))
    rows = [_heat_row(ALL_STAFF, overall, chosen, attributes)]
    for name, group in sorted(shown.analysis.teams.items()):
        if group is None:
            rows.append(HeatRow(name, None, _reason(shown.verdicts, name)))
        else:
            rows.append(_heat_row(name, group, chosen, attributes))
    hidden_teams = [
        name
        for name in shown.verdicts.groups
        if name not in shown.analysis.teams and not shown.verdicts.of(name).published
    ]
    rows += [HeatRow(n, None, _reason(shown.verdicts, n)) for n in sorted(hidden_teams)]
    return attributes, tuple(rows), ""


def _heat_row(
    name: str, group: GroupResult, chosen: SegmentResult, attributes: tuple[str, ...]
) -> HeatRow:
    own = next((s for s in group.segments if s.segment == chosen.segment), None)
    if own is None:
        return HeatRow(name, None, "not compared with these customers")
    kinds = {s.attribute: SurpriseKind(s.kind) for s in own.surprises}
    cells = tuple(
        HeatCell(
            attribute=a,
            staff_share=group.employee_top_k_share[a],
            customer_share=chosen.customers.top_k_share[a],
            kind=kinds.get(a),
        )
        for a in attributes
    )
    return HeatRow(name, cells)


def _reason(verdicts: Verdicts, team: str | None) -> str:
    return verdicts.of(team).reason or TOO_FEW


def surprise_details(
    shown: Published, report: ReportView, team: str | None, segment: str | None
) -> tuple[SurpriseDetail, ...]:
    """The report's surprises with their intervals (the report shows the point figures)."""
    group = shown.analysis.overall if team is None else shown.analysis.teams.get(team)
    if group is None or not report.surprises:
        return ()
    chosen = pick_segment(group, segment or "")
    if chosen is None:
        return ()
    listed = {line.attribute for line in report.surprises}
    return tuple(
        SurpriseDetail(
            attribute=s.attribute,
            kind=SurpriseKind(s.kind),
            staff_share=s.employee_share,
            customer_share=s.customer_share,
            q_value=s.q_value,
            ci_low=s.ci_low,
            ci_high=s.ci_high,
            ci_level=s.ci_level,
        )
        for s in chosen.surprises
        if s.attribute in listed
    )
