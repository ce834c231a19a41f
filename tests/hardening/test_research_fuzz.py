"""Research import fuzzing through the real core on the test database.

Arbitrary CSV and JSON text (documented shapes with wrong, missing, extra or duplicate parts,
and plain noise) goes through `/alignment research import FILE` in the console and through
`core.submit_research` (the Slack and Teams dialog path). Neither ever raises; the study list
changes only when the import says it succeeded, and then every new study is complete: exactly
the rows the file has, one per attribute.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from adapters.console.port import LOCAL_WORKSPACE
from bot.model.defaults import DEFAULT_ATTRIBUTES
from bot.model.domain import UserRef
from bot.model.events import ResearchSubmitted
from bot.model.records import StudyInfo
from bot.model.research import ResearchImportError, ResearchStudy
from bot.reports.research_io import parse_research
from tests.core.conftest import World

FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
ADMIN = "boss"
NAMES = [name for name, _ in DEFAULT_ATTRIBUTES]

SAFE = st.text("abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=12)
CELL = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
NUMBERISH = st.one_of(
    st.integers(-3, 400).map(str),
    st.floats(-10, 1000, allow_nan=False).map(lambda f: f"{f:.2f}"),
    st.sampled_from(["", " ", "NaN", "inf", "1e3", "1,5", "0", "01", "١", "1_000", "3.0", "-0"]),
    CELL,
)
ATTRIBUTE = (
    st.sampled_from(NAMES)
    | st.sampled_from(["Price", " price ", "PRICE", "reliabilty", "delivery  speed", "", "other"])
    | CELL
)


@st.composite
def csv_text(draw: st.DrawFn) -> str:
    valid = draw(st.booleans())  # a well-formed file often enough that imports also succeed
    form = draw(st.sampled_from(["rank", "importance", "top3"] + ([] if valid else ["noise"])))
    columns = {
        "rank": ["attribute", "rank"],
        "importance": ["attribute", "importance"],
        "top3": ["attribute", "top3_count", "sample_size"],
        "noise": draw(st.lists(CELL, min_size=1, max_size=4)),
    }[form]
    segmented = draw(st.booleans())
    if segmented:
        columns = [*columns, "segment"]
    columns = draw(st.permutations(columns))
    if valid:
        count = draw(st.integers(3, len(NAMES)))
        names = draw(st.permutations(NAMES))[:count]
        sample = draw(st.integers(1, 500))
        segment = draw(SAFE) if segmented else ""
        rows = []
        for position, name in enumerate(names, start=1):
            values = {
                "attribute": name,
                "rank": str(position),
                "importance": f"{10 - position * 0.5:.2f}",
                "top3_count": str(draw(st.integers(0, sample))),
                "sample_size": str(sample),
                "segment": segment,
            }
            rows.append([values.get(column, draw(CELL)) for column in columns])
    else:
        rows = [
            [draw(ATTRIBUTE) if column == "attribute" else draw(NUMBERISH) for column in columns]
            for _ in range(draw(st.integers(0, 10)))
        ]
    delimiter = draw(st.sampled_from([",", ",", ";", "\t"])) if not valid else ","
    lines = [delimiter.join(columns), *(delimiter.join(row) for row in rows)]
    if not valid and draw(st.booleans()):
        lines.insert(draw(st.integers(0, len(lines))), draw(CELL))  # a stray line
    return draw(st.sampled_from(["\n", "\r\n"])).join(lines)


JSON_SCALAR = st.none() | st.booleans() | st.integers(-5, 500) | st.floats(allow_nan=False) | CELL


@st.composite
def json_text(draw: st.DrawFn) -> str:
    def study() -> dict[str, Any]:
        form = draw(st.sampled_from(["ranking", "importance", "top3", "other"]))
        key = {"ranking": "rank", "importance": "importance", "top3": "top3_count"}.get(form, "x")
        names = draw(st.permutations(NAMES))[: draw(st.integers(0, len(NAMES)))]
        attributes: list[Any] = [
            {"attribute": name, key: draw(st.integers(1, 9) | JSON_SCALAR)} for name in names
        ]
        raw: dict[str, Any] = {
            "source": draw(SAFE | JSON_SCALAR),
            "form": form,
            "attributes": attributes,
        }
        if draw(st.booleans()):
            raw["conducted_on"] = draw(
                st.dates().map(str) | st.sampled_from(["2026-02-30", "yesterday"]) | JSON_SCALAR
            )
        if draw(st.booleans()):
            raw["segment"] = draw(SAFE | JSON_SCALAR)
        if form == "top3" or draw(st.booleans()):
            raw["sample_size"] = draw(st.integers(0, 500) | JSON_SCALAR)
        for _ in range(draw(st.integers(0, 2))):  # damage: drop, replace or add a field
            target = draw(st.sampled_from(sorted(raw)))
            if draw(st.booleans()):
                raw.pop(target)
            else:
                raw[target] = draw(JSON_SCALAR)
        return raw

    shape = draw(st.sampled_from(["study", "list", "noise"]))
    if shape == "study":
        return json.dumps(study())
    if shape == "list":
        return json.dumps([study() for _ in range(draw(st.integers(0, 3)))])
    return json.dumps(
        draw(
            st.recursive(
                JSON_SCALAR,
                lambda c: st.lists(c, max_size=3) | st.dictionaries(CELL, c, max_size=3),
                max_leaves=8,
            )
        )
    )


RESEARCH_TEXT = csv_text() | json_text() | CELL | st.text(max_size=200)


def _expected(
    text: str, filename: str, segment: str | None, source: str | None
) -> list[ResearchStudy] | None:
    try:
        return parse_research(
            text,
            filename=filename,
            source=source or filename or "research",
            segment=segment,
            known_attributes=NAMES,
        )
    except ResearchImportError:
        return None


async def _studies(world: World) -> list[StudyInfo]:
    workspace = await world.app.core.workspace(LOCAL_WORKSPACE)
    return await world.app.core.store.list_studies(workspace.id)


def _check_complete(new: list[StudyInfo], expected: list[ResearchStudy]) -> None:
    """Every new study is whole: the rows the file had, one per attribute."""
    assert len(new) == len(expected), (new, expected)
    for study in new:
        attributes = [row.attribute.lower() for row in study.rows]
        assert len(attributes) == len(set(attributes)), study
    got = sorted((s.segment, s.form.value, len(s.rows)) for s in new)
    want = sorted((e.segment or "", e.form.value, len(e.rows)) for e in expected)
    assert got == want


async def _import_and_check(
    world: World, run: Any, text: str, filename: str, segment: str | None, source: str | None
) -> None:
    before = await _studies(world)
    listed = await world.run(ADMIN, "/alignment research list")
    ok, message = await run()
    after = await _studies(world)
    event("imported" if ok else "refused")
    if ok:
        expected = _expected(text, filename, segment, source)
        assert expected is not None, message
        old = {s.id for s in before}
        _check_complete([s for s in after if s.id not in old], expected)
        assert {s.id for s in before} <= {s.id for s in after}
    else:
        assert [s.id for s in after] == [s.id for s in before], message
        assert await world.run(ADMIN, "/alignment research list") == listed
        assert message.strip(), "a refusal must say why"
    for study in after:  # no study anywhere is partial
        assert len(study.rows) == len({r.attribute.lower() for r in study.rows}) >= 1


@FUZZ
@given(
    text=RESEARCH_TEXT,
    suffix=st.sampled_from([".csv", ".json", ".txt", ".tsv", ""]),
    segment=st.none() | SAFE,
    source=st.none() | SAFE,
)
async def test_console_research_import_never_crashes_and_never_saves_part(
    world: World, tmp_path: Path, text: str, suffix: str, segment: str | None, source: str | None
) -> None:
    path = tmp_path / f"research-{uuid.uuid4().hex[:8]}{suffix}"
    path.write_text(text, encoding="utf-8")
    line = f"/alignment research import {path}"
    line += f" segment:{segment}" if segment else ""
    line += f" source:{source}" if source else ""

    async def run() -> tuple[bool, str]:
        out = await world.run(ADMIN, line)
        return out.startswith("Imported"), out

    await _import_and_check(world, run, text, path.name, segment, source)


@FUZZ
@given(
    text=RESEARCH_TEXT,
    filename=st.none() | st.sampled_from(["r.csv", "r.json", "r.txt", "noext"]) | CELL,
    segment=st.none() | st.text(max_size=40),
    source=st.none() | st.text(max_size=60),
    admin=st.booleans(),
)
async def test_submitted_research_never_crashes_and_never_saves_part(
    world: World,
    text: str,
    filename: str | None,
    segment: str | None,
    source: str | None,
    admin: bool,
) -> None:
    user = UserRef(LOCAL_WORKSPACE, ADMIN if admin else "employee", "someone")

    async def run() -> tuple[bool, str]:
        result = await world.app.core.submit_research(
            ResearchSubmitted(
                event_id=uuid.uuid4().hex,
                user=user,
                text=text,
                filename=filename,
                segment=segment,
                source=source,
            )
        )
        if not admin:
            assert not result.ok
            assert result.text.startswith("Only admins"), result
        return result.ok, result.text

    await _import_and_check(world, run, text, filename or "", segment, source)


@pytest.mark.parametrize(("segment", "source"), [(None, "s" * 190), ("g" * 100, None)])
async def test_a_long_source_or_segment_is_refused_not_a_crash(
    world: World, segment: str | None, source: str | None
) -> None:
    text = "attribute,rank\n" + "\n".join(f"{n},{i}" for i, n in enumerate(NAMES, start=1))
    before = await _studies(world)
    result = await world.app.core.submit_research(
        ResearchSubmitted(
            event_id=uuid.uuid4().hex,
            user=UserRef(LOCAL_WORKSPACE, ADMIN),
            text=text,
            filename="long.csv",
            segment=segment,
            source=source,
        )
    )
    after = await _studies(world)
    if result.ok:
        assert len(after) == len(before) + 1
    else:
        assert [s.id for s in after] == [s.id for s in before]
