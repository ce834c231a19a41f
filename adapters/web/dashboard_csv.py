"""The dashboard's pages as CSV: the same values the page shows, text cells made safe for
spreadsheets (a name starting like a formula is never run)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from bot.model.dashboard import CustomersPage, HeatmapPage, OverviewPage, RoundPage
from bot.model.names import spreadsheet_safe

Cell = str | int | float | None


def _table(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    return out.getvalue()


def _cell(value: Cell) -> Cell:
    if value is None:
        return ""
    if isinstance(value, str):
        return spreadsheet_safe(value)
    if isinstance(value, float):
        return round(value, 4)
    return value


def overview(page: OverviewPage) -> str:
    header = (
        "round",
        "label",
        "closed",
        "respondents",
        "invited",
        "response_rate",
        "kendall_w",
        "segment",
        "study",
        "alignment_score",
        "score_ci_low",
        "score_ci_high",
        "withheld",
    )
    rows: list[Sequence[Cell]] = []
    for row in page.rows:
        common: list[Cell] = [
            row.round_id,
            row.label,
            row.closed_at.date().isoformat() if row.closed_at else None,
            row.respondents,
            row.invited,
            row.response_rate,
            row.kendall_w,
        ]
        if not row.scores:
            rows.append([*common, None, None, None, None, None, row.withheld])
        for score in row.scores:
            low, high = score.interval if score.interval else (None, None)
            rows.append([*common, score.label, score.study, score.score, low, high, ""])
    return _table(header, rows)


def heatmap(page: HeatmapPage) -> str:
    header = (
        "round",
        "segment",
        "group",
        "attribute",
        "staff_share",
        "customer_share",
        "staff_minus_customers",
        "flag",
        "hidden",
    )
    rows: list[Sequence[Cell]] = []
    segment = page.segment or "all customers"
    for row in page.rows:
        if row.cells is None:
            rows.append(
                [page.round_id, segment, row.group, None, None, None, None, None, row.reason]
            )
            continue
        for cell in row.cells:
            flag = cell.kind.value if cell.kind else None
            rows.append(
                [
                    page.round_id,
                    segment,
                    row.group,
                    cell.attribute,
                    cell.staff_share,
                    cell.customer_share,
                    cell.gap,
                    flag,
                    None,
                ]
            )
    return _table(header, rows)


def round_page(page: RoundPage) -> str:
    report = page.report
    header = ("section", "name", "respondents", "alignment_score", "kendall_w", "detail")
    rows: list[Sequence[Cell]] = [("title", report.title, None, None, None, None)]
    figures = report.figures
    if figures is None:
        rows.append(("withheld", report.withheld, None, None, None, None))
        return _table(header, rows)
    low, high = figures.score_interval or (None, None)
    rows.append(
        (
            "headline",
            report.team or "all staff",
            figures.respondents,
            figures.alignment_score,
            figures.kendall_w,
            f"invited {report.invited}; top-{figures.k} match {figures.top_hits}; "
            f"score interval {low} to {high}; detectable gap {report.detectable_gap_text or '-'}",
        )
    )
    for s in page.surprises:
        interval = (
            f"{s.ci_level:.0%} interval {s.ci_low:.4f} to {s.ci_high:.4f}"
            if s.ci_low is not None and s.ci_high is not None
            else ""
        )
        detail = f"customers {s.customer_share:.4f}, staff {s.staff_share:.4f}, q {s.q_value:.4g}"
        rows.append((s.kind.value, s.attribute, None, None, None, f"{detail}; {interval}"))
    for kind, lines in (("team", report.teams), ("segment", report.segments)):
        for line in lines:
            f = line.figures
            if f is None:
                rows.append((kind, line.name, None, None, None, f"hidden: {line.reason}"))
            else:
                rows.append((kind, line.name, f.respondents, f.alignment_score, f.kendall_w, None))
    return _table(header, rows)


def customers(page: CustomersPage) -> str:
    header = (
        "study",
        "source",
        "segment",
        "form",
        "conducted_on",
        "sample_size",
        "age_days",
        "older_than_a_year",
        "mirror_survey",
        "customer_kendall_w",
        "customer_w_p",
        "customer_respondents",
    )
    rows: list[Sequence[Cell]] = []
    for s in page.studies:
        a = s.agreement
        rows.append(
            [
                s.study_id,
                s.source,
                s.segment or "all customers",
                s.form,
                s.conducted_on.isoformat() if s.conducted_on else None,
                s.sample_size,
                s.age_days,
                "yes" if s.stale else "no",
                s.mirror,
                a.w if a else None,
                a.p_value if a else None,
                a.respondents if a else None,
            ]
        )
    return _table(header, rows)
