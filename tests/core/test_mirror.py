"""The mirror survey through the console: admins create studies and links, customers answer
through the core's form calls, and a published study becomes research like any import."""

from __future__ import annotations

import asyncio
import csv as csv_module
import shlex
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from adapters.console.port import LOCAL_WORKSPACE
from bot.analytics import Analysis, analyse
from bot.analytics import Settings as AnalysisSettings
from bot.model.defaults import DEFAULT_ATTRIBUTES
from bot.model.mirror import MirrorPage
from bot.model.records import StudyInfo, WorkspaceInfo
from bot.model.research import ResearchForm
from bot.reports.reporting import ReportInput, build_report
from bot.rounds.mirror import token_hash
from bot.rounds.scheduler import Scheduler, SingleProcessLock
from bot.runtime.cli import cli
from storage import models as m
from tests.core.conftest import World

ADMIN, EMPLOYEE = "boss", "emp"


async def _workspace(world: World) -> WorkspaceInfo:
    return await world.app.core.workspace(LOCAL_WORKSPACE)


async def _ids(world: World) -> dict[str, str]:
    """Attribute name -> the id the form sends for it."""
    workspace = await _workspace(world)
    attributes = await world.app.core.store.list_attributes(workspace.id)
    return {a.name: str(a.id) for a in attributes}


async def _links(world: World, mirror_id: int, count: int) -> list[str]:
    out = await world.run(ADMIN, f"/alignment mirror links {mirror_id} count:{count}")
    tokens = [line.rsplit("/m/", 1)[1] for line in out.splitlines() if "/m/" in line]
    assert len(tokens) == count, out
    return tokens


async def _answer(world: World, token: str, *names: str) -> MirrorPage:
    ids = await _ids(world)
    outcome = await world.app.core.mirror.mirror_submit(token, tuple(ids[n] for n in names))
    return outcome.page


async def _stored(world: World, mirror_id: int) -> list[tuple[int, ...]]:
    return await world.app.core.store.mirror_rankings(mirror_id)


async def test_admin_creates_lists_and_gets_one_time_links(world: World) -> None:
    out = await world.run(ADMIN, "/alignment mirror create segment:smb name:'SMB Q4'")
    assert out.startswith("Mirror survey #1 (SMB Q4) is open"), out
    tokens = await _links(world, 1, 3)
    assert len(set(tokens)) == 3
    assert all(len(token) >= 22 for token in tokens)  # 128 random bits, URL-safe

    assert (
        await _answer(world, tokens[0], "price", "reliability", "ease of use") is MirrorPage.THANKS
    )
    refused = await world.run(EMPLOYEE, "/alignment mirror list")
    assert "Only managers or admins can use" in refused, refused
    listing = await world.run(ADMIN, "/alignment mirror list")
    assert "#1 SMB Q4: segment 'smb', top 3, open, 1 response" in listing


async def test_only_hashes_of_tokens_are_stored(world: World) -> None:
    await world.run(ADMIN, "/alignment mirror create segment:smb")
    tokens = await _links(world, 1, 2)
    engine = world.app.store._engine
    async with engine.connect() as connection:
        stored = list(await connection.scalars(select(m.MirrorLinkRow.token_hash)))
    assert sorted(stored) == sorted(token_hash(t) for t in tokens)
    assert not set(stored) & set(tokens)


async def test_a_link_takes_one_answer_then_says_already_answered(world: World) -> None:
    await world.run(ADMIN, "/alignment mirror create segment:smb")
    [token] = await _links(world, 1, 1)
    assert (await world.app.core.mirror.mirror_form(token)).page is MirrorPage.FORM
    assert await _answer(world, token, "price", "reliability", "ease of use") is MirrorPage.THANKS
    again = await _answer(world, token, "innovation", "price", "reliability")
    assert again is MirrorPage.ALREADY_ANSWERED
    assert (await world.app.core.mirror.mirror_form(token)).page is MirrorPage.ALREADY_ANSWERED
    ids = await _ids(world)
    assert await _stored(world, 1) == [
        (int(ids["price"]), int(ids["reliability"]), int(ids["ease of use"]))
    ]


async def test_simultaneous_answers_through_one_link_store_one(world: World) -> None:
    """A double click or a forwarded link: eight submissions of one link at the same moment
    (on PostgreSQL each spends the link and inserts in one statement) store exactly one."""
    await world.run(ADMIN, "/alignment mirror create segment:smb")
    [token] = await _links(world, 1, 1)
    pages = await asyncio.gather(
        *(_answer(world, token, "price", "reliability", "ease of use") for _ in range(8))
    )
    assert sorted(p.name for p in pages) == ["ALREADY_ANSWERED"] * 7 + ["THANKS"]
    assert len(await _stored(world, 1)) == 1


