"""Turning an analysis into the platform-neutral report view (and its chart)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from bot.analytics import Analysis, GroupResult, SegmentResult
from bot.model.mirror import CustomerAgreement
from bot.model.views import Figures, GroupLine, ReportView, SurpriseKind, SurpriseLine, TrendLine
from bot.reports.chart import ChartData, render_chart
from bot.reports.disclosure import HIDDEN, TOO_FEW, Verdicts, shows_count


@dataclass(frozen=True, slots=True)
class ReportInput:
    title: str
    round_label: str
    generated_at: datetime
    invited: int  # people invited in the report's group: the team's members for a team report
    analysis: Analysis
    research_label: str
    earlier: tuple[tuple[str, Analysis], ...] = ()  # earlier closed rounds (label, analysis)
    segment: str | None = None  # show this customer segment as the headline
    team: str | None = None  # report on this team only
    # The study each customer segment is compared with ("" for all customers), for the title.
    study_labels: Mapping[str, str] = field(default_factory=dict)
    verdicts: Verdicts | None = None  # why hidden groups are hidden (None: too few answers)
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
    group = _focus_group(data.analysis, data.team)
    segment = _segment(group, data.segment)
    figures = None if group is None else _figures(group, segment, data.analysis.k)
    notes = _notes(data, group, segment)
    scope = report_scope(data, segment)
    surprises = _surprises(segment)
    if group is not None and segment is not None and data.customers is not None:
        alpha = data.analysis.settings.alpha
        notes = (customer_note(data.customers, group.concordance.w, alpha), *notes)
        if not customers_agree(data.customers, alpha):
            # Staff cannot be "wrong" about a consensus the customers do not have.
            surprises = ()
            notes = tuple(n for n in notes if not n.startswith("No surprises"))
    report = ReportView(
        title=f"{data.title} — {scope}",
        round_label=data.round_label,
        generated_at=data.generated_at,
        invited=data.invited,
        figures=figures,
        agreement_label=agreement_label(group.concordance.w) if group else "",
        research_label=data.research_label,
        surprises=surprises,
        teams=() if data.team else _team_lines(data.analysis, data.verdicts),
        segments=_segment_lines(group, data.analysis.k) if group else (),
        trend=_trend(data, group, segment),
        notes=notes,
        team=data.team,
        segment=data.segment,
        detectable_gap=segment.detectable_gap if segment and group else None,
        withheld=_withheld(data),
        customers=data.customers if segment is not None else None,
    )
    if not with_chart or group is None or segment is None:
        return report
    chart = _chart_data(group, segment, data, scope)
    return replace(report, chart_png=render_chart(chart))


def report_scope(data: ReportInput, segment: SegmentResult | None) -> str:
    """Who is compared with whom: the round, the staff (all or one team) and the customers
    with the study they come from, e.g. "Round 2 · team sales · vs smb customers (#3 …)"."""
    staff = f"team {data.team}" if data.team else "all staff"
    parts = [data.round_label, staff]
    compared = segment.segment if segment is not None else data.segment
    if segment is not None or data.segment is not None:
        customers = f"{compared} customers" if compared else "all customers"
        study = data.study_labels.get(compared or "")
        parts.append(f"vs {customers}" + (f" ({study})" if study else ""))
    return " · ".join(parts)


def _focus_group(analysis: Analysis, team: str | None) -> GroupResult | None:
    if team is None:
        return analysis.overall
    return analysis.teams.get(team)


def _segment(group: GroupResult | None, wanted: str | None) -> SegmentResult | None:
    if group is None or not group.segments:
        return None
    for segment in group.segments:
        if segment.segment == wanted:
            return segment
    return group.segments[0] if wanted is None else None


def _same_segment(group: GroupResult | None, segment: SegmentResult) -> SegmentResult | None:
    """The group's result for exactly ``segment``'s customers (None: all customers), if any."""
    if group is None:
        return None
    return next((s for s in group.segments if s.segment == segment.segment), None)


def _figures(group: GroupResult, segment: SegmentResult | None, k: int) -> Figures:
    score = None if segment is None else segment.score
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
        score_interval=None if score is None else (score.ci_low, score.ci_high),
        score_p=None if score is None else score.p_value,
        chance_95th=None if score is None else score.null_95th,
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


def _team_lines(analysis: Analysis, verdicts: Verdicts | None) -> tuple[GroupLine, ...]:
    return tuple(
        GroupLine(name, None, _reason(verdicts, name))
        if group is None
        else GroupLine(name, _figures(group, group.headline, analysis.k))
        for name, group in sorted(analysis.teams.items())
    )


def _reason(verdicts: Verdicts | None, team: str | None) -> str:
    reason = verdicts.of(team).reason if verdicts is not None else ""
    return reason or TOO_FEW


def _withheld(data: ReportInput) -> str:
    if _reason(data.verdicts, data.team) == HIDDEN:
        return f"These figures are {HIDDEN}."
    return "Too few answers to show results."


def _segment_lines(group: GroupResult, k: int) -> tuple[GroupLine, ...]:
    if len(group.segments) < 2:
        return ()
    return tuple(
        GroupLine(segment.segment or "all customers", _figures(group, segment, k))
        for segment in group.segments
    )


def _trend(
    data: ReportInput, group: GroupResult | None, segment: SegmentResult | None
) -> tuple[TrendLine, ...]:
    """Changes since the previous closed round for the same staff (all, or the same team)
    against the same customers; nothing when that round has no such comparison."""
    if not data.earlier or group is None or segment is None:
        return ()
    before_group = _focus_group(data.earlier[-1][1], data.team)
    before = _same_segment(before_group, segment)
    if before_group is None or before is None:
        return ()
    lines: list[TrendLine] = []
    if before.alignment_score is not None and segment.alignment_score is not None:
        lines.append(TrendLine("Alignment score", before.alignment_score, segment.alignment_score))
    lines.append(TrendLine("Top-k match", before.top3_hits, segment.top3_hits))
    before_w, now_w = before_group.concordance.w, group.concordance.w
    if before_w is not None and now_w is not None:
        lines.append(TrendLine("Agreement (Kendall's W)", before_w, now_w))
    return tuple(lines)


def _score_history(data: ReportInput, segment: SegmentResult) -> tuple[tuple[str, int], ...]:
    """Earlier rounds' scores for the same staff against the same customers, oldest first."""
    history: list[tuple[str, int]] = []
    for label, analysis in data.earlier:
        same = _same_segment(_focus_group(analysis, data.team), segment)
        if same is not None and same.alignment_score is not None:
            history.append((label, same.alignment_score))
    return tuple(history)


