"""Research import: CSV and JSON parsing, whole-file validation and precise issues."""

from __future__ import annotations

import json
import math
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.model.research import ImportIssue, ResearchForm, ResearchImportError, ResearchStudy
from bot.reports.research_io import (
    MIN_ATTRIBUTES,
    parse_research,
    parse_research_csv,
    parse_research_json,
)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
DEFAULTS = (
    "price",
    "product quality",
    "reliability",
    "delivery speed",
    "customer support",
    "ease of use",
    "innovation",
    "relationship/trust",
)


def csv_issues(text: str, **kwargs: object) -> list[ImportIssue]:
    kwargs.setdefault("source", "test")
    with pytest.raises(ResearchImportError) as info:
        parse_research_csv(text, **kwargs)  # type: ignore[arg-type]
    assert info.value.issues, "an import error always carries issues"
    return info.value.issues


def json_issues(text: str, **kwargs: object) -> list[ImportIssue]:
    kwargs.setdefault("source", "test")
    with pytest.raises(ResearchImportError) as info:
        parse_research_json(text, **kwargs)  # type: ignore[arg-type]
    assert info.value.issues
    return info.value.issues


def find(issues: list[ImportIssue], line: int, field: str, fragment: str) -> ImportIssue:
    for issue in issues:
        if issue.line == line and issue.field == field and fragment in issue.message:
            return issue
    raise AssertionError(f"no issue at line {line}, field {field!r} with {fragment!r}: {issues}")


# --------------------------------------------------------------------------- CSV: good input


def test_ranking_csv() -> None:
    studies = parse_research_csv(
        "attribute,rank\nprice,2\nreliability,1\ninnovation,3\n",
        source="survey",
        conducted_on=date(2026, 9, 30),
    )
    assert len(studies) == 1
    study = studies[0]
    assert study.form is ResearchForm.RANKING
    assert study.source == "survey"
    assert study.conducted_on == date(2026, 9, 30)
    assert study.segment is None
    assert study.sample_size is None
    assert study.attributes == ("price", "reliability", "innovation")
    assert [row.rank for row in study.rows] == [2, 1, 3]
    assert all(row.importance is None and row.top3_count is None for row in study.rows)


def test_importance_csv() -> None:
    (study,) = parse_research_csv(
        "attribute,importance\nprice,4.56\nreliability,6.21\ninnovation,0\n", source="s"
    )
    assert study.form is ResearchForm.IMPORTANCE
    assert [row.importance for row in study.rows] == [4.56, 6.21, 0.0]
    assert all(row.rank is None and row.top3_count is None for row in study.rows)


def test_top3_csv_sets_sample_size() -> None:
    (study,) = parse_research_csv(
        "attribute,top3_count,sample_size\nprice,50,100\nreliability,80,100\ninnovation,0,100\n",
        source="s",
    )
    assert study.form is ResearchForm.TOP3
    assert study.sample_size == 100
    assert [row.top3_count for row in study.rows] == [50, 80, 0]


def test_header_case_whitespace_order_bom_crlf_blank_lines() -> None:
    text = "\ufeff Rank , ATTRIBUTE \r\n1, price \r\n 2 ,reliability\r\n3.0,innovation\r\n\r\n\r\n"
    (study,) = parse_research_csv(text, source="s")
    assert study.attributes == ("price", "reliability", "innovation")
    assert [row.rank for row in study.rows] == [1, 2, 3]


def test_header_with_spaces_for_underscores() -> None:
    text = "Attribute,Top3 Count,Sample Size\nprice,1,10\nreliability,2,10\ninnovation,3,10\n"
    (study,) = parse_research_csv(text, source="s")
    assert study.sample_size == 10


def test_semicolon_delimiter_and_decimal_comma() -> None:
    text = "attribute;importance\nprice;4,5\nreliability;6\ninnovation;3.25\n"
    (study,) = parse_research_csv(text, source="s")
    assert [row.importance for row in study.rows] == [4.5, 6.0, 3.25]


