"""Renderers are pure: snapshots for the fixed samples, properties for Block Kit limits."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.slack import render
from bot.model.views import (
    Figures,
    GroupLine,
    PollOption,
    PollState,
    PollView,
    ReportView,
    SurpriseKind,
    SurpriseLine,
    TrendLine,
)
from bot.reports.render_text import ordinal
from tests.slack.fake_core import FakeCore, sample_poll

SNAPSHOTS = Path(__file__).parent / "snapshots"
WHEN = datetime(2030, 5, 18, 9, 0, tzinfo=UTC)


def figures(score: int = 61) -> Figures:
    return Figures(
        respondents=8,
        alignment_score=score,
        kendall_w=0.41,
        kendall_w_p=0.01,
        top_hits=2,
        k=3,
        spearman=0.52,
        staff_top=("Low price", "Speed", "Range"),
        customer_top=("Quality", "Low price", "Speed"),
    )


def full_report() -> ReportView:
    return ReportView(
        title="Customer alignment: May 2030",
        round_label="Round 7 (May 2030)",
        generated_at=WHEN,
        invited=12,
        figures=figures(),
        agreement_label="moderate agreement among staff",
        research_label="Customer survey Q1 2030 (n=412)",
        surprises=(
            SurpriseLine("Quality", SurpriseKind.BLIND_SPOT, 0.12, 0.64, 0.003),
            SurpriseLine("Range", SurpriseKind.OVERRATED, 0.58, 0.09, 0.02),
        ),
        teams=(GroupLine("Sales", figures(70)), GroupLine("Support <EU>", None)),
        segments=(GroupLine("SMB", figures(55)),),
        trend=(TrendLine("Alignment score", 54, 61),),
        notes=("Teams with fewer than 5 answers are not shown.",),
        chart_png=b"png",
    )


def check_snapshot(name: str, value: Any) -> None:
    path = SNAPSHOTS / f"{name}.json"
    text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS") or not path.exists():
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(text)
    assert text == path.read_text(), f"{name} changed; rerun with UPDATE_SNAPSHOTS=1 if intended"


def test_poll_message_snapshots() -> None:
    check_snapshot("poll_open", render.poll_message(sample_poll()))
    answered = sample_poll(PollState.ANSWERED, ("quality", "price", "speed"))
    check_snapshot("poll_answered", render.poll_message(answered, "Thanks, recorded."))
    check_snapshot("poll_closed", render.poll_message(sample_poll(PollState.CLOSED)))


def test_poll_modal_snapshot() -> None:
    poll = sample_poll(PollState.ANSWERED, ("quality", "price", "speed"))
    check_snapshot("poll_modal", render.poll_modal(poll, '{"round_id":7}'))


def test_report_snapshot_and_content() -> None:
    text, blocks = render.report_blocks(full_report())
    check_snapshot("report", {"text": text, "blocks": blocks})
    dumped = json.dumps(blocks, ensure_ascii=False)
    for expected in (
        "61/100",
        "moderate agreement",
        "Top-3 match: 2 of 3",
        "8 of 12 answered",
        "Blind spot",
        "Overrated",
        "too few answers",
        "Support &lt;EU&gt;",
        "54 → 61 (+7)",
        "Customers' top 3",
        "Staff top 3",
    ):
        assert expected in dumped, expected


def test_report_without_figures() -> None:
    report = ReportView(title="Report", round_label="R", generated_at=WHEN, invited=3, figures=None)
    text, blocks = render.report_blocks(report)
    assert "too few answers" in text
    assert "Too few answers" in json.dumps(blocks)


async def test_home_snapshot() -> None:
    home = await FakeCore().home_for(None)  # type: ignore[arg-type]
    view = render.home_view(home)
    check_snapshot("home", view)
    assert view["type"] == "home"
    assert "Team overview" in json.dumps(view)


def test_research_modal_snapshot() -> None:
    check_snapshot("research_modal", render.research_modal())


def test_slack_date_and_ordinals() -> None:
    assert render.slack_date(WHEN) == (
        "<!date^1905325200^{date_short_pretty} at {time}|2030-05-18 09:00 UTC>"
    )
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22)] == [
        "1st",
        "2nd",
        "3rd",
        "4th",
        "11th",
        "12th",
        "13th",
        "21st",
        "22nd",
    ]


labels = st.text(min_size=1, max_size=200)


@settings(max_examples=40, deadline=None)
@given(
    labels=st.lists(labels, min_size=2, max_size=12, unique=True),
    question=st.text(min_size=1, max_size=4000),
    k=st.integers(min_value=1, max_value=5),
)
def test_poll_modal_respects_block_kit_limits(labels: list[str], question: str, k: int) -> None:
    options = tuple(PollOption(f"v{i}", label) for i, label in enumerate(labels))
    k = min(k, len(options))
    poll = PollView(round_id=1, question=question, options=options, k=k, deadline=WHEN)
    modal = render.poll_modal(poll, "{}")
    assert len(modal["title"]["text"]) <= render.MODAL_TITLE_MAX
    inputs = [b for b in modal["blocks"] if b["type"] == "input"]
    assert len(inputs) == k
    for block in inputs:
        assert block["element"]["type"] == "static_select"
        assert all(
            len(o["text"]["text"]) <= render.OPTION_TEXT_MAX for o in block["element"]["options"]
        )
    assert all(
        len(b["text"]["text"]) <= render.SECTION_TEXT_MAX
        for b in modal["blocks"]
        if b["type"] == "section"
    )


@pytest.mark.parametrize(("raw", "escaped"), [("a<b>&c", "a&lt;b&gt;&amp;c"), ("plain", "plain")])
def test_escape(raw: str, escaped: str) -> None:
    assert render.escape(raw) == escaped
