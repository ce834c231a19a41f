"""Turning an analysis into the platform-neutral report view (and its chart)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from bot.analytics import Analysis, GroupResult, SegmentResult
from bot.model.mirror import CustomerAgreement
from bot.model.views import Figures, GroupLine, ReportView, SurpriseKind, SurpriseLine, TrendLine
from bot.reports.chart import ChartData, render_chart


@dataclass(frozen=True, slots=True)
class ReportInput:
    title: str
    round_label: str
    generated_at: datetime
    invited: int
    analysis: Analysis
    research_label: str
    previous: Analysis | None = None
    history: tuple[tuple[str, int], ...] = ()  # earlier rounds' (label, score), oldest first
    segment: str | None = None  # show this customer segment as the headline
    team: str | None = None  # report on this team only
    customers: CustomerAgreement | None = None  # agreement among the segment's customers


def agreement_label(w: float | None) -> str:
    """Plain words for Kendall's W, using the bands survey practice commonly quotes."""
    if w is None:
        return "agreement cannot be measured"
    if w < 0.1:
        return "no real agreement"
    if w < 0.3:
        return "weak agreement"
    if w < 0.6:
        return "moderate agreement"
    return "strong agreement"


CUSTOMERS_AGREE_FROM = 0.1  # below: "no real agreement" (the band agreement_label uses)


def customers_agree(customers: CustomerAgreement, alpha: float) -> bool:
    """Whether the customers share a consensus worth comparing staff with: W in at least the
    "weak" band and unlikely under no agreement at all."""
    w, p = customers.w, customers.p_value
    return w is not None and p is not None and w >= CUSTOMERS_AGREE_FROM and p < alpha


def customer_note(customers: CustomerAgreement, staff_w: float | None, alpha: float) -> str:
    """e.g. "Customers of smb agree moderately with each other (W=0.41, …); staff W=0.08." """
    who = f"Customers of {customers.segment}" if customers.segment else "Customers"
    staff = f"staff W={staff_w:.2f}" if staff_w is not None else "staff agreement not measurable"
    if customers.w is None or customers.p_value is None:
        return f"{who}: agreement cannot be measured ({customers.respondents} answers); {staff}."
    figures = f"W={customers.w:.2f}, {_p(customers.p_value)}, {customers.respondents} customers"
    if not customers_agree(customers, alpha):
        return (
            f"{who} do not agree with each other ({figures}; {staff}): comparing staff with "
            "a customer consensus is weak, so no surprises are flagged."
        )
    return f"{who} show {agreement_label(customers.w)} with each other ({figures}); {staff}."


def _p(value: float) -> str:
    return "p<0.001" if value < 0.001 else f"p={value:.3f}"


def customers_json(customers: CustomerAgreement) -> dict[str, object]:
    return {
        "segment": customers.segment,
        "respondents": customers.respondents,
        "kendall_w": customers.w,
        "p_value": customers.p_value,
    }


def build_report(data: ReportInput, *, with_chart: bool = True) -> ReportView:
    group = _focus_group(data)
    segment = _segment(group, data.segment)
    figures = None if group is None else _figures(group, segment, data.analysis.k)
    notes = _notes(data, group, segment)
    surprises = _surprises(segment)
    if group is not None and segment is not None and data.customers is not None:
        alpha = data.analysis.settings.alpha
        notes = (customer_note(data.customers, group.concordance.w, alpha), *notes)
        if not customers_agree(data.customers, alpha):
            # Staff cannot be "wrong" about a consensus the customers do not have.
            surprises = ()
            notes = tuple(n for n in notes if not n.startswith("No surprises"))
    report = ReportView(
        title=data.title,
        round_label=data.round_label,
        generated_at=data.generated_at,
        invited=data.invited,
        figures=figures,
        agreement_label=agreement_label(group.concordance.w) if group else "",
        research_label=data.research_label,
        surprises=surprises,
        teams=() if data.team else _team_lines(data.analysis),
        segments=_segment_lines(group, data.analysis.k) if group else (),
        trend=_trend(data.previous, data.analysis) if data.team is None else (),
        notes=notes,
        customers=data.customers if segment is not None else None,
    )
    if not with_chart or group is None or segment is None:
        return report
    return replace(report, chart_png=render_chart(_chart_data(group, segment, data)))


def _focus_group(data: ReportInput) -> GroupResult | None:
    if data.team is None:
        return data.analysis.overall
    return data.analysis.teams.get(data.team)


