"""Import customer research from CSV or JSON, checking the whole file before anything is kept.

Every problem found is collected as an :class:`~bot.model.research.ImportIssue` and the import is
refused as a whole with :class:`~bot.model.research.ResearchImportError`; no other exception escapes
for bad input.

CSV
---
The header (case-insensitive, cells trimmed, any column order; spaces or hyphens in a column
name count as underscores) is one of::

    attribute,rank                    -> RANKING     ranks exactly 1..n, no ties
    attribute,importance              -> IMPORTANCE  finite and >= 0, e.g. a 1-7 mean score
    attribute,top3_count,sample_size  -> TOP3        customers naming it in their top 3

each optionally with a ``segment`` column, giving one study per segment. Line numbers in issues
are physical lines of the file, the header being line 1. A UTF-8 BOM, CRLF line ends and blank
lines are accepted; a header with ``;`` (and no ``,``) switches to ``;`` as the delimiter, in
which case a decimal comma (``4,5``) is accepted too.

JSON
----
One study object, or a list of them (several studies or segments)::

    {
      "source": "Customer survey Q3 2026",      # optional if passed as an argument
      "conducted_on": "2026-09-30",             # optional, ISO date or null
      "segment": "enterprise",                  # optional; omitted/null = all customers
      "form": "top3",                           # optional: ranking | importance | top3;
                                                #   inferred from the items' keys if omitted
      "sample_size": 300,                       # required for top3 (may instead be on items)
      "attributes": [
        {"attribute": "price", "top3_count": 120},
        {"attribute": "reliability", "top3_count": 210},
        ...
      ]
    }

Items carry ``attribute`` plus the form's key: ``rank``, ``importance`` or ``top3_count``.
Numbers may be JSON numbers or numeric strings. ``notes`` / ``description`` keys are ignored.
In issues, ``line`` is the 1-based index of the item within ``attributes`` and ``field`` is the
key; for a problem with the study as a whole (a top-level key, too few attributes, counts adding
up to more than 3 x sample size) ``line`` is the study's 1-based position in the document (1 for
a single object). When the document is a list, messages start with ``study N:``. A JSON syntax
error is reported with the text line in ``line`` and the column in the message.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import re
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from pathlib import PurePath

from bot.model.research import (
    ImportIssue,
    ResearchForm,
    ResearchImportError,
    ResearchRow,
    ResearchStudy,
)

__all__ = [
    "MIN_ATTRIBUTES",
    "AttributeMatcher",
    "FieldValueError",
    "normalise_column",
    "parse_research",
    "parse_research_csv",
    "parse_research_json",
    "read_csv_records",
]

MIN_ATTRIBUTES = 3
"""A study must rank or score at least this many attributes."""

TOP_K = 3
"""Each customer names at most this many attributes in a top-3 study."""

_MAX_INT_DIGITS = 15

_Adder = Callable[[int, str, str], None]

_VALUE_KEY: dict[ResearchForm, str] = {
    ResearchForm.RANKING: "rank",
    ResearchForm.IMPORTANCE: "importance",
    ResearchForm.TOP3: "top3_count",
}
_FORM_BY_KEY = {key: form for form, key in _VALUE_KEY.items()}

_CSV_COLUMNS = ("attribute", "rank", "importance", "top3_count", "sample_size", "segment")
_JSON_STUDY_KEYS = ("source", "conducted_on", "segment", "form", "sample_size", "attributes")
_JSON_IGNORED_KEYS = frozenset({"notes", "description"})
_JSON_ITEM_KEYS = ("attribute", "rank", "importance", "top3_count", "sample_size")

_NUMBER_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_NAN = frozenset({"nan", "+nan", "-nan"})
_INF = frozenset({"inf", "+inf", "infinity", "+infinity"})
_NEG_INF = frozenset({"-inf", "-infinity"})


# --------------------------------------------------------------------------- shared helpers


class FieldValueError(ValueError):
    """A single value is wrong; the message is what the user reads."""


def _fold(name: str) -> str:
    """The comparison key of a name: trimmed, inner whitespace collapsed, case-folded."""
    return " ".join(name.split()).casefold()


def _show(raw: object) -> str:
    if isinstance(raw, str):
        return repr(raw.strip())
    try:
        return json.dumps(raw)
    except (TypeError, ValueError):  # pragma: no cover - JSON values always dump
        return repr(raw)


def normalise_column(cell: str) -> str:
    """``" Top3 Count "`` -> ``"top3_count"``: lower case, trimmed, spaces/hyphens as ``_``."""
    return re.sub(r"[\s\-]+", "_", cell.strip().lower())


def _suggest(name: str, choices: Collection[str]) -> str:
    match = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{match[0]}'?" if match else ""


class AttributeMatcher:
    """Resolves attribute names as written to the catalogue's spelling.

    Without a catalogue, names are kept as written (trimmed, inner whitespace collapsed); with
    one, matching is case-insensitive and an unknown name is an error naming the closest match.
    """

    def __init__(self, known: Collection[str] | None) -> None:
        self._known: dict[str, str] | None = None
        if known is not None:
            self._known = {_fold(name): " ".join(name.split()) for name in known}

    @staticmethod
    def key(name: str) -> str:
        """The key under which two names count as the same attribute."""
        return _fold(name)

    def resolve(self, raw: object) -> str:
        """The attribute's canonical name; raises ``FieldValueError`` with the user's message."""
        if raw is None:
            raise FieldValueError("missing value")
        if not isinstance(raw, str):
            raise FieldValueError(f"attribute must be text, got {_show(raw)}")
        name = " ".join(raw.split())
        if not name:
            raise FieldValueError("missing value")
        if self._known is None:
            return name
        canonical = self._known.get(_fold(name))
        if canonical is not None:
            return canonical
        match = difflib.get_close_matches(_fold(name), list(self._known), n=1, cutoff=0.6)
        if match:
            hint = f"; did you mean '{self._known[match[0]]}'?"
        else:
            hint = "; known attributes: " + ", ".join(sorted(self._known.values()))
        raise FieldValueError(f"unknown attribute '{name}'{hint}")


def read_csv_records(
    text: str, issues: list[ImportIssue]
) -> tuple[list[tuple[int, list[str]]], str]:
    """Split CSV text into ``(first line number, cells)`` records, skipping blank rows.

    Handles a BOM, CRLF/CR line ends, quoted fields spanning lines and ``;`` or tab delimited
    files (sniffed from the first non-blank line). Returns the records and the delimiter; a
    malformed file adds an issue and returns the records read so far.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = ","
    if "," not in first:
        if ";" in first:
            delimiter = ";"
        elif "\t" in first:
            delimiter = "\t"
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    records: list[tuple[int, list[str]]] = []
    previous = 0
    try:
        for cells in reader:
            start = previous + 1
            previous = reader.line_num
            if any(cell.strip() for cell in cells):
                records.append((start, cells))
    except csv.Error as exc:
        issues.append(ImportIssue(previous + 1, "file", f"unreadable CSV: {exc}"))
    return records, delimiter


