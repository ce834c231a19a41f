"""Staff answers as CSV, for the offline ``alignment stats`` command and the demo export.

The header is ``respondent,team,rank_1,rank_2,…,rank_k`` (case-insensitive, any order; ``team``
may be left out; rank columns are numbered consecutively from 1, k ≥ 1). Each row is one
respondent's top-k, most important first. Trailing rank cells may be empty, a gap may not.

Every problem is collected and the file is refused as a whole with
:class:`ResponsesImportError`, whose ``issues`` are :class:`~bot.model.research.ImportIssue` (line
numbers are physical lines, header = line 1).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from bot.model.research import ImportIssue
from bot.reports.research_io import (
    AttributeMatcher,
    FieldValueError,
    normalise_column,
    read_csv_records,
)

__all__ = ["Response", "ResponsesImportError", "parse_responses_csv", "responses_to_csv"]

_RANK_COLUMN = re.compile(r"rank_?(\d+)", re.ASCII)


@dataclass(frozen=True, slots=True)
class Response:
    """One respondent's answer: their top attributes, most important first."""

    respondent: str
    team: str | None
    ranking: tuple[str, ...]


class ResponsesImportError(ValueError):
    """The whole file is refused; ``issues`` says every row and field that is wrong."""

    def __init__(self, issues: list[ImportIssue]) -> None:
        self.issues = issues
        shown = "; ".join(str(issue) for issue in issues[:10])
        more = f" (and {len(issues) - 10} more)" if len(issues) > 10 else ""
        super().__init__(f"responses import refused: {shown}{more}")


def _layout(
    line: int, cells: list[str], issues: list[ImportIssue]
) -> tuple[int, int | None, list[int]] | None:
    """Column indexes of respondent, team and rank_1..rank_k, or None if the header is bad."""
    before = len(issues)
    respondent: int | None = None
    team: int | None = None
    ranks: dict[int, int] = {}
    end = len(cells)
    while end > 0 and not cells[end - 1].strip():
        end -= 1
    for index, raw in enumerate(cells[:end]):
        name = normalise_column(raw)
        match = _RANK_COLUMN.fullmatch(name)
        if name == "respondent":
            if respondent is not None:
                issues.append(ImportIssue(line, name, "column 'respondent' appears twice"))
            respondent = index
        elif name == "team":
            if team is not None:
                issues.append(ImportIssue(line, name, "column 'team' appears twice"))
            team = index
        elif match:
            number = int(match.group(1))
            if number in ranks:
                issues.append(ImportIssue(line, f"rank_{number}", "column appears twice"))
            ranks[number] = index
        elif not name:
            issues.append(ImportIssue(line, f"column {index + 1}", "empty column name"))
        else:
            issues.append(
                ImportIssue(
                    line,
                    raw.strip(),
                    f"unknown column '{raw.strip()}'; expected respondent, team, rank_1, rank_2, …",
                )
            )
    if respondent is None:
        issues.append(ImportIssue(line, "respondent", "missing required column 'respondent'"))
    if not ranks:
        issues.append(ImportIssue(line, "rank_1", "missing rank columns: expected rank_1, …"))
    else:
        expected = set(range(1, len(ranks) + 1))
        if set(ranks) != expected:
            missing = sorted(set(range(1, max(ranks) + 1)) - set(ranks))
            issues.append(
                ImportIssue(
                    line,
                    "header",
                    "rank columns must be numbered consecutively from rank_1: missing "
                    + ", ".join(f"rank_{n}" for n in missing),
                )
            )
    if len(issues) > before or respondent is None:
        return None
    return respondent, team, [ranks[n] for n in sorted(ranks)]


def rank_column_count(text: str) -> int:
    """k as the file asked it: how many rank_N columns the header has (0 if it has none).

    Answers may be shorter than k (trailing cells empty), so k cannot be read off the
    answers; the header is what says how many places were asked for.
    """
    issues: list[ImportIssue] = []
    records, _ = read_csv_records(text, issues)
    if issues or not records:
        return 0
    layout = _layout(records[0][0], records[0][1], issues)
    return 0 if layout is None else len(layout[2])


