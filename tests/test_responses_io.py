"""Staff responses CSV: parsing, whole-file validation and the writer."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.model.research import ImportIssue
from bot.reports.responses_io import (
    Response,
    ResponsesImportError,
    parse_responses_csv,
    responses_to_csv,
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
HEADER = "respondent,team,rank_1,rank_2,rank_3\n"


def issues_of(text: str, known: tuple[str, ...] | None = None) -> list[ImportIssue]:
    with pytest.raises(ResponsesImportError) as info:
        parse_responses_csv(text, known_attributes=known)
    assert info.value.issues
    assert isinstance(info.value, ValueError)
    return info.value.issues


def find(issues: list[ImportIssue], line: int, field: str, fragment: str) -> ImportIssue:
    for issue in issues:
        if issue.line == line and issue.field == field and fragment in issue.message:
            return issue
    raise AssertionError(f"no issue at line {line}, field {field!r} with {fragment!r}: {issues}")


def test_parse_basic() -> None:
    text = HEADER + "r1,sales,price,reliability,innovation\nr2,,ease of use,price,\n"
    assert parse_responses_csv(text) == [
        Response("r1", "sales", ("price", "reliability", "innovation")),
        Response("r2", None, ("ease of use", "price")),
    ]


def test_bom_crlf_case_trim_and_column_order() -> None:
    text = "\ufeffRANK_2, Team ,Respondent,Rank_1\r\n innovation , ops , a1 , Price \r\n\r\n"
    assert parse_responses_csv(text) == [Response("a1", "ops", ("Price", "innovation"))]


def test_team_column_is_optional() -> None:
    text = "respondent,rank_1\nr1,price\n"
    assert parse_responses_csv(text) == [Response("r1", None, ("price",))]


def test_known_attributes_normalise_case() -> None:
    text = HEADER + "r1,sales,PRICE,Ease  of use,Relationship/Trust\n"
    (response,) = parse_responses_csv(text, known_attributes=DEFAULTS)
    assert response.ranking == ("price", "ease of use", "relationship/trust")


def test_unknown_attribute_with_suggestion() -> None:
    issues = issues_of(HEADER + "r1,sales,price,reliablity,innovation\n", DEFAULTS)
    find(issues, 2, "rank_2", "did you mean 'reliability'")


def test_gap_is_an_error() -> None:
    issues = issues_of(HEADER + "r1,sales,price,,innovation\n")
    find(issues, 2, "rank_2", "empty rank_2 before a filled rank_3")


def test_duplicate_within_row_is_case_insensitive() -> None:
    issues = issues_of(HEADER + "r1,sales,price,reliability,Price\n")
    find(issues, 2, "rank_3", "'Price' is already given as rank_1")


def test_duplicate_respondent() -> None:
    issues = issues_of(HEADER + "r1,a,price\nr2,a,price\nr1,b,innovation\n")
    find(issues, 4, "respondent", "duplicate respondent 'r1' (first on line 2)")


def test_empty_respondent() -> None:
    find(issues_of(HEADER + " ,sales,price\n"), 2, "respondent", "missing value")


def test_no_answer_at_all() -> None:
    find(issues_of(HEADER + "r1,sales,,,\n"), 2, "rank_1", "named no attribute")


def test_extra_cells() -> None:
    find(issues_of(HEADER + "r1,a,price,b,c,d\n"), 2, "row", "6 cells")


@pytest.mark.parametrize(
    ("header", "field", "fragment"),
    [
        ("respondent,team,rank_1,rank_3\n", "header", "missing rank_2"),
        ("respondent,team,rank_2\n", "header", "missing rank_1"),
        ("respondent,team\n", "rank_1", "missing rank columns"),
        ("team,rank_1\n", "respondent", "missing required column"),
        ("respondent,rank_1,rank_1\n", "rank_1", "appears twice"),
        ("respondent,rank_1,colour\n", "colour", "unknown column"),
    ],
)
def test_header_issues(header: str, field: str, fragment: str) -> None:
    find(issues_of(header + "r1,price,x\n"), 1, field, fragment)


def test_empty_file_and_header_only() -> None:
    find(issues_of(""), 1, "file", "empty file")
    find(issues_of(HEADER), 2, "file", "no responses")


def test_one_bad_row_refuses_all_and_collects_every_issue() -> None:
    text = HEADER + "r1,a,price,reliability\nr2,a,price,price\n,b,x\nr4,b,a,,c\n"
    issues = issues_of(text)
    assert {issue.line for issue in issues} == {3, 4, 5}
    assert "responses import refused" in str(ResponsesImportError(issues))


def test_writer_round_trip_and_padding() -> None:
    responses = [
        Response("r1", "sales", ("price", "reliability", "innovation")),
        Response("r2", None, ("ease of use",)),
        Response("r,3", 'a "team"', ("relationship/trust", "price")),
    ]
    text = responses_to_csv(responses, 3)
    assert text.splitlines()[0] == "respondent,team,rank_1,rank_2,rank_3"
    assert text.splitlines()[2] == "r2,,ease of use,,"
    assert parse_responses_csv(text) == responses


def test_writer_rejects_bad_k() -> None:
    with pytest.raises(ValueError, match="more than k=1"):
        responses_to_csv([Response("r1", None, ("a", "b"))], 1)
    with pytest.raises(ValueError, match="at least 1"):
        responses_to_csv([], 0)


def test_example_responses() -> None:
    text = (EXAMPLES / "responses.csv").read_text(encoding="utf-8")
    responses = parse_responses_csv(text, known_attributes=DEFAULTS)
    assert len(responses) == 24
    assert {response.team for response in responses} == {"sales", "support", "product"}
    assert all(len(response.ranking) == 3 for response in responses)


# --------------------------------------------------------------------------- properties


def assert_refused(exc: ResponsesImportError) -> None:
    assert exc.issues
    for issue in exc.issues:
        assert isinstance(issue, ImportIssue)
        assert issue.line >= 1
        assert issue.field
        assert issue.message


def assert_valid(responses: list[Response]) -> None:
    ids = [response.respondent.casefold() for response in responses]
    assert len(set(ids)) == len(ids)
    for response in responses:
        assert response.respondent
        assert response.respondent == response.respondent.strip()
        assert response.team is None or response.team.strip()
        assert response.ranking
        keys = [name.casefold() for name in response.ranking]
        assert len(set(keys)) == len(keys)
        assert all(name.strip() for name in response.ranking)


CELLS = st.one_of(
    st.sampled_from(["r1", "r2", "sales", "price", "PRICE", "innovation", "", " ", '"', "a,b"]),
    st.text(max_size=6),
)


@st.composite
def csvish(draw: st.DrawFn) -> str:
    header = draw(
        st.lists(
            st.sampled_from(["respondent", "team", "rank_1", "rank_2", "rank_3", "rank_5", "x"]),
            min_size=1,
            max_size=5,
        )
    )
    rows = draw(st.lists(st.lists(CELLS, max_size=len(header) + 1), max_size=8))
    return "\n".join([",".join(header), *(",".join(row) for row in rows)])


@settings(max_examples=150, deadline=None)
@given(st.text())
def test_arbitrary_text_never_crashes(text: str) -> None:
    try:
        assert_valid(parse_responses_csv(text))
    except ResponsesImportError as exc:
        assert_refused(exc)


@settings(max_examples=300, deadline=None)
@given(csvish(), st.sampled_from([None, DEFAULTS]))
def test_csvish_text_never_crashes(text: str, known: tuple[str, ...] | None) -> None:
    try:
        assert_valid(parse_responses_csv(text, known_attributes=known))
    except ResponsesImportError as exc:
        assert_refused(exc)


NAMES = st.text(
    st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp", "Zs")), min_size=1, max_size=8
)


@st.composite
def response_sets(draw: st.DrawFn) -> tuple[list[Response], int]:
    k = draw(st.integers(1, 4))
    ids = draw(st.lists(NAMES, min_size=1, max_size=6, unique_by=str.casefold))
    responses = []
    for respondent in ids:
        ranking = draw(st.lists(NAMES, min_size=1, max_size=k, unique_by=str.casefold))
        team = draw(st.one_of(st.none(), NAMES))
        responses.append(Response(respondent, team, tuple(ranking)))
    return responses, k


@settings(max_examples=150, deadline=None)
@given(response_sets())
def test_writer_round_trips(case: tuple[list[Response], int]) -> None:
    responses, k = case
    assert parse_responses_csv(responses_to_csv(responses, k)) == responses