def _decimal(raw: object, *, decimal_comma: bool = False) -> Decimal:
    if raw is None:
        raise FieldValueError("missing value")
    if isinstance(raw, bool):
        raise FieldValueError(f"not a number: {_show(raw)}")
    if isinstance(raw, int | float):
        return Decimal(raw)
    if not isinstance(raw, str):
        raise FieldValueError(f"not a number: {_show(raw)}")
    text = raw.strip()
    if not text:
        raise FieldValueError("missing value")
    if decimal_comma and text.count(",") == 1 and "." not in text:
        text = text.replace(",", ".")
    lowered = text.lower()
    if lowered in _NAN:
        return Decimal("NaN")
    if lowered in _INF:
        return Decimal("Infinity")
    if lowered in _NEG_INF:
        return Decimal("-Infinity")
    if not _NUMBER_RE.fullmatch(text):
        raise FieldValueError(f"not a number: {_show(raw)}")
    return Decimal(text)


def _parse_int(raw: object, what: str, *, minimum: int) -> int:
    """An integer field: ``" 3 "`` and ``"3.0"`` are accepted, ``"3.5"``, ``"x"`` are not."""
    value = _decimal(raw)
    kind = "positive" if minimum == 1 else "non-negative"
    if (
        not value.is_finite()
        or value != value.to_integral_value()
        or value < minimum
        or value.adjusted() >= _MAX_INT_DIGITS
    ):
        raise FieldValueError(f"{what} must be a {kind} integer, got {_show(raw)}")
    return int(value)