async def test_an_answer_after_its_form_is_one_write_that_still_checks_the_link(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the form was served, a valid answer is one write and no read; that write alone
    must still refuse a link already spent and a study closed since the form was shown."""
    await world.run(ADMIN, "/alignment mirror create segment:smb")
    first, second, third = await _links(world, 1, 3)
    mirror, store = world.app.core.mirror, world.app.core.store
    reads = 0
    original = store.mirror_link

    async def counted(hashed: str) -> Any:
        nonlocal reads
        reads += 1
        return await original(hashed)

    monkeypatch.setattr(store, "mirror_link", counted)
    for token in (first, second, third):
        assert (await mirror.mirror_form(token)).page is MirrorPage.FORM
    assert reads == 3
    assert await _answer(world, first, "price", "reliability", "ease of use") is MirrorPage.THANKS
    assert reads == 3  # the answer read nothing
    again = await _answer(world, first, "innovation", "price", "reliability")
    assert again is MirrorPage.ALREADY_ANSWERED
    # A ranking with a problem takes the long way, whose page depends on the link's state.
    assert (await mirror.mirror_submit(second, ("1", "1", "2"))).problem is not None
    await world.run(ADMIN, "/alignment mirror close 1")
    late = await _answer(world, third, "price", "reliability", "ease of use")
    assert late is MirrorPage.CLOSED
    assert len(await _stored(world, 1)) == 1


@pytest.mark.parametrize(
    ("ranking", "problem"),
    [
        (("1", "2", "999999"), "not on the list"),
        (("1", "1", "2"), "only once"),
        (("1", "2"), "exactly 3"),
        (("1", "2", ""), "exactly 3"),
        (("1", "2", "x'><script>"), "not on the list"),
    ],
)
async def test_a_bad_ranking_is_refused_and_nothing_stored(
    world: World, ranking: tuple[str, ...], problem: str
) -> None:
    await world.run(ADMIN, "/alignment mirror create segment:smb")
    [token] = await _links(world, 1, 1)
    ids = list((await _ids(world)).values())
    # Ids 1 and 2 stand for the first two attributes of this workspace.
    sent = tuple({"1": ids[0], "2": ids[1]}.get(value, value) for value in ranking)
    outcome = await world.app.core.mirror.mirror_submit(token, sent)
    assert outcome.page is MirrorPage.FORM
    assert outcome.problem is not None
    assert problem in outcome.problem
    assert await _stored(world, 1) == []
    # The link was not spent by the refused form.
    assert await _answer(world, token, "price", "reliability", "ease of use") is MirrorPage.THANKS


async def test_unknown_and_closed_links_store_nothing(world: World) -> None:
    await world.run(ADMIN, "/alignment mirror create segment:smb closes:2026-03-03")
    [early, late] = await _links(world, 1, 2)
    unknown = await _answer(world, "not-a-token", "price", "reliability", "ease of use")
    assert unknown is MirrorPage.UNKNOWN_LINK
    assert await _answer(world, early, "price", "reliability", "ease of use") is MirrorPage.THANKS
    world.clock.advance(timedelta(days=2))  # past the end of 2026-03-03 (UTC workspace)
    assert await _answer(world, late, "price", "reliability", "ease of use") is MirrorPage.CLOSED
    assert len(await _stored(world, 1)) == 1
    assert "closed" in await world.run(ADMIN, "/alignment mirror links 1 count:1")


async def test_closing_a_small_study_publishes_nothing(world: World) -> None:
    await world.run(ADMIN, "/alignment mirror create segment:smb")
    tokens = await _links(world, 1, 4)
    for token in tokens:
        await _answer(world, token, "price", "reliability", "ease of use")
    refused = await world.run(ADMIN, "/alignment mirror publish 1")
    assert "too few responses" in refused
    out = await world.run(ADMIN, "/alignment mirror close 1")
    assert "too few responses to become research" in out
    workspace = await _workspace(world)
    assert await world.app.core.store.list_studies(workspace.id) == []


async def test_the_closing_date_closes_and_publishes_the_study_once(world: World) -> None:
    """At its closing date the scheduler's leader closes a study and publishes it when it has
    enough responses; a small one closes unpublished; ticking again, or an admin's own
    close, adds no second study."""
    await world.run(ADMIN, "/alignment mirror create segment:smb closes:2026-03-03")
    await world.run(ADMIN, "/alignment mirror create segment:enterprise closes:2026-03-03")
    await world.run(ADMIN, "/alignment mirror create segment:retail closes:2026-03-10")
    for mirror_id, count in ((1, 6), (2, 2), (3, 6)):
        for token in await _links(world, mirror_id, count):
            await _answer(world, token, "price", "reliability", "ease of use")
    scheduler = Scheduler(core=world.app.core, lock=SingleProcessLock(), clock=world.clock)
    assert (await scheduler.run_due(world.clock())).mirrors_closed == 0
    world.clock.advance(timedelta(days=2))  # past the end of 2026-03-03 (UTC workspace)
    assert (await scheduler.run_due(world.clock())).mirrors_closed == 2
    assert (await scheduler.run_due(world.clock())).mirrors_closed == 0
    workspace = await _workspace(world)
    store = world.app.core.store
    studies = await store.list_studies(workspace.id)
    assert [(s.segment, s.sample_size) for s in studies] == [("smb", 6)]
    smb, enterprise, retail = [await store.get_mirror(workspace.id, i) for i in (1, 2, 3)]
    assert smb.study_id == studies[0].id
    assert (enterprise.state.value, enterprise.study_id) == ("closed", None)
    assert (retail.state.value, retail.study_id) == ("open", None)
    # An admin closing the last one at the moment it is due: still one study for it.
    world.clock.advance(timedelta(days=7))
    await world.run(ADMIN, "/alignment mirror close 3")
    assert (await scheduler.run_due(world.clock())).mirrors_closed == 0
    assert len(await store.list_studies(workspace.id)) == 2


async def test_closing_publishes_a_top3_count_study(world: World) -> None:
    await world.run(ADMIN, "/alignment mirror create segment:smb")
    tokens = await _links(world, 1, 6)
    picks = [
        ("price", "reliability", "ease of use"),
        ("price", "reliability", "innovation"),
        ("reliability", "price", "customer support"),
        ("price", "ease of use", "reliability"),
        ("customer support", "price", "reliability"),
    ]
    for token, ranking in zip(tokens, picks, strict=False):
        assert await _answer(world, token, *ranking) is MirrorPage.THANKS
    out = await world.run(ADMIN, "/alignment mirror close 1")
    assert "now research" in out, out
    workspace = await _workspace(world)
    [study] = await world.app.core.store.list_studies(workspace.id)
    assert study.form is ResearchForm.TOP3
    assert study.segment == "smb"
    assert study.sample_size == 5
    counts = {row.attribute: row.top3_count for row in study.rows}
    assert counts == {
        "price": 5,
        "reliability": 5,
        "ease of use": 2,
        "innovation": 1,
        "customer support": 2,
        "product quality": 0,
        "delivery speed": 0,
        "relationship/trust": 0,
    }
    # The sixth link can no longer be used, and the study cannot be published twice.
    assert await _answer(world, tokens[5], *picks[0]) is MirrorPage.CLOSED
    assert "already published" in await world.run(ADMIN, "/alignment mirror publish 1")
    assert "published as research study" in await world.run(ADMIN, "/alignment mirror list")


async def test_mirror_commands_are_for_admins(world: World) -> None:
    await world.run(ADMIN, "/alignment mirror create segment:smb")
    for line in ("mirror create segment:x", "mirror links 1 count:2", "mirror close 1"):
        out = await world.run(EMPLOYEE, f"/alignment {line}")
        assert "Only admins can use" in out, out
    listing = await world.run(ADMIN, "/alignment mirror list")
    assert listing.count("•") == 1
    assert "open" in listing


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("mirror create", "segment"),
        ("mirror create segment:smb k:0", "k must be between 1 and 8"),
        ("mirror create segment:smb k:9", "k must be between 1 and 8"),
        ("mirror create segment:smb closes:tomorrow", "not a date"),
        ("mirror create segment:smb closes:2020-01-01", "in the future"),
        ("mirror links 1 count:0", "between 1 and"),
        ("mirror links 1 count:201", "at most 200 links in chat"),
        ("mirror links 9 count:1", "no mirror survey 9"),
    ],
)
async def test_bad_mirror_commands_say_why(world: World, line: str, problem: str) -> None:
    await world.run(ADMIN, "/alignment mirror create segment:smb")
    out = await world.run(ADMIN, f"/alignment {line}")
    assert problem in out, out
    assert (await world.run(ADMIN, "/alignment mirror list")).count("•") == 1


# -- a published study is research like any other -------------------------------------------

CUSTOMER_PICKS = [
    ("reliability", "customer support", "price"),
    ("reliability", "price", "ease of use"),
    ("customer support", "reliability", "relationship/trust"),
    ("reliability", "customer support", "delivery speed"),
    ("price", "reliability", "customer support"),
    ("reliability", "relationship/trust", "customer support"),
]


STAFF_PICKS = [(1, 2, 3), (1, 2, 4), (1, 3, 5), (2, 1, 3), (1, 2, 6), (1, 7, 2)]


async def _staff_round(world: World) -> None:
    """Six staff answer a closed round (poll numbers: 1 price … 8 relationship/trust)."""
    picks = STAFF_PICKS
    people = [f"p{i}" for i in range(len(picks))]
    for person in people:
        await world.session(person).join()
    assert "is open" in await world.run(ADMIN, "/alignment poll now window:2h")
    await world.app.core.idle()
    for person, pick in zip(people, picks, strict=True):
        out = await world.session(person).handle_line(f"answer 1 {' '.join(map(str, pick))}")
        assert "recorded" in out, out
    assert "is closed" in await world.run(ADMIN, "/alignment poll close")
    await world.app.core.idle()


async def _mirror_study(world: World) -> int:
    await world.run(ADMIN, "/alignment mirror create segment:smb")
    tokens = await _links(world, 1, len(CUSTOMER_PICKS))
    for token, ranking in zip(tokens, CUSTOMER_PICKS, strict=True):
        assert await _answer(world, token, *ranking) is MirrorPage.THANKS
    assert "now research" in await world.run(ADMIN, "/alignment mirror close 1")
    workspace = await _workspace(world)
    [study] = await world.app.core.store.list_studies(workspace.id)
    return study.id


async def test_a_published_study_feeds_the_report_like_an_imported_one(
    world: World, tmp_path: Path
) -> None:
    mirrored_id = await _mirror_study(world)
    await _staff_round(world)  # closes, and freezes its figures, against the mirror study
    workspace = await _workspace(world)
    store = world.app.core.store
    mirrored = await store.get_study(workspace.id, mirrored_id)

    # The same counts, typed into a research file and imported as an ordinary study.
    csv = tmp_path / "same_counts.csv"
    lines = [f"{row.attribute},{row.top3_count},{mirrored.sample_size}" for row in mirrored.rows]
    csv.write_text("attribute,top3_count,sample_size\n" + "\n".join(lines) + "\n")
    source = shlex.quote(f"source:{mirrored.source}")
    out = await world.run(ADMIN, f"/alignment research import {csv} segment:smb {source}")
    assert out.startswith("Imported 1 study"), out
    imported = next(s for s in await store.list_studies(workspace.id) if s.id != mirrored_id)

    # A closed round's figures are frozen with the research it closed with, so the two
    # studies are compared on the same staff answers directly.
    names = [name for name, _ in DEFAULT_ATTRIBUTES]
    rows = [(f"p{i}", (), tuple(names[n - 1] for n in pick)) for i, pick in enumerate(STAFF_PICKS)]
    settings = AnalysisSettings(min_group_size=5)

    def analysed(study: StudyInfo) -> Analysis:
        return analyse(names, rows, {"smb": study.to_study()}, k=3, settings=settings)

    from_mirror, from_import = analysed(mirrored), analysed(imported)
    assert from_mirror.to_json_dict() == from_import.to_json_dict()
    assert from_mirror.headline is not None
    assert from_mirror.headline.alignment_score is not None
    reports = [
        build_report(_input(analysis), with_chart=False) for analysis in (from_mirror, from_import)
    ]
    assert reports[0] == reports[1]
    assert reports[0].figures is not None

    # And the published study is what `report` compares with (it is the latest for smb).
    report = await world.run(ADMIN, "/alignment report segment:smb")
    assert "mirror survey #1" in report, report


def _input(analysis: Analysis) -> ReportInput:
    return ReportInput(
        title="t",
        round_label="r",
        generated_at=datetime(2026, 3, 2, tzinfo=UTC),
        invited=7,
        analysis=analysis,
        research_label="same figures",
        segment="smb",
    )


def test_links_csv_from_the_command_line(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("ALIGNMENT_PUBLIC_URL", "https://survey.example.com")
    runner = CliRunner()
    created = runner.invoke(cli, ["mirror", "create", "--segment", "smb", "--k", "3"])
    assert created.exit_code == 0, created.output
    out = tmp_path / "links.csv"
    result = runner.invoke(cli, ["mirror", "links", "1", "--count", "250", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv_module.reader(out.open()))
    assert rows[0] == ["link"]
    links = [row[0] for row in rows[1:]]
    assert len(set(links)) == 250
    assert all(link.startswith("https://survey.example.com/m/") for link in links)
    assert out.stat().st_mode & 0o077 == 0  # every line is a working invitation
    missing = runner.invoke(cli, ["mirror", "links", "7", "--count", "1", "--out", str(out)])
    assert missing.exit_code == 1
    assert "no mirror survey 7" in missing.output