def test_quoted_cells() -> None:
    text = 'attribute,rank\n"price",1\n"relationship/trust",2\n"ease of use",3\n'
    (study,) = parse_research_csv(text, source="s")
    assert study.attributes == ("price", "relationship/trust", "ease of use")


def test_known_attributes_normalised_to_catalogue_spelling() -> None:
    text = "attribute,rank\nPRICE,1\n  Ease  Of Use ,2\nRelationship/Trust,3\n"
    (study,) = parse_research_csv(text, source="s", known_attributes=DEFAULTS)
    assert study.attributes == ("price", "ease of use", "relationship/trust")


def test_without_catalogue_names_kept_as_written() -> None:
    (study,) = parse_research_csv(
        "attribute,rank\nPrice,1\nSpeed,2\nColour,3\n", source="s", known_attributes=None
    )
    assert study.attributes == ("Price", "Speed", "Colour")


def test_segment_argument_labels_file_without_segment_column() -> None:
    (study,) = parse_research_csv(
        "attribute,rank\nprice,1\nreliability,2\ninnovation,3\n", source="s", segment="smb"
    )
    assert study.segment == "smb"


SEGMENTED = (
    "attribute,top3_count,sample_size,segment\n"
    "price,50,100,smb\n"
    "reliability,40,100,smb\n"
    "innovation,10,100,smb\n"
    "price,5,20,enterprise\n"
    "reliability,15,20,enterprise\n"
    "innovation,4,20,enterprise\n"
)


def test_segment_column_gives_one_study_per_segment_in_order() -> None:
    studies = parse_research_csv(SEGMENTED, source="s")
    assert [study.segment for study in studies] == ["smb", "enterprise"]
    assert [study.sample_size for study in studies] == [100, 20]
    assert studies[1].rows[1].top3_count == 15


def test_segment_argument_selects_one_segment() -> None:
    (study,) = parse_research_csv(SEGMENTED, source="s", segment="Enterprise")
    assert study.segment == "enterprise"
    assert study.sample_size == 20


def test_segment_argument_absent_lists_segments() -> None:
    issues = csv_issues(SEGMENTED, segment="midmarket")
    issue = find(issues, 1, "segment", "'midmarket' is not in the file")
    assert "smb, enterprise" in issue.message


def test_same_attribute_in_different_segments_is_fine() -> None:
    studies = parse_research_csv(SEGMENTED, source="s")
    assert studies[0].attributes == studies[1].attributes


# --------------------------------------------------------------------------- CSV: header issues


def test_empty_file() -> None:
    for text in ("", "\ufeff", "\n\n  \r\n"):
        find(csv_issues(text), 1, "file", "empty file")


def test_header_only_is_empty() -> None:
    find(csv_issues("attribute,rank\n"), 2, "file", "no data rows")


def test_unknown_header_with_suggestion() -> None:
    issues = csv_issues("attribute,rnak\nprice,1\n")
    find(issues, 1, "rnak", "unknown column 'rnak'; did you mean 'rank'?")
    find(issues, 1, "header", "missing a value column")


def test_missing_attribute_column() -> None:
    find(csv_issues("name,rank\nprice,1\n"), 1, "attribute", "missing required column")


def test_top3_without_sample_size_column() -> None:
    issues = csv_issues("attribute,top3_count\nprice,1\n")
    find(issues, 1, "sample_size", "missing required column 'sample_size'")


def test_two_forms_cannot_be_combined() -> None:
    find(csv_issues("attribute,rank,importance\nprice,1,2\n"), 1, "header", "cannot be combined")


def test_duplicate_header_column() -> None:
    find(csv_issues("attribute,rank,Rank\nprice,1,1\n"), 1, "rank", "appears twice")


def test_sample_size_only_with_top3() -> None:
    issues = csv_issues("attribute,rank,sample_size\nprice,1,10\n")
    find(issues, 1, "sample_size", "only goes with 'top3_count'")


# --------------------------------------------------------------------------- CSV: row issues