def _parse_importance(raw: object, *, decimal_comma: bool) -> float:
    value = _decimal(raw, decimal_comma=decimal_comma)
    if not value.is_finite():
        raise FieldValueError(f"importance must be a finite number, got {_show(raw)}")
    if value < 0:
        raise FieldValueError(f"importance must not be negative, got {_show(raw)}")
    number = float(value)
    if number == float("inf"):
        raise FieldValueError(f"importance is too large: {_show(raw)}")
    return number


# --------------------------------------------------------------------------- validation core


@dataclass
class _Item:
    line: int
    attribute: object
    value: object
    sample_size: object = None
    has_sample_size: bool = False


@dataclass
class _Draft:
    form: ResearchForm
    items: list[_Item]
    source: str
    study_line: int
    conducted_on: date | None = None
    segment: str | None = None
    sample_size: int | None = None  # study-level, already checked (JSON)
    sample_size_failed: bool = False  # study-level sample_size was given but invalid
    prefix: str = ""  # put before study-level messages, e.g. "segment 'smb': "
    unit: str = "line"  # how a position is named in messages: "line" (CSV) or "item" (JSON)
    decimal_comma: bool = False
    whole_study: bool = True  # False: check each item only (rows without a segment)


def _build(
    draft: _Draft, matcher: AttributeMatcher, issues: list[ImportIssue]
) -> ResearchStudy | None:
    """Check a draft study and every item in it; the study, or None if anything is wrong."""
    before = len(issues)
    prefix = draft.prefix

    def add(line: int, field: str, message: str) -> None:
        issues.append(ImportIssue(line, field, prefix + message))

    form = draft.form
    value_key = _VALUE_KEY[form]
    names: list[str | None] = []
    values: list[int | float | None] = []
    seen: dict[str, int] = {}
    sizes: list[tuple[int, int]] = []
    size_failed = draft.sample_size_failed
    for item in draft.items:
        name: str | None = None
        try:
            name = matcher.resolve(item.attribute)
        except FieldValueError as exc:
            add(item.line, "attribute", str(exc))
        if name is not None and draft.whole_study:
            key = matcher.key(name)
            if key in seen:
                add(
                    item.line,
                    "attribute",
                    f"duplicate attribute '{name}' (first on {draft.unit} {seen[key]})",
                )
            else:
                seen[key] = item.line
        names.append(name)

        value: int | float | None = None
        try:
            if form is ResearchForm.RANKING:
                value = _parse_int(item.value, "rank", minimum=1)
            elif form is ResearchForm.IMPORTANCE:
                value = _parse_importance(item.value, decimal_comma=draft.decimal_comma)
            else:
                value = _parse_int(item.value, "top3_count", minimum=0)
        except FieldValueError as exc:
            add(item.line, value_key, str(exc))
        values.append(value)

        if item.has_sample_size:
            try:
                sizes.append((item.line, _parse_int(item.sample_size, "sample_size", minimum=1)))
            except FieldValueError as exc:
                add(item.line, "sample_size", str(exc))
                size_failed = True

    if not draft.whole_study:
        return None

    count = len(draft.items)
    if count < MIN_ATTRIBUTES:
        add(
            draft.study_line,
            "attribute",
            f"only {count} attribute{'' if count == 1 else 's'}; "
            f"a study needs at least {MIN_ATTRIBUTES}",
        )

    if form is ResearchForm.RANKING:
        _check_ranking(draft, values, add)
    if form is ResearchForm.IMPORTANCE:
        _check_importance(draft, values, add)
    sample_size = draft.sample_size
    if form is ResearchForm.TOP3:
        sample_size = _check_top3(draft, values, sizes, size_failed, add)

    if len(issues) > before:
        return None
    rows = tuple(
        _row(form, name, value)
        for name, value in zip(names, values, strict=True)
        if name is not None and value is not None
    )
    return ResearchStudy(
        source=draft.source,
        form=form,
        rows=rows,
        conducted_on=draft.conducted_on,
        segment=draft.segment,
        sample_size=sample_size if form is ResearchForm.TOP3 else None,
    )