def parse_responses_csv(
    text: str, *, known_attributes: Collection[str] | None = None
) -> list[Response]:
    """Parse staff answers; raises :class:`ResponsesImportError` listing every issue.

    Attribute names are trimmed and, with ``known_attributes``, matched case-insensitively and
    spelled as in the catalogue (unknown names are errors); without it they are kept as written
    and duplicates are found case-insensitively.
    """
    issues: list[ImportIssue] = []
    matcher = AttributeMatcher(known_attributes)
    records, _ = read_csv_records(text, issues)
    if issues:
        raise ResponsesImportError(issues)
    if not records:
        raise ResponsesImportError(
            [ImportIssue(1, "file", "empty file: expected respondent,team,rank_1,…")]
        )
    header_line, header = records[0]
    layout = _layout(header_line, header, issues)
    if layout is None:
        raise ResponsesImportError(issues)
    respondent_at, team_at, rank_at = layout
    if len(records) == 1:
        raise ResponsesImportError(
            [ImportIssue(header_line + 1, "file", "empty file: no responses below the header")]
        )

    def cell(cells: list[str], index: int) -> str:
        return cells[index].strip() if index < len(cells) else ""

    responses: list[Response] = []
    first_seen: dict[str, int] = {}
    for line, cells in records[1:]:
        before = len(issues)
        if len(cells) > len(header) and any(c.strip() for c in cells[len(header) :]):
            issues.append(
                ImportIssue(
                    line, "row", f"{len(cells)} cells but the header has {len(header)} columns"
                )
            )
        respondent = cell(cells, respondent_at)
        if not respondent:
            issues.append(ImportIssue(line, "respondent", "missing value: respondent id"))
        elif respondent.casefold() in first_seen:
            issues.append(
                ImportIssue(
                    line,
                    "respondent",
                    f"duplicate respondent '{respondent}' "
                    f"(first on line {first_seen[respondent.casefold()]})",
                )
            )
        else:
            first_seen[respondent.casefold()] = line
        team = cell(cells, team_at) if team_at is not None else ""

        answers = [cell(cells, index) for index in rank_at]
        last = max((n for n, answer in enumerate(answers, start=1) if answer), default=0)
        if last == 0:
            issues.append(
                ImportIssue(line, "rank_1", "missing value: the respondent named no attribute")
            )
        ranking: list[str] = []
        positions: dict[str, int] = {}
        for number, answer in enumerate(answers[:last], start=1):
            field = f"rank_{number}"
            if not answer:
                issues.append(
                    ImportIssue(
                        line,
                        field,
                        f"empty {field} before a filled rank_{last}; fill the ranks in order",
                    )
                )
                continue
            try:
                name = matcher.resolve(answer)
            except FieldValueError as exc:
                issues.append(ImportIssue(line, field, str(exc)))
                continue
            key = matcher.key(name)
            if key in positions:
                issues.append(
                    ImportIssue(line, field, f"'{name}' is already given as rank_{positions[key]}")
                )
                continue
            positions[key] = number
            ranking.append(name)
        if len(issues) == before:
            responses.append(Response(respondent, team or None, tuple(ranking)))
    if issues:
        raise ResponsesImportError(issues)
    return responses


def responses_to_csv(responses: Iterable[Response], k: int) -> str:
    """Write responses as ``respondent,team,rank_1..rank_k`` CSV (``\\n`` line ends).

    Raises ``ValueError`` if ``k`` < 1 or a ranking is longer than ``k``.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["respondent", "team", *(f"rank_{n}" for n in range(1, k + 1))])
    for response in responses:
        if len(response.ranking) > k:
            raise ValueError(
                f"respondent {response.respondent!r} ranks {len(response.ranking)} "
                f"attributes, more than k={k}"
            )
        padding = [""] * (k - len(response.ranking))
        writer.writerow([response.respondent, response.team or "", *response.ranking, *padding])
    return buffer.getvalue()