def test_unknown_attribute_with_suggestion() -> None:
    issues = csv_issues(
        "attribute,rank\nprice,1\nreliablity,2\ninnovation,3\n", known_attributes=DEFAULTS
    )
    (issue,) = issues
    assert issue.line == 3
    assert issue.field == "attribute"
    assert "unknown attribute 'reliablity'" in issue.message
    assert "did you mean 'reliability'?" in issue.message


def test_unknown_attribute_without_close_match_lists_catalogue() -> None:
    issues = csv_issues("attribute,rank\nprice,1\nzzz,2\ninnovation,3\n", known_attributes=DEFAULTS)
    find(issues, 3, "attribute", "known attributes: customer support")


def test_duplicate_attribute_case_insensitive() -> None:
    issues = csv_issues("attribute,importance\nprice,1\nreliability,2\nPrice ,3\n")
    find(issues, 4, "attribute", "duplicate attribute 'Price' (first on line 2)")


def test_missing_values() -> None:
    issues = csv_issues("attribute,importance\nprice,\n,2\nreliability\n")
    find(issues, 2, "importance", "missing value")
    find(issues, 3, "attribute", "missing value")
    find(issues, 4, "importance", "missing value")


def test_non_numeric_values() -> None:
    issues = csv_issues("attribute,importance\nprice,high\nreliability,1_0\ninnovation,2\n")
    find(issues, 2, "importance", "not a number: 'high'")
    find(issues, 3, "importance", "not a number: '1_0'")


@pytest.mark.parametrize("bad", ["0", "-1", "1.5", "abc", "1e40"])
def test_rank_not_positive_integer(bad: str) -> None:
    issues = csv_issues(f"attribute,rank\nprice,{bad}\nreliability,2\ninnovation,3\n")
    issue = find(issues, 2, "rank", "")
    assert "positive integer" in issue.message or "not a number" in issue.message


def test_rank_integral_float_accepted() -> None:
    (study,) = parse_research_csv(
        "attribute,rank\nprice,1.0\nreliability, 2 \ninnovation,3e0\n", source="s"
    )
    assert [row.rank for row in study.rows] == [1, 2, 3]


def test_ranks_tie_is_reported_with_both_lines() -> None:
    issues = csv_issues("attribute,rank\nprice,1\nreliability,2\ninnovation,2\n")
    find(issues, 4, "rank", "rank 2 is duplicated (also on line 3)")
    find(issues, 4, "rank", "ties are not allowed")
    find(issues, 1, "rank", "missing 3; duplicated 2")


def test_ranks_gap_says_which_are_missing() -> None:
    issues = csv_issues("attribute,rank\nprice,1\nreliability,2\ninnovation,4\nease of use,5\n")
    find(issues, 5, "rank", "rank 5 is out of range")
    find(issues, 1, "rank", "ranks must be exactly 1..4: missing 3")


@pytest.mark.parametrize("bad", ["nan", "NaN", "inf", "-inf", "Infinity"])
def test_importance_not_finite(bad: str) -> None:
    issues = csv_issues(f"attribute,importance\nprice,{bad}\nreliability,2\ninnovation,3\n")
    find(issues, 2, "importance", "finite")


def test_importance_negative() -> None:
    issues = csv_issues("attribute,importance\nprice,-0.5\nreliability,2\ninnovation,3\n")
    find(issues, 2, "importance", "must not be negative")


TOP3_HEADER = "attribute,top3_count,sample_size\n"


@pytest.mark.parametrize("bad", ["-1", "2.5", "x"])
def test_top3_count_not_non_negative_integer(bad: str) -> None:
    issues = csv_issues(f"{TOP3_HEADER}price,{bad},10\nreliability,2,10\ninnovation,3,10\n")
    issue = find(issues, 2, "top3_count", "")
    assert "non-negative integer" in issue.message or "not a number" in issue.message


@pytest.mark.parametrize("bad", ["0", "-3", "10.5", "ten"])
def test_sample_size_not_positive_integer(bad: str) -> None:
    issues = csv_issues(f"{TOP3_HEADER}price,1,{bad}\nreliability,2,10\ninnovation,3,10\n")
    issue = find(issues, 2, "sample_size", "")
    assert "positive integer" in issue.message or "not a number" in issue.message


