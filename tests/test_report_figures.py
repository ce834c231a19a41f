"""What a report says about the figures of issue #14: no modelled customer shares shown as
measured, the smallest detectable gap in every renderer, the score's evidence in text."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import numpy as np

from adapters.slack.render import report_blocks
from adapters.teams.cards import report_card
from bot.analytics import Answer, analyse
from bot.model.research import ResearchForm, ResearchRow, ResearchStudy
from bot.reports.chart import CUSTOMER_COLOUR, ChartData, render_chart
from bot.reports.render_text import render_report_text
from bot.reports.reporting import ReportInput, build_report

ATTRS = ("price", "quality", "speed", "service", "range", "brand", "eco", "support")
WHEN = datetime(2026, 10, 1, tzinfo=UTC)


def _ranking() -> ResearchStudy:
    rows = tuple(ResearchRow(name, rank=i + 1) for i, name in enumerate(ATTRS))
    return ResearchStudy("interviews", ResearchForm.RANKING, rows)


def _top3() -> ResearchStudy:
    counts = [60, 170, 150, 120, 90, 60, 30, 20]
    rows = tuple(ResearchRow(n, top3_count=c) for n, c in zip(ATTRS, counts, strict=True))
    return ResearchStudy("survey", ResearchForm.TOP3, rows, sample_size=300)


def _input(study: ResearchStudy, people: int = 12) -> ReportInput:
    # Everyone overrates price: 100 % of staff name it first.
    answers = [Answer(f"r{i}", (), ("price", "quality", "speed")) for i in range(people)]
    return ReportInput(
        title="Q4",
        round_label="Round 1",
        generated_at=WHEN,
        invited=people,
        analysis=analyse(ATTRS, answers, {None: study}),
        research_label=study.source,
    )


def test_ranking_research_shows_no_customer_share_anywhere() -> None:
    # Formerly "Overrated: price — 100% of staff, 42% of customers", the 42 % modelled.
    data = _input(_ranking())
    report = build_report(data, with_chart=False)
    assert report.surprises == ()
    assert report.detectable_gap is None
    text = render_report_text(report)
    assert "of customers" not in text
    assert "no share is tested" in text
    chart = build_report(data).chart_png
    assert chart is not None
    assert not _has_colour(chart, CUSTOMER_COLOUR)  # no customer bars
    measured = build_report(_input(_top3())).chart_png
    assert measured is not None
    assert _has_colour(measured, CUSTOMER_COLOUR)


def _has_colour(png: bytes, colour: str) -> bool:
    from matplotlib.image import imread

    pixels = (imread(io.BytesIO(png), format="png")[..., :3] * 255).round().astype(int)
    rgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
    return bool(np.any(np.all(pixels == rgb, axis=-1)))


def test_chart_draws_customer_bars_only_for_measured_shares() -> None:
    data = ChartData(
        attributes=("a", "b"), employee_share=(0.5, 0.2), customer_share=(0.4, 0.6),
        surprises={}, k=3, title="t",
    )  # fmt: skip
    assert _has_colour(render_chart(data), CUSTOMER_COLOUR)
    unmeasured = ChartData(
        attributes=("a", "b"), employee_share=(0.5, 0.2), customer_share=None,
        surprises={}, k=3, title="t",
    )  # fmt: skip
    assert not _has_colour(render_chart(unmeasured), CUSTOMER_COLOUR)


def test_every_renderer_states_the_smallest_detectable_gap() -> None:
    report = build_report(_input(_top3()), with_chart=False)
    assert report.detectable_gap is not None
    sentence = report.detectable_gap_text
    assert sentence is not None
    # 0.15 + 1.645·sqrt(¼/12 + ¼/300) = 0.392 → 39 points.
    assert sentence == "With 12 answers, only gaps above 39 points can be seen."
    assert sentence in render_report_text(report)
    assert sentence in json.dumps(report_blocks(report)[1])
    assert sentence in json.dumps(report_card(report))


def test_text_report_states_the_scores_interval_and_chance_level() -> None:
    report = build_report(_input(_top3(), people=30), with_chart=False)
    text = render_report_text(report)
    assert "95% interval" in text
    assert "staff answering at random score 0 on average" in text


def test_text_report_says_when_the_score_is_within_chance() -> None:
    # 12 people naming price, quality, speed against customers who put price 6th: the score
    # is low and its permutation p large.
    report = build_report(_input(_top3()), with_chart=False)
    assert report.figures is not None
    assert report.figures.score_p is not None
    assert report.figures.score_p > 0.05
    assert "cannot be told apart from chance" in render_report_text(report)
    strong = build_report(_input(_ranking(), people=30), with_chart=False)
    assert "cannot be told apart from chance" not in render_report_text(strong)
