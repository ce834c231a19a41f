"""Pure renderers against the Adaptive Card 1.5 schema, and the app package against the Teams
manifest 1.29 schema (both read from ALIGNMENT_SCHEMAS_DIR, never downloaded; see
tests/official_schemas.py)."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest

from adapters.teams import build_teams_package, cards
from adapters.teams.icons import png_size
from bot.model.views import (
    AnswerSummary,
    Figures,
    GroupLine,
    HomeView,
    PollState,
    ReportView,
    SurpriseKind,
    SurpriseLine,
    TrendLine,
)
from tests.official_schemas import official_schema
from tests.teams.conftest import ROOT, card_validator, sample_poll

FIGURES = Figures(
    respondents=9,
    alignment_score=48,
    kendall_w=None,
    kendall_w_p=None,
    top_hits=1,
    k=3,
    spearman=None,
    staff_top=("Low price", "Fast delivery", "Wide range"),
    customer_top=("Build quality", "Friendly support", "Low price"),
)


def full_report(chart: bytes | None) -> ReportView:
    return ReportView(
        title="Customer alignment",
        round_label="Q2 2030",
        generated_at=datetime(2030, 7, 1, tzinfo=UTC),
        invited=12,
        figures=FIGURES,
        surprises=(
            SurpriseLine("Build quality", SurpriseKind.BLIND_SPOT, 0.1, 0.6, 0.01),
            SurpriseLine("Wide range", SurpriseKind.OVERRATED, 0.7, 0.1, 0.02),
        ),
        teams=(GroupLine("Sales", FIGURES), GroupLine("Legal", None)),
        segments=(GroupLine("SMB", FIGURES),),
        trend=(TrendLine("Alignment score", 41, 48),),
        notes=("Two answers arrived after the deadline and were not counted.",),
        chart_png=chart,
    )


RENDERED = {
    "open poll": cards.poll_card(sample_poll()),
    "open poll with error": cards.poll_card(sample_poll(), error="Pick 3", picks=("price", "", "")),
    "answered poll": cards.poll_card(sample_poll(PollState.ANSWERED, ("price", "speed", "range"))),
    "closed poll": cards.poll_card(sample_poll(PollState.CLOSED)),
    "report": cards.report_card(
        full_report(None), chart_url=cards.chart_data_uri(b"\x89PNG\r\n\x1a\n" + b"0" * 100)
    ),
    "empty report": cards.report_card(
        ReportView("Alignment", "Q2", datetime(2030, 7, 1, tzinfo=UTC), invited=30, figures=None)
    ),
    "home": cards.home_card(
        HomeView(
            user_name="Alice",
            my_answers=(
                AnswerSummary("Q1", datetime(2030, 3, 1, tzinfo=UTC), ("A", "B"), ("B", "C"), 1),
            ),
            is_manager=True,
            response_rate=0.5,
            latest=FIGURES,
        )
    ),
    "research": cards.research_import_card(),
    "research error": cards.research_import_card(error="Bad CSV", values={"research_csv": "x"}),
    "research done": cards.research_import_card(result="Imported 3 rows"),
}


@pytest.mark.parametrize("name", sorted(RENDERED))
def test_cards_validate_against_adaptive_card_1_5(name: str) -> None:
    card_validator().validate(RENDERED[name])
    assert RENDERED[name]["version"] == "1.5"


def test_poll_has_one_compact_choice_set_per_rank() -> None:
    card = RENDERED["open poll"]
    choice_sets = [e for e in card["body"] if e["type"] == "Input.ChoiceSet"]
    assert [c["label"] for c in choice_sets] == ["1st choice", "2nd choice", "3rd choice"]
    assert {c["style"] for c in choice_sets} == {"compact"}
    assert card["actions"] == [
        {
            "type": "Action.Submit",
            "title": "Submit",
            "data": {"action": "answer", "round_id": 7},
            "style": "positive",
        }
    ]


def test_report_shows_suppressed_teams_and_the_chart() -> None:
    text = json.dumps(RENDERED["report"])
    assert "Legal**: too few answers" in text
    assert "data:image/png;base64," in text
    assert "48 / 100" in text
    assert "1 of 3" in text
    assert "Build quality" in text
    assert "41 \\u2192 48 (+7)" in text


def manifest_validator() -> jsonschema.Validator:
    return jsonschema.Draft4Validator(official_schema("teams-manifest-1.29.schema.json"))


def test_template_manifest_validates() -> None:
    manifest_validator().validate(json.loads((ROOT / "manifest/teams/manifest.json").read_text()))


def test_package_is_filled_in_and_validates(tmp_path: Path) -> None:
    app_id = "0b7e4b2c-1d2e-4f60-8a9b-0c1d2e3f4a5b"
    out = build_teams_package(tmp_path / "alignment.zip", app_id, "https://bot.example.org/")

    with zipfile.ZipFile(out) as archive:
        assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(archive.read("manifest.json"))
        color = archive.read("color.png")
        outline = archive.read("outline.png")
    manifest_validator().validate(manifest)
    assert manifest["id"] == app_id
    assert manifest["bots"][0]["botId"] == app_id
    assert manifest["validDomains"] == ["bot.example.org"]
    assert set(manifest["bots"][0]["scopes"]) == {"personal", "team", "groupChat"}
    titles = {c["title"] for cl in manifest["bots"][0]["commandLists"] for c in cl["commands"]}
    assert {"help", "report", "poll now", "me", "research import", "attributes list"} <= titles
    assert png_size(color) == (192, 192)
    assert png_size(outline) == (32, 32)


def test_package_refuses_an_app_id_that_is_not_a_guid(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="badly formed"):
        build_teams_package(tmp_path / "x.zip", "my-bot", "example.org")


def test_committed_icons_match_the_spec() -> None:
    color = (ROOT / "manifest/teams/color.png").read_bytes()
    outline = (ROOT / "manifest/teams/outline.png").read_bytes()
    assert png_size(color) == (192, 192)
    assert png_size(outline) == (32, 32)
    # Outline: RGBA, only white or fully transparent pixels.
    import zlib

    raw = zlib.decompress(outline[outline.index(b"IDAT") + 4 : outline.index(b"IEND") - 8])
    rows = [raw[r * (1 + 32 * 4) + 1 : (r + 1) * (1 + 32 * 4)] for r in range(32)]
    pixels = {bytes(row[i : i + 4]) for row in rows for i in range(0, len(row), 4)}
    assert pixels <= {b"\xff\xff\xff\xff", b"\x00\x00\x00\x00"}


def test_settings_accept_both_spellings(monkeypatch: pytest.MonkeyPatch) -> None:
    from adapters.teams import TeamsSettings

    monkeypatch.setenv("MICROSOFT_APP_ID", "abc")
    monkeypatch.setenv("MicrosoftAppType", "SingleTenant")
    monkeypatch.setenv("MICROSOFT_APP_TENANT_ID", "tid")
    settings = TeamsSettings(_env_file=None)
    assert (settings.app_id, settings.app_type, settings.app_tenant_id) == (
        "abc",
        "SingleTenant",
        "tid",
    )
    assert settings.configured
    assert settings.authenticated

    monkeypatch.setenv("TEAMS_ENABLED", "false")
    assert not TeamsSettings(_env_file=None).configured
    monkeypatch.delenv("MICROSOFT_APP_ID")
    monkeypatch.setenv("TEAMS_ENABLED", "true")
    local = TeamsSettings(_env_file=None)
    assert local.configured
    assert not local.authenticated