def test_sample_size_differs_within_segment() -> None:
    issues = csv_issues(f"{TOP3_HEADER}price,1,10\nreliability,2,12\ninnovation,3,10\n")
    (issue,) = issues
    assert (issue.line, issue.field) == (3, "sample_size")
    assert "sample size 12 differs from 10 (line 2)" in issue.message


def test_count_above_sample_size() -> None:
    issues = csv_issues(f"{TOP3_HEADER}price,11,10\nreliability,2,10\ninnovation,3,10\n")
    find(issues, 2, "top3_count", "count above sample size (11 > 10)")


def test_sum_of_counts_above_three_times_sample_size() -> None:
    issues = csv_issues(
        f"{TOP3_HEADER}price,10,10\nreliability,10,10\ninnovation,10,10\nease of use,1,10\n"
    )
    issue = find(issues, 1, "top3_count", "add up to 31")
    assert "3 × sample size (30)" in issue.message


def test_sum_exactly_three_times_sample_size_is_fine() -> None:
    (study,) = parse_research_csv(
        f"{TOP3_HEADER}price,10,10\nreliability,10,10\ninnovation,10,10\n", source="s"
    )
    assert study.sample_size == 10


def test_fewer_than_three_attributes() -> None:
    issues = csv_issues("attribute,rank\nprice,1\nreliability,2\n")
    find(issues, 1, "attribute", f"only 2 attributes; a study needs at least {MIN_ATTRIBUTES}")


def test_fewer_than_three_attributes_in_one_segment() -> None:
    text = SEGMENTED + "price,1,5,midmarket\nreliability,2,5,midmarket\n"
    issues = csv_issues(text)
    issue = find(issues, 8, "attribute", "only 2 attributes")
    assert issue.message.startswith("segment 'midmarket': ")


def test_empty_segment_cell() -> None:
    issues = csv_issues(SEGMENTED + "price,1,5,\n")
    find(issues, 8, "segment", "missing value")


def test_extra_cells() -> None:
    issues = csv_issues("attribute,rank\nprice,1,oops\nreliability,2\ninnovation,3\n")
    find(issues, 2, "row", "3 cells but the header has 2 columns")


def test_trailing_empty_cells_are_ignored() -> None:
    (study,) = parse_research_csv(
        "attribute,rank,\nprice,1,\nreliability,2,\ninnovation,3\n", source="s"
    )
    assert len(study.rows) == 3


def test_one_bad_row_among_good_ones_refuses_everything() -> None:
    good = "".join(f"{name},{n}\n" for n, name in enumerate(DEFAULTS, start=1))
    text = "attribute,importance\n" + good + "bogus,abc\n"
    with pytest.raises(ResearchImportError) as info:
        parse_research_csv(text, source="s", known_attributes=DEFAULTS)
    lines = {issue.line for issue in info.value.issues}
    assert lines == {10}
    assert {issue.field for issue in info.value.issues} == {"attribute", "importance"}
    assert "nothing was saved" in str(info.value)


def test_every_issue_is_collected_in_line_order() -> None:
    text = "attribute,rank\nprise,1\nreliability,x\nreliability,3\n"
    issues = csv_issues(text, known_attributes=DEFAULTS)
    assert [issue.line for issue in issues] == sorted(issue.line for issue in issues)
    find(issues, 2, "attribute", "did you mean 'price'")
    find(issues, 3, "rank", "not a number")
    find(issues, 4, "attribute", "duplicate")


def test_multiline_quoted_cell_keeps_physical_line_numbers() -> None:
    text = 'attribute,rank\n"price",1\n"relia\nbility",x\ninnovation,3\n'
    issues = csv_issues(text)
    find(issues, 3, "rank", "not a number")


# --------------------------------------------------------------------------- JSON