def _row(form: ResearchForm, name: str, value: int | float) -> ResearchRow:
    if form is ResearchForm.RANKING:
        return ResearchRow(attribute=name, rank=int(value))
    if form is ResearchForm.IMPORTANCE:
        return ResearchRow(attribute=name, importance=float(value))
    return ResearchRow(attribute=name, top3_count=int(value))


def _check_ranking(draft: _Draft, values: list[int | float | None], add: _Adder) -> None:
    count = len(values)
    first_at: dict[int | float, int] = {}
    for item, rank in zip(draft.items, values, strict=True):
        if rank is None:
            continue
        if rank in first_at:
            add(
                item.line,
                "rank",
                f"rank {rank} is duplicated (also on {draft.unit} {first_at[rank]}); "
                "ties are not allowed in a ranking",
            )
        else:
            first_at[rank] = item.line
        if rank > count:
            add(
                item.line,
                "rank",
                f"rank {rank} is out of range: {count} attributes are ranked, "
                f"so ranks must be exactly 1..{count}",
            )
    if all(rank is not None for rank in values):
        missing = sorted(set(range(1, count + 1)) - set(first_at))
        counts = Counter(rank for rank in values if rank is not None)
        duplicated = sorted(rank for rank, n in counts.items() if n > 1)
        if missing:
            detail = "missing " + ", ".join(str(rank) for rank in missing)
            if duplicated:
                detail += "; duplicated " + ", ".join(str(rank) for rank in duplicated)
            add(draft.study_line, "rank", f"ranks must be exactly 1..{count}: {detail}")


def _check_importance(draft: _Draft, values: list[int | float | None], add: _Adder) -> None:
    """Importances that are all equal (all 0 included) rank nothing: no figure could use them."""
    if any(value is None for value in values) or len(set(values)) != 1:
        return
    add(
        draft.study_line,
        "importance",
        f"every importance is {values[0]:g}: the study does not say which attribute matters "
        "more, so there is nothing to compare with",
    )


def _check_top3(
    draft: _Draft,
    values: list[int | float | None],
    sizes: list[tuple[int, int]],
    size_failed: bool,
    add: _Adder,
) -> int | None:
    reference: tuple[int, int] | None = None  # (line, size)
    if draft.sample_size is not None:
        reference = (draft.study_line, draft.sample_size)
    elif sizes:
        reference = sizes[0]
    if reference is not None:
        ref_line, ref_size = reference
        for line, size in sizes:
            if size != ref_size:
                where = "" if draft.sample_size is not None else f" ({draft.unit} {ref_line})"
                add(
                    line,
                    "sample_size",
                    f"sample size {size} differs from {ref_size}{where}; "
                    "every row of a segment must have the same sample size",
                )
    elif not size_failed:
        add(draft.study_line, "sample_size", "missing value: a top3 study needs a sample_size")
        return None
    if reference is None:
        return None
    n = reference[1]
    for item, top3 in zip(draft.items, values, strict=True):
        if top3 is not None and top3 > n:
            add(item.line, "top3_count", f"count above sample size ({top3} > {n})")
    if all(top3 is not None for top3 in values):
        total = sum(top3 for top3 in values if top3 is not None)
        if total == 0:
            add(
                draft.study_line,
                "top3_count",
                "every top3 count is 0: no customer named any attribute",
            )
        if total > TOP_K * n:
            add(
                draft.study_line,
                "top3_count",
                f"top3 counts add up to {total}, more than 3 × sample size ({TOP_K * n}); "
                "each customer names at most 3 attributes",
            )
    return n


