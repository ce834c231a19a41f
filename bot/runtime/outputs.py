"""Files the CLI writes: a report folder, an aggregate export, offline statistics."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.analytics import Analysis, GroupResult, analyse
from bot.analytics import Settings as AnalysisSettings
from bot.model.names import spreadsheet_safe
from bot.model.records import RoundInfo, WorkspaceInfo
from bot.model.research import ResearchStudy
from bot.model.views import ReportView
from bot.reports.disclosure import public_json
from bot.reports.render_text import render_report_text
from bot.reports.reporting import customers_json
from bot.reports.research_io import parse_research
from bot.reports.responses_io import parse_responses_csv, rank_column_count
from bot.rounds.service import RoundService


async def write_report_folder(
    rounds: RoundService,
    workspace: WorkspaceInfo,
    round_info: RoundInfo,
    out: Path,
    *,
    min_group_size: int,
    team: str | None = None,
    segment: str | None = None,
) -> ReportView:
    """report.md, report.json and chart.png for one round."""
    report = await rounds.report(workspace, round_info, team=team, segment=segment)
    analysis = await rounds.analysis(workspace, round_info)
    payload = {
        "round": round_info.id,
        "label": round_info.label,
        "title": report.title,  # names the scope: round, staff, customers and their study
        "team": report.team,  # as the team is spelled, whatever the --team case
        "segment": report.segment,
        **public_json(analysis),
    }
    if report.customers is not None:
        payload["customer_agreement"] = customers_json(report.customers)
    markdown = render_report_text(report, min_answers=min_group_size)
    await asyncio.to_thread(_write_folder, out, markdown, payload, report.chart_png)
    return report


def _write_folder(out: Path, markdown: str, payload: dict[str, Any], chart: bytes | None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.md").write_text(markdown, "utf-8")
    (out / "report.json").write_text(json.dumps(payload, indent=2) + "\n", "utf-8")
    if chart:
        (out / "chart.png").write_bytes(chart)


EXPORT_COLUMNS = (
    "round",
    "closed_at",
    "group",
    "respondents",
    "attribute",
    "staff_consensus_rank",
    "staff_top_k_share",
    "customer_top_k_share",
)


def export_rows(round_info: RoundInfo, analysis: Analysis) -> list[dict[str, Any]]:
    """Aggregates only: one row per group and attribute; suppressed groups are left out."""
    groups: list[tuple[str, GroupResult | None]] = [("all", analysis.overall)]
    groups += sorted(analysis.teams.items())
    rows: list[dict[str, Any]] = []
    for name, group in groups:
        if group is None:
            continue
        headline = group.headline
        for position, attribute in enumerate(group.consensus, start=1):
            customer = headline.customers.top_k_share.get(attribute) if headline else None
            rows.append(
                {
                    "round": round_info.id,
                    "closed_at": round_info.closed_at.isoformat() if round_info.closed_at else "",
                    "group": name,
                    "respondents": group.respondents,
                    "attribute": attribute,
                    "staff_consensus_rank": position,
                    "staff_top_k_share": round(group.employee_top_k_share[attribute], 4),
                    "customer_top_k_share": "" if customer is None else round(customer, 4),
                }
            )
    return rows


def rows_to_csv(rows: Sequence[dict[str, Any]]) -> str:
    """The export as CSV; text cells that a spreadsheet would run as a formula (a name made
    before names were checked) are neutralised, numbers are left as numbers."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({key: _cell(value) for key, value in row.items()} for row in rows)
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    # The csv module does not quote a lone carriage return, which would split the row.
    return spreadsheet_safe(value).replace("\r", " ")


def offline_stats(
    responses_text: str,
    research_text: str,
    *,
    research_name: str,
    segment: str | None,
    settings: AnalysisSettings,
) -> Analysis:
    """Every figure from two files, no database. Raises the import errors on bad input."""
    studies = parse_research(research_text, filename=research_name, segment=segment)
    names = _attribute_names(studies)
    responses = parse_responses_csv(responses_text, known_attributes=names)
    # The round's k is the number of rank columns the file has (answers may stop early).
    k = rank_column_count(responses_text)
    answers = [(r.respondent, (r.team,) if r.team else (), r.ranking) for r in responses]
    return analyse(
        names, answers, {study.segment: study for study in studies}, k=k, settings=settings
    )


def _attribute_names(studies: Sequence[ResearchStudy]) -> list[str]:
    names: list[str] = []
    for study in studies:
        names.extend(a for a in study.attributes if a not in names)
    return names