JSON_TOP3 = {
    "source": "Customer survey",
    "conducted_on": "2026-09-30",
    "segment": "enterprise",
    "sample_size": 300,
    "form": "top3",
    "attributes": [
        {"attribute": "price", "top3_count": 120},
        {"attribute": "reliability", "top3_count": 210},
        {"attribute": "innovation", "top3_count": 60},
    ],
}


def test_json_object() -> None:
    (study,) = parse_research_json(json.dumps(JSON_TOP3), known_attributes=DEFAULTS)
    assert study.form is ResearchForm.TOP3
    assert study.source == "Customer survey"
    assert study.conducted_on == date(2026, 9, 30)
    assert study.segment == "enterprise"
    assert study.sample_size == 300
    assert [row.top3_count for row in study.rows] == [120, 210, 60]


@pytest.mark.parametrize(
    ("key", "values", "form"),
    [
        ("rank", [1, 3, 2], ResearchForm.RANKING),
        ("importance", [4.5, 6, 1.25], ResearchForm.IMPORTANCE),
    ],
)
def test_json_form_inferred(key: str, values: list[float], form: ResearchForm) -> None:
    doc = {
        "attributes": [
            {"attribute": name, key: value}
            for name, value in zip(["price", "reliability", "innovation"], values, strict=True)
        ]
    }
    (study,) = parse_research_json(json.dumps(doc), source="fallback")
    assert study.form is form
    assert study.source == "fallback"
    assert study.sample_size is None
    assert [getattr(row, key) for row in study.rows] == values


def test_json_list_of_studies_and_segment_selection() -> None:
    other = {**JSON_TOP3, "segment": "smb", "sample_size": 100}
    other["attributes"] = [
        {"attribute": "price", "top3_count": 90},
        {"attribute": "reliability", "top3_count": 40},
        {"attribute": "innovation", "top3_count": 20},
    ]
    text = json.dumps([JSON_TOP3, other])
    assert [s.segment for s in parse_research_json(text)] == ["enterprise", "smb"]
    (smb,) = parse_research_json(text, segment="smb")
    assert smb.sample_size == 100
    issues = json_issues(text, segment="midmarket")
    find(issues, 1, "segment", "segments present: enterprise, smb")


def test_json_numeric_strings_accepted() -> None:
    doc = {**JSON_TOP3, "sample_size": " 300 "}
    rest = list(JSON_TOP3["attributes"])[1:]  # type: ignore[call-overload]
    doc["attributes"] = [{"attribute": "price", "top3_count": "120.0"}, *rest]
    (study,) = parse_research_json(json.dumps(doc))
    assert study.rows[0].top3_count == 120
    assert study.sample_size == 300


def test_json_syntax_error_has_line_and_column() -> None:
    issues = json_issues('{\n  "source": "x",\n  "attributes": [,]\n}')
    (issue,) = issues
    assert issue.line == 3
    assert issue.field == "json"
    assert "line 3, column" in issue.message


def test_json_item_issues_by_index_and_key() -> None:
    doc = {
        "source": "s",
        "sample_size": 100,
        "attributes": [
            {"attribute": "price", "top3_count": 120},
            {"attribute": "prise", "top3_count": 10},
            {"attribute": "reliability", "top3_count": -1},
            {"attribute": "reliability", "top3_count": True},
            {"attribute": 7, "top3_count": None},
            {"attribute": "innovation", "top3_count": 1, "rank": 2},
            {"attribute": "ease of use", "top3_count": 1, "colour": "red"},
            "delivery speed",
        ],
    }
    issues = json_issues(json.dumps(doc), known_attributes=DEFAULTS)
    find(issues, 1, "top3_count", "count above sample size (120 > 100)")
    find(issues, 2, "attribute", "did you mean 'price'")
    find(issues, 3, "top3_count", "non-negative integer")
    find(issues, 4, "attribute", "duplicate attribute 'reliability' (first on item 3)")
    find(issues, 4, "top3_count", "not a number: true")
    find(issues, 5, "attribute", "must be text")
    find(issues, 5, "top3_count", "missing value")
    find(issues, 6, "rank", "does not belong in a top3 study")
    find(issues, 7, "colour", "unknown key")
    find(issues, 8, "attributes", "must be an object")