def _clean_segment(segment: str | None) -> str | None:
    """A segment argument trimmed, inner whitespace collapsed; blank means all customers."""
    if segment is None:
        return None
    return " ".join(segment.split()) or None


def _select_segment(
    studies: list[tuple[str | None, ResearchStudy | None]],
    segment: str,
    present: list[str],
    issues: list[ImportIssue],
    where: str,
) -> list[ResearchStudy]:
    wanted = _fold(segment)
    chosen = [study for name, study in studies if name is not None and _fold(name) == wanted]
    if not chosen:
        listed = ", ".join(present) if present else "none"
        issues.append(
            ImportIssue(
                1,
                "segment",
                f"segment '{segment.strip()}' is not in the {where}; segments present: {listed}",
            )
        )
        return []
    return [study for study in chosen if study is not None]


# --------------------------------------------------------------------------- CSV


def parse_research_csv(
    text: str,
    *,
    source: str,
    conducted_on: date | None = None,
    segment: str | None = None,
    known_attributes: Collection[str] | None = None,
) -> list[ResearchStudy]:
    """Parse a research CSV into one study per segment (or one study); see the module doc.

    ``segment``: with a segment column, keep only that segment (an error if absent); without
    one, the segment the whole file describes (None = all customers).
    Raises :class:`ResearchImportError` listing every issue if anything is wrong.
    """
    issues: list[ImportIssue] = []
    segment = _clean_segment(segment)
    matcher = AttributeMatcher(known_attributes)
    records, delimiter = read_csv_records(text, issues)
    if issues:
        raise ResearchImportError(issues)
    if not records:
        raise ResearchImportError(
            [ImportIssue(1, "file", "empty file: expected a header such as 'attribute,rank'")]
        )
    header_line, header_cells = records[0]
    layout = _csv_layout(header_line, header_cells, issues)
    if layout is None:
        raise ResearchImportError(issues)
    form, columns = layout
    data = records[1:]
    if not data:
        raise ResearchImportError(
            [ImportIssue(header_line + 1, "file", "empty file: no data rows below the header")]
        )

    def cell(cells: list[str], column: str) -> str:
        index = columns.get(column)
        return cells[index] if index is not None and index < len(cells) else ""

    groups: dict[str | None, tuple[str | None, list[_Item]]] = {}
    orphans: list[_Item] = []
    for line, cells in data:
        if len(cells) > len(header_cells) and any(c.strip() for c in cells[len(header_cells) :]):
            issues.append(
                ImportIssue(
                    line,
                    "row",
                    f"{len(cells)} cells but the header has {len(header_cells)} columns",
                )
            )
        item = _Item(
            line=line,
            attribute=cell(cells, "attribute"),
            value=cell(cells, _VALUE_KEY[form]),
            sample_size=cell(cells, "sample_size"),
            has_sample_size=form is ResearchForm.TOP3,
        )
        if "segment" in columns:
            name = " ".join(cell(cells, "segment").split())
            if not name:
                issues.append(
                    ImportIssue(
                        line,
                        "segment",
                        "missing value: the file has a segment column, so every row needs one",
                    )
                )
                orphans.append(item)
                continue
            groups.setdefault(_fold(name), (name, []))[1].append(item)
        else:
            groups.setdefault(None, (segment, []))[1].append(item)

    decimal_comma = delimiter == ";"
    built: list[tuple[str | None, ResearchStudy | None]] = []
    for group_name, items in groups.values():
        draft = _Draft(
            form=form,
            items=items,
            source=source,
            study_line=items[0].line if "segment" in columns else header_line,
            conducted_on=conducted_on,
            segment=group_name,
            prefix=f"segment '{group_name}': " if "segment" in columns else "",
            decimal_comma=decimal_comma,
        )
        built.append((group_name, _build(draft, matcher, issues)))
    if orphans:
        orphan_draft = _Draft(
            form=form,
            items=orphans,
            source=source,
            study_line=header_line,
            decimal_comma=decimal_comma,
            whole_study=False,
        )
        _build(orphan_draft, matcher, issues)

    if "segment" in columns and segment is not None:
        present = [name for name, _ in built if name is not None]
        result = _select_segment(built, segment, present, issues, "file")
    else:
        result = [study for _, study in built if study is not None]
    if issues:
        issues.sort(key=lambda issue: issue.line)
        raise ResearchImportError(issues)
    return result