def _notes(
    data: ReportInput, group: GroupResult | None, segment: SegmentResult | None
) -> tuple[str, ...]:
    notes: list[str] = []
    if group is None:
        if _reason(data.verdicts, data.team) == HIDDEN:
            notes.append(
                f"This group's figures are {HIDDEN}: together with the other groups' figures "
                "they would show what a few people answered."
            )
            return tuple(notes)
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
    if not segment.share_test:
        notes.append(_order_note(segment))
    elif not segment.surprises:
        notes.append("No surprises: no attribute's share differs significantly from customers'.")
    return tuple(notes)


def _order_note(segment: SegmentResult) -> str:
    """Research without customer shares: say so, and name the largest order differences."""
    note = (
        "The research gives customers' order, not how many chose each attribute, so no "
        "share is tested for surprises."
    )
    gaps = [g for g in segment.rank_gaps if abs(g.difference) >= 2][:3]
    if gaps:
        note += " Largest rank differences: " + "; ".join(
            f"{g.attribute} (customers #{g.customer_rank:g}, staff #{g.staff_rank:g})" for g in gaps
        )
        note += "."
    return note


def _chart_data(
    group: GroupResult, segment: SegmentResult, data: ReportInput, scope: str
) -> ChartData:
    customers = segment.customers
    # Without measured shares the rows follow the customers' order instead of their shares.
    names = segment.compared if customers.measured else customers.order
    shares = tuple(customers.top_k_share[a] for a in names) if customers.measured else None
    scores = list(_score_history(data, segment))
    if segment.alignment_score is not None:
        scores.append((data.round_label, segment.alignment_score))
    return ChartData(
        attributes=names,
        employee_share=tuple(group.employee_top_k_share[name] for name in names),
        customer_share=shares,
        surprises={s.attribute: SurpriseKind(s.kind) for s in segment.surprises},
        k=data.analysis.k,
        title=f"{data.title} — staff vs customers, top {data.analysis.k} share"
        + _agreements_caption(data.customers, group.concordance.w),
        subtitle=scope,
        trend=tuple(scores),
    )


def open_round_report(
    title: str,
    round_label: str,
    generated_at: datetime,
    *,
    invited: int,
    answered: int,
    minimum: int,
) -> ReportView:
    """A round still open shows no figures, only its response rate, and that only once at
    least ``minimum`` people answered (a report per answer would show each answer)."""
    notes = ["This round is still open: its figures appear when it closes."]
    if shows_count(answered, minimum) and invited:
        notes.append(f"Response rate so far: {answered / invited:.0%}.")
    return ReportView(
        title=title,
        round_label=round_label,
        generated_at=generated_at,
        invited=invited,
        figures=None,
        notes=tuple(notes),
        withheld="No figures while the round is open.",
    )


def _agreements_caption(customers: CustomerAgreement | None, staff_w: float | None) -> str:
    if customers is None or customers.w is None or staff_w is None:
        return ""
    return f"\ncustomers W={customers.w:.2f}, staff W={staff_w:.2f}"