def test_json_study_level_issues() -> None:
    doc = {
        "conducted_on": "30/09/2026",
        "segment": "",
        "form": "poll",
        "sample_size": 0,
        "attrs": [],
        "attributes": [],
    }
    issues = json_issues(json.dumps(doc), source=None)
    find(issues, 1, "source", "missing value")
    find(issues, 1, "conducted_on", "not a date")
    find(issues, 1, "segment", "non-empty text")
    find(issues, 1, "form", "ranking, importance or top3")
    find(issues, 1, "sample_size", "positive integer")
    find(issues, 1, "attrs", "unknown key 'attrs'")


def test_json_top3_without_sample_size() -> None:
    doc = {**JSON_TOP3}
    del doc["sample_size"]
    find(json_issues(json.dumps(doc)), 1, "sample_size", "missing value")


def test_json_sum_above_three_n_and_too_few() -> None:
    doc = {
        "source": "s",
        "sample_size": 10,
        "attributes": [
            {"attribute": "price", "top3_count": 10},
            {"attribute": "reliability", "top3_count": 10},
        ],
    }
    issues = json_issues(json.dumps(doc))
    find(issues, 1, "attribute", "only 2 attributes")
    doc["attributes"] += [  # type: ignore[operator]
        {"attribute": "innovation", "top3_count": 10},
        {"attribute": "ease of use", "top3_count": 1},
    ]
    find(json_issues(json.dumps(doc)), 1, "top3_count", "add up to 31")


def test_json_ranking_ties_and_nan_importance() -> None:
    ranking = {
        "source": "s",
        "attributes": [
            {"attribute": "a", "rank": 1},
            {"attribute": "b", "rank": 1},
            {"attribute": "c", "rank": 2},
        ],
    }
    find(json_issues(json.dumps(ranking)), 2, "rank", "duplicated (also on item 1)")
    text = '{"source": "s", "attributes": [{"attribute": "a", "importance": NaN},'
    text += '{"attribute": "b", "importance": Infinity}, {"attribute": "c", "importance": 1}]}'
    issues = json_issues(text)
    find(issues, 1, "importance", "finite")
    find(issues, 2, "importance", "finite")


def test_json_mixed_forms() -> None:
    doc = {
        "source": "s",
        "attributes": [{"attribute": "a", "rank": 1}, {"attribute": "b", "importance": 2}],
    }
    find(json_issues(json.dumps(doc)), 1, "form", "mix")


def test_json_list_messages_name_the_study() -> None:
    bad = {**JSON_TOP3, "sample_size": "many"}
    issues = json_issues(json.dumps([JSON_TOP3 | {"segment": "smb"}, bad]))
    issue = find(issues, 2, "sample_size", "study 2: ")
    assert "not a number" in issue.message


@pytest.mark.parametrize("text", ["", "   ", "3", '"x"', "null", "[]", "[1, 2]", "{}", "[[[[]]]]"])
def test_json_wrong_shapes(text: str) -> None:
    json_issues(text)


def test_json_deep_nesting_is_an_import_error() -> None:
    json_issues("[" * 100_000)


# --------------------------------------------------------------------------- dispatch, examples


def test_parse_research_dispatches() -> None:
    csv_text = "attribute,rank\nprice,1\nreliability,2\ninnovation,3\n"
    (by_csv,) = parse_research(csv_text, filename="study.csv")
    assert by_csv.source == "study.csv"
    (by_json,) = parse_research(json.dumps(JSON_TOP3), filename="upload.json")
    assert by_json.form is ResearchForm.TOP3
    (sniffed,) = parse_research("\ufeff" + json.dumps(JSON_TOP3), filename=None)
    assert sniffed.sample_size == 300
    (unnamed,) = parse_research(csv_text, filename=None, source="given")
    assert unnamed.source == "given"