def _csv_layout(
    line: int, cells: list[str], issues: list[ImportIssue]
) -> tuple[ResearchForm, dict[str, int]] | None:
    before = len(issues)
    columns: dict[str, int] = {}
    trailing_blank = len(cells)
    while trailing_blank > 0 and not cells[trailing_blank - 1].strip():
        trailing_blank -= 1
    for index, raw in enumerate(cells[:trailing_blank]):
        name = normalise_column(raw)
        if not name:
            issues.append(ImportIssue(line, f"column {index + 1}", "empty column name"))
        elif name not in _CSV_COLUMNS:
            hint = _suggest(name, _CSV_COLUMNS) or (
                "; expected attribute with rank, importance, or top3_count and sample_size "
                "(optionally segment)"
            )
            issues.append(ImportIssue(line, raw.strip(), f"unknown column '{raw.strip()}'{hint}"))
        elif name in columns:
            issues.append(ImportIssue(line, name, f"column '{name}' appears twice"))
        else:
            columns[name] = index
    if "attribute" not in columns:
        issues.append(ImportIssue(line, "attribute", "missing required column 'attribute'"))
    forms = [form for key, form in _FORM_BY_KEY.items() if key in columns]
    if not forms:
        issues.append(
            ImportIssue(
                line,
                "header",
                "missing a value column: expected 'rank', 'importance', "
                "or 'top3_count' with 'sample_size'",
            )
        )
    elif len(forms) > 1:
        named = " and ".join(f"'{_VALUE_KEY[form]}'" for form in forms)
        issues.append(
            ImportIssue(line, "header", f"columns {named} cannot be combined; one form per file")
        )
    if forms == [ResearchForm.TOP3] and "sample_size" not in columns:
        issues.append(
            ImportIssue(
                line, "sample_size", "missing required column 'sample_size' (top3_count needs it)"
            )
        )
    if "sample_size" in columns and ResearchForm.TOP3 not in forms:
        issues.append(
            ImportIssue(line, "sample_size", "column 'sample_size' only goes with 'top3_count'")
        )
    if len(issues) > before or len(forms) != 1:
        return None
    return forms[0], columns


# --------------------------------------------------------------------------- JSON


