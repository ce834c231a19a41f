"""Customer research: what customers themselves say they value.

A study comes in one of three forms. The richest, top-3 counts with the number of customers
asked, is the only one that supports a true two-sample comparison with the staff's answers;
the other two are turned into an expected top-k share so every form can be compared.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class ResearchForm(StrEnum):
    RANKING = "ranking"
    IMPORTANCE = "importance"
    TOP3 = "top3"


@dataclass(frozen=True, slots=True)
class ResearchRow:
    """One attribute's value in a study; exactly the field matching the study's form is set."""

    attribute: str
    rank: int | None = None
    importance: float | None = None
    top3_count: int | None = None


@dataclass(frozen=True, slots=True)
class ResearchStudy:
    source: str
    form: ResearchForm
    rows: tuple[ResearchRow, ...]
    conducted_on: date | None = None
    segment: str | None = None
    sample_size: int | None = None  # customers asked; set for the TOP3 form

    @property
    def attributes(self) -> tuple[str, ...]:
        return tuple(row.attribute for row in self.rows)


@dataclass(frozen=True, slots=True)
class ImportIssue:
    """One thing wrong with an import, located precisely enough for the user to fix it."""

    line: int  # 1-based line in the CSV (header is line 1), or 1-based item index in JSON
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, field '{self.field}': {self.message}"


class ResearchImportError(ValueError):
    """The whole import is refused; ``issues`` says every row and field that is wrong."""

    def __init__(self, issues: list[ImportIssue]) -> None:
        self.issues = issues
        shown = "; ".join(str(issue) for issue in issues[:10])
        more = f" (and {len(issues) - 10} more)" if len(issues) > 10 else ""
        super().__init__(f"research import refused, nothing was saved: {shown}{more}")