def test_example_top3() -> None:
    studies = parse_research(
        (EXAMPLES / "research_top3.csv").read_text(encoding="utf-8"),
        filename="research_top3.csv",
        known_attributes=DEFAULTS,
    )
    assert [(s.segment, s.sample_size) for s in studies] == [("smb", 240), ("enterprise", 180)]
    for study in studies:
        assert set(study.attributes) == set(DEFAULTS)
        assert study.sample_size is not None
        assert sum(row.top3_count or 0 for row in study.rows) <= 3 * study.sample_size
    enterprise = {row.attribute: row.top3_count or 0 for row in studies[1].rows}
    top = sorted(enterprise, key=enterprise.__getitem__, reverse=True)[:3]
    assert set(top) == {"reliability", "customer support", "relationship/trust"}
    smb = {row.attribute: row.top3_count or 0 for row in studies[0].rows}
    top = sorted(smb, key=smb.__getitem__, reverse=True)[:3]
    assert set(top) == {"price", "ease of use", "delivery speed"}


@pytest.mark.parametrize(
    ("name", "form"),
    [
        ("research_importance.csv", ResearchForm.IMPORTANCE),
        ("research_ranking.csv", ResearchForm.RANKING),
        ("research.json", ResearchForm.TOP3),
    ],
)
def test_other_examples(name: str, form: ResearchForm) -> None:
    text = (EXAMPLES / name).read_text(encoding="utf-8")
    (study,) = parse_research(text, filename=name, known_attributes=DEFAULTS)
    assert study.form is form
    assert set(study.attributes) == set(DEFAULTS)


# --------------------------------------------------------------------------- properties


def assert_refused(exc: ResearchImportError) -> None:
    assert exc.issues
    for issue in exc.issues:
        assert isinstance(issue, ImportIssue)
        assert issue.line >= 1
        assert issue.field
        assert issue.message


def assert_valid(studies: list[ResearchStudy]) -> None:
    assert isinstance(studies, list)
    for study in studies:
        assert len(study.rows) >= MIN_ATTRIBUTES
        keys = [name.casefold() for name in study.attributes]
        assert len(set(keys)) == len(keys)
        assert all(name.strip() for name in study.attributes)
        if study.form is ResearchForm.RANKING:
            assert sorted(row.rank or 0 for row in study.rows) == list(
                range(1, len(study.rows) + 1)
            )
        elif study.form is ResearchForm.IMPORTANCE:
            for row in study.rows:
                assert row.importance is not None
                assert math.isfinite(row.importance)
                assert row.importance >= 0
        else:
            assert study.sample_size is not None
            assert study.sample_size >= 1
            counts = [row.top3_count for row in study.rows]
            assert all(c is not None and 0 <= c <= study.sample_size for c in counts)
            assert sum(c or 0 for c in counts) <= 3 * study.sample_size


CELLS = st.one_of(
    st.sampled_from(
        [
            "price",
            "Reliability",
            "innovation",
            "ease of use",
            "",
            " ",
            "1",
            "2",
            "3",
            "0",
            "-1",
            "2.5",
            "3.0",
            "nan",
            "inf",
            "10",
            "100",
            "x",
            "smb",
            '"',
            "a,b",
            "\ufeff",
        ]
    ),
    st.text(max_size=6),
)
HEADERS = st.lists(
    st.sampled_from(
        ["attribute", "rank", "importance", "top3_count", "sample_size", "segment", "Rank", "x"]
    ),
    min_size=1,
    max_size=5,
)


@st.composite
def csvish(draw: st.DrawFn) -> str:
    header = draw(HEADERS)
    rows = draw(st.lists(st.lists(CELLS, max_size=len(header) + 1), max_size=8))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    lines = [",".join(header), *(",".join(row) for row in rows)]
    return newline.join(lines) + draw(st.sampled_from(["", newline, newline * 2]))


@settings(max_examples=150, deadline=None)
@given(st.text())
def test_csv_arbitrary_text_never_crashes(text: str) -> None:
    try:
        studies = parse_research_csv(text, source="s", known_attributes=DEFAULTS)
    except ResearchImportError as exc:
        assert_refused(exc)
    else:
        assert_valid(studies)