def _segment(group: GroupResult | None, wanted: str | None) -> SegmentResult | None:
    if group is None or not group.segments:
        return None
    for segment in group.segments:
        if segment.segment == wanted:
            return segment
    return group.segments[0] if wanted is None else None


def _figures(group: GroupResult, segment: SegmentResult | None, k: int) -> Figures:
    return Figures(
        respondents=group.respondents,
        alignment_score=(segment.alignment_score or 0) if segment else 0,
        kendall_w=group.concordance.w,
        kendall_w_p=_agreement_p(group),
        top_hits=segment.top3_hits if segment else 0,
        k=k,
        spearman=segment.spearman if segment else None,
        staff_top=(segment.consensus if segment else group.consensus)[:k],
        customer_top=segment.customers.top(k) if segment else (),
    )


def _agreement_p(group: GroupResult) -> float | None:
    concordance = group.concordance
    return (
        concordance.permutation_p if concordance.permutation_p is not None else concordance.p_value
    )


def _surprises(segment: SegmentResult | None) -> tuple[SurpriseLine, ...]:
    if segment is None:
        return ()
    return tuple(
        SurpriseLine(
            attribute=s.attribute,
            kind=SurpriseKind(s.kind),
            employee_share=s.employee_share,
            customer_share=s.customer_share,
            q_value=s.q_value,
        )
        for s in segment.surprises
    )


def _team_lines(analysis: Analysis) -> tuple[GroupLine, ...]:
    return tuple(
        GroupLine(name, None if group is None else _figures(group, group.headline, analysis.k))
        for name, group in sorted(analysis.teams.items())
    )


def _segment_lines(group: GroupResult, k: int) -> tuple[GroupLine, ...]:
    if len(group.segments) < 2:
        return ()
    return tuple(
        GroupLine(segment.segment or "all customers", _figures(group, segment, k))
        for segment in group.segments
    )


def _trend(previous: Analysis | None, current: Analysis) -> tuple[TrendLine, ...]:
    if previous is None or previous.headline is None or current.headline is None:
        return ()
    lines: list[TrendLine] = []
    before, now = previous.headline, current.headline
    if before.alignment_score is not None and now.alignment_score is not None:
        lines.append(TrendLine("Alignment score", before.alignment_score, now.alignment_score))
    lines.append(TrendLine("Top-k match", before.top3_hits, now.top3_hits))
    if previous.kendall_w is not None and current.kendall_w is not None:
        lines.append(TrendLine("Agreement (Kendall's W)", previous.kendall_w, current.kendall_w))
    return tuple(lines)


def _notes(
    data: ReportInput, group: GroupResult | None, segment: SegmentResult | None
) -> tuple[str, ...]:
    notes: list[str] = []
    if group is None:
        minimum = data.analysis.settings.min_group_size
        notes.append(f"Too few answers to show results (at least {minimum} are needed).")
        return tuple(notes)
    if segment is None:
        notes.append(
            "No customer research for this comparison yet: import some with "
            "'/alignment research import'."
        )
        return tuple(notes)
    if segment.not_in_research:
        notes.append("Not covered by the research: " + ", ".join(segment.not_in_research) + ".")
    if not segment.surprises:
        notes.append("No surprises: no attribute's share differs significantly from customers'.")
    return tuple(notes)


def _chart_data(group: GroupResult, segment: SegmentResult, data: ReportInput) -> ChartData:
    names = segment.compared
    scores = [*data.history]
    if segment.alignment_score is not None:
        scores.append((data.round_label, segment.alignment_score))
    return ChartData(
        attributes=names,
        employee_share=tuple(group.employee_top_k_share[name] for name in names),
        customer_share=tuple(segment.customers.top_k_share[name] for name in names),
        surprises={s.attribute: SurpriseKind(s.kind) for s in segment.surprises},
        k=data.analysis.k,
        title=f"{data.title} — staff vs customers, top {data.analysis.k} share"
        + _agreements_caption(data.customers, group.concordance.w),
        trend=tuple(scores),
    )


def _agreements_caption(customers: CustomerAgreement | None, staff_w: float | None) -> str:
    if customers is None or customers.w is None or staff_w is None:
        return ""
    return f"\ncustomers W={customers.w:.2f}, staff W={staff_w:.2f}"


def headline_score(analysis: Analysis) -> int | None:
    headline = analysis.headline
    return None if headline is None else headline.alignment_score