def parse_research_json(
    text: str,
    *,
    known_attributes: Collection[str] | None = None,
    source: str | None = None,
    segment: str | None = None,
    conducted_on: date | None = None,
) -> list[ResearchStudy]:
    """Parse a JSON study or list of studies (shape in the module doc).

    ``source`` and ``conducted_on`` are used for studies that do not give their own.
    ``segment``: if the document names segments, keep only that one (an error if absent);
    otherwise it labels every study. Raises :class:`ResearchImportError` for any bad input.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        raise ResearchImportError([ImportIssue(1, "json", "empty file")])
    try:
        document: object = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResearchImportError(
            [
                ImportIssue(
                    exc.lineno,
                    "json",
                    f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
                )
            ]
        ) from None
    except (ValueError, RecursionError) as exc:
        raise ResearchImportError([ImportIssue(1, "json", f"invalid JSON: {exc}")]) from None

    issues: list[ImportIssue] = []
    segment = _clean_segment(segment)
    matcher = AttributeMatcher(known_attributes)
    multi = isinstance(document, list)
    raw_studies: list[object]
    if isinstance(document, dict):
        raw_studies = [document]
    elif isinstance(document, list):
        raw_studies = list(document)
        if not raw_studies:
            issues.append(ImportIssue(1, "json", "empty list: expected at least one study"))
    else:
        issues.append(
            ImportIssue(
                1, "json", f"expected a study object or a list of them, got {_show(document)}"
            )
        )
        raw_studies = []

    drafts: list[_Draft] = []
    for position, raw in enumerate(raw_studies, start=1):
        prefix = f"study {position}: " if multi else ""
        if not isinstance(raw, dict):
            issues.append(
                ImportIssue(position, "study", f"{prefix}expected an object, got {_show(raw)}")
            )
            continue
        draft = _json_draft(raw, position, prefix, source, conducted_on, issues)
        if draft is not None:
            drafts.append(draft)

    named = [draft.segment for draft in drafts if draft.segment is not None]
    if not named and segment is not None:
        drafts = [replace(draft, segment=segment) for draft in drafts]
    built = [(draft.segment, _build(draft, matcher, issues)) for draft in drafts]
    if named and segment is not None:
        present = list(dict.fromkeys(named))
        result = _select_segment(built, segment, present, issues, "document")
    else:
        result = [study for _, study in built if study is not None]
    if issues:
        raise ResearchImportError(issues)
    return result


def _json_draft(
    raw: dict[str, object],
    position: int,
    prefix: str,
    default_source: str | None,
    default_date: date | None,
    issues: list[ImportIssue],
) -> _Draft | None:
    before = len(issues)

    def add(line: int, field: str, message: str) -> None:
        issues.append(ImportIssue(line, field, prefix + message))

    for key in raw:
        if key not in _JSON_STUDY_KEYS and key not in _JSON_IGNORED_KEYS:
            add(
                position,
                key or "(empty key)",
                f"unknown key '{key}'{_suggest(key, _JSON_STUDY_KEYS)}",
            )

    source = default_source
    if raw.get("source") is not None:
        value = raw["source"]
        if isinstance(value, str) and value.strip():
            source = value.strip()
        else:
            add(position, "source", f"source must be non-empty text, got {_show(value)}")
    elif default_source is None or not default_source.strip():
        add(position, "source", "missing value: say where the study comes from")

    conducted_on = default_date
    if raw.get("conducted_on") is not None:
        value = raw["conducted_on"]
        try:
            if not isinstance(value, str):
                raise ValueError
            conducted_on = date.fromisoformat(value.strip())
        except ValueError:
            add(position, "conducted_on", f"not a date (expected YYYY-MM-DD): {_show(value)}")

    segment: str | None = None
    if raw.get("segment") is not None:
        value = raw["segment"]
        if isinstance(value, str) and value.strip():
            segment = " ".join(value.split())
        else:
            add(
                position,
                "segment",
                f"segment must be non-empty text (omit it for all customers), got {_show(value)}",
            )

    form: ResearchForm | None = None
    if raw.get("form") is not None:
        value = raw["form"]
        wanted = re.sub(r"[\s_\-]", "", value.lower()) if isinstance(value, str) else ""
        if wanted in set(ResearchForm):
            form = ResearchForm(wanted)
        else:
            add(position, "form", f"form must be ranking, importance or top3, got {_show(value)}")

    sample_size: int | None = None
    sample_size_failed = False
    if raw.get("sample_size") is not None:
        try:
            sample_size = _parse_int(raw["sample_size"], "sample_size", minimum=1)
        except FieldValueError as exc:
            add(position, "sample_size", str(exc))
            sample_size_failed = True

    items_raw = raw.get("attributes")
    if items_raw is None:
        add(position, "attributes", "missing value: list the attributes with their values")
        return None
    if not isinstance(items_raw, list):
        add(position, "attributes", f"expected a list of objects, got {_show(items_raw)}")
        return None

    seen_forms: Counter[ResearchForm] = Counter()
    for item in items_raw:
        if isinstance(item, dict):
            seen_forms.update({_FORM_BY_KEY[key] for key in item if key in _FORM_BY_KEY})
    if form is None:
        ranked = seen_forms.most_common()
        if not ranked:
            if len(issues) == before:
                add(
                    position,
                    "form",
                    "cannot tell the form: give 'form' or items with "
                    "'rank', 'importance' or 'top3_count'",
                )
            return None
        if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
            mixed = " and ".join(f"'{_VALUE_KEY[f]}'" for f, _ in ranked)
            add(position, "form", f"items mix {mixed}; a study holds one form (or give 'form')")
            return None
        form = ranked[0][0]  # the form most items follow; stray keys are reported per item

    value_key = _VALUE_KEY[form]
    if sample_size is not None and form is not ResearchForm.TOP3:
        add(position, "sample_size", f"sample_size only applies to top3 studies, not {form}")

    items: list[_Item] = []
    for index, item in enumerate(items_raw, start=1):
        if not isinstance(item, dict):
            add(
                index,
                "attributes",
                f"item {index} must be an object with 'attribute' and '{value_key}', "
                f"got {_show(item)}",
            )
            continue
        for key in item:
            if key not in _JSON_ITEM_KEYS:
                add(
                    index,
                    key or "(empty key)",
                    f"unknown key '{key}'{_suggest(key, _JSON_ITEM_KEYS)}",
                )
            elif key in _FORM_BY_KEY and key != value_key:
                add(index, key, f"'{key}' does not belong in a {form} study")
            elif key == "sample_size" and form is not ResearchForm.TOP3:
                add(index, key, f"sample_size only applies to top3 studies, not {form}")
        items.append(
            _Item(
                line=index,
                attribute=item.get("attribute"),
                value=item.get(value_key),
                sample_size=item.get("sample_size"),
                has_sample_size=form is ResearchForm.TOP3 and "sample_size" in item,
            )
        )
    if len(issues) > before and not items:
        return None
    return _Draft(
        form=form,
        items=items,
        source=source or "",
        study_line=position,
        conducted_on=conducted_on,
        segment=segment,
        sample_size=sample_size,
        sample_size_failed=sample_size_failed,
        prefix=prefix,
        unit="item",
    )


# --------------------------------------------------------------------------- dispatch


def not_text_message(filename: str, error: UnicodeDecodeError) -> str:
    """Why a research file could not be read as text, in words an admin can act on (a raw
    codec error names a byte, not the fix)."""
    byte = error.object[error.start : error.start + 1].hex()
    return (
        f"'{filename}' is not a UTF-8 text file (byte 0x{byte} at position {error.start}): "
        "research must be CSV or JSON saved as UTF-8; save a spreadsheet (.xlsx, .ods) "
        "as 'CSV UTF-8' first."
    )


def parse_research(
    text: str,
    *,
    filename: str | None,
    source: str | None = None,
    conducted_on: date | None = None,
    segment: str | None = None,
    known_attributes: Collection[str] | None = None,
) -> list[ResearchStudy]:
    """Parse research as JSON or CSV, chosen by ``filename``'s extension or else by content.

    ``source`` defaults to the file's name (CSV) or is a fallback for studies without one
    (JSON).
    """
    suffix = PurePath(filename).suffix.lower() if filename else ""
    name = PurePath(filename).name if filename else None
    looks_json = text.lstrip("\ufeff \t\r\n").startswith(("{", "["))
    if suffix == ".json" or (suffix not in {".csv", ".tsv", ".txt"} and looks_json):
        return parse_research_json(
            text,
            known_attributes=known_attributes,
            source=source or name,
            segment=segment,
            conducted_on=conducted_on,
        )
    return parse_research_csv(
        text,
        source=source or name or "research import",
        conducted_on=conducted_on,
        segment=segment,
        known_attributes=known_attributes,
    )