@settings(max_examples=300, deadline=None)
@given(csvish(), st.sampled_from([None, DEFAULTS]), st.sampled_from([None, "smb"]))
def test_csvish_text_never_crashes(
    text: str, known: tuple[str, ...] | None, segment: str | None
) -> None:
    try:
        studies = parse_research_csv(text, source="s", known_attributes=known, segment=segment)
    except ResearchImportError as exc:
        assert_refused(exc)
    else:
        assert_valid(studies)


JSON_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-5, 500),
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from(["price", "reliability", "innovation", "top3", "rank", "3", "2026-09-30"]),
        st.text(max_size=5),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.sampled_from(
                [
                    "attribute",
                    "rank",
                    "importance",
                    "top3_count",
                    "sample_size",
                    "source",
                    "segment",
                    "form",
                    "conducted_on",
                    "attributes",
                    "x",
                    "",
                ]
            ),
            children,
            max_size=6,
        ),
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_json_arbitrary_documents_never_crash(document: object) -> None:
    try:
        studies = parse_research_json(json.dumps(document), known_attributes=None)
    except ResearchImportError as exc:
        assert_refused(exc)
    else:
        assert_valid(studies)


@settings(max_examples=150, deadline=None)
@given(st.text())
def test_json_arbitrary_text_never_crashes(text: str) -> None:
    try:
        assert_valid(parse_research_json(text))
    except ResearchImportError as exc:
        assert_refused(exc)


NUMBERS = st.one_of(
    st.integers(-2, 400), st.floats(-1, 400), st.sampled_from(["3", " 2 ", "x", None, True])
)


@st.composite
def plausible_study(draw: st.DrawFn) -> dict[str, object]:
    key = draw(st.sampled_from(["rank", "importance", "top3_count"]))
    names = st.sampled_from([*DEFAULTS, "PRICE", "prise", ""])
    items = draw(st.lists(st.fixed_dictionaries({"attribute": names, key: NUMBERS}), max_size=9))
    study: dict[str, object] = {"source": "s", "attributes": items}
    if key == "top3_count" or draw(st.booleans()):
        study["sample_size"] = draw(NUMBERS)
    if draw(st.booleans()):
        study["segment"] = draw(st.sampled_from(["smb", "enterprise", ""]))
    return study


@settings(max_examples=300, deadline=None)
@given(st.one_of(plausible_study(), st.lists(plausible_study(), max_size=3)))
def test_json_plausible_studies_never_crash(document: object) -> None:
    try:
        studies = parse_research_json(json.dumps(document), known_attributes=DEFAULTS)
    except ResearchImportError as exc:
        assert_refused(exc)
    else:
        assert_valid(studies)
        assert all(name in DEFAULTS for study in studies for name in study.attributes)


# ----------------------------------------------------- degenerate studies (issue #14, item 4)


@pytest.mark.parametrize("value", ["0", "4.5"])
def test_importances_all_equal_are_refused_at_import(value: str) -> None:
    # Formerly all-zero importances imported and then crashed `alignment stats`; all-equal
    # ones rank nothing, so every figure against them would be undefined.
    text = "attribute,importance\n" + "".join(f"{name},{value}\n" for name in DEFAULTS[:4])
    issues = csv_issues(text)
    assert any(i.field == "importance" and "every importance is" in i.message for i in issues)


def test_top3_counts_all_zero_are_refused_at_import() -> None:
    text = "attribute,top3_count,sample_size\n" + "".join(f"{n},0,100\n" for n in DEFAULTS[:4])
    issues = csv_issues(text)
    assert any(i.field == "top3_count" and "every top3 count is 0" in i.message for i in issues)


def test_importances_that_differ_still_import() -> None:
    text = "attribute,importance\nprice,0\nreliability,0\nease of use,1\n"
    [study] = parse_research_csv(text, source="test")
    assert study.form is ResearchForm.IMPORTANCE
