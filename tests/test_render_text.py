"""Plain-text and Markdown renderings of the views."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from bot.model.views import (
    AnswerSummary,
    Figures,
    GroupLine,
    HomeView,
    PollOption,
    PollState,
    PollView,
    ReportView,
    SurpriseKind,
    SurpriseLine,
    TrendLine,
)
from bot.reports.render_text import (
    feedback_line,
    percent,
    render_feedback_text,
    render_home_text,
    render_poll_text,
    render_report_text,
    signed,
    trend_line,
)

NOW = datetime(2025, 6, 30, 9, 0, tzinfo=UTC)


def _figures(respondents: int = 42, score: int = 72, hits: int = 2) -> Figures:
    return Figures(
        respondents=respondents,
        alignment_score=score,
        kendall_w=0.41,
        kendall_w_p=0.001,
        top_hits=hits,
        k=3,
        spearman=0.6,
        staff_top=("Price", "Quality", "Delivery speed"),
        customer_top=("Quality", "Customer support", "Price"),
    )


def _report(**overrides: object) -> ReportView:
    values: dict[str, object] = {
        "title": "Customer alignment",
        "round_label": "2025 Q2",
        "generated_at": NOW,
        "invited": 60,
        "figures": _figures(),
        "agreement_label": "moderate agreement",
        "research_label": "Customer survey 2025 (n=812)",
        "surprises": (
            SurpriseLine("customer support", SurpriseKind.BLIND_SPOT, 0.18, 0.62, 0.003),
            SurpriseLine("brand", SurpriseKind.OVERRATED, 0.45, 0.12, 0.0004),
        ),
        "teams": (
            GroupLine("Sales", _figures(respondents=12, score=80, hits=3)),
            GroupLine("Legal", None),
        ),
        "segments": (GroupLine("Enterprise", _figures(score=65)), GroupLine("SMB", None)),
        "trend": (
            TrendLine("Alignment score", 68, 72),
            TrendLine("Response rate", 0.75, 0.70),
            TrendLine("Top-3 match", 2, 2),
        ),
        "notes": ("Customer research is from March.",),
    }
    values.update(overrides)
    return ReportView(**values)  # type: ignore[arg-type]


def test_report_key_lines() -> None:
    text = render_report_text(_report())
    lines = text.splitlines()
    assert lines[0] == "# Customer alignment"
    assert "- Round: 2025 Q2" in lines
    assert "- Generated: 2025-06-30 09:00 UTC" in lines
    assert "- Customer research: Customer survey 2025 (n=812)" in lines
    assert "- Responses: 42 of 60 (70%)" in lines
    assert "## Alignment score: 72/100" in lines
    assert "Broadly aligned, with some gaps worth a conversation." in lines
    assert "- Internal agreement: moderate agreement (W=0.41)" in lines
    assert "- Top-3 match: 2 of 3" in lines
    assert "- Staff top 3: Price, Quality, Delivery speed" in lines
    assert "- Customers' top 3: Quality, Customer support, Price" in lines
    assert "- Customer research is from March." in lines
    assert text.endswith("\n")
    assert not text.endswith("\n\n")


def test_surprise_lines() -> None:
    lines = render_report_text(_report()).splitlines()
    assert "- Blind spot: customer support — 62% of customers, 18% of staff (q=0.003)" in lines
    assert "- Overrated: brand — 45% of staff, 12% of customers (q<0.001)" in lines


def test_group_tables_suppress_small_groups() -> None:
    lines = render_report_text(_report()).splitlines()
    assert "| Team | Answers | Score | Top-3 match | Agreement |" in lines
    assert "| Sales | 12 | 80 | 3 of 3 | W=0.41 |" in lines
    assert "| Legal | too few answers | | | |" in lines
    assert "| SMB | too few answers | | | |" in lines
    suppressed_rows = [line for line in lines if "too few answers" in line]
    assert len(suppressed_rows) == 2
    assert not any(re.search(r"\d", row) for row in suppressed_rows)
    assert "| Enterprise | 42 | 65 | 2 of 3 | W=0.41 |" in lines


def test_trend_deltas_are_signed() -> None:
    lines = render_report_text(_report()).splitlines()
    assert "- Alignment score: 68 → 72 (+4)" in lines
    assert "- Response rate: 0.75 → 0.70 (-0.05)" in lines
    assert "- Top-3 match: 2 → 2 (±0)" in lines


def test_suppressed_report_reveals_no_counts() -> None:
    report = _report(figures=None, surprises=(), teams=(), segments=(), trend=(), notes=())
    text = render_report_text(report, min_answers=5)
    assert "Too few answers to report yet (minimum 5)." in text
    assert "Responses" not in text
    assert "Alignment score" not in text
    known = ("2025 Q2", "2025-06-30 09:00", "survey 2025 (n=812)", "(minimum 5)")
    for fragment in known:
        text = text.replace(fragment, "")
    assert not re.search(r"\d", text), text


def test_suppressed_report_without_threshold() -> None:
    text = render_report_text(_report(figures=None))
    assert "Too few answers to report yet." in text
    assert "Blind spot" not in text
    assert "| Sales |" not in text


def test_undefined_agreement() -> None:
    figures = Figures(5, 50, None, None, 1, 3, None, ("A", "B", "C"), ("C", "D", "E"))
    text = render_report_text(_report(figures=figures))
    assert "- Internal agreement: not measurable (too few answers)" in text


@pytest.mark.parametrize(
    ("delta", "digits", "expected"),
    [(4, 0, "+4"), (-3, 0, "-3"), (0, 0, "±0"), (0.004, 0, "±0"), (0.05, 2, "+0.05")],
)
def test_signed(delta: float, digits: int, expected: str) -> None:
    assert signed(delta, digits) == expected


def test_times_are_shown_in_utc() -> None:
    later = datetime.fromisoformat("2025-06-30T11:00:00+02:00")
    assert "- Generated: 2025-06-30 09:00 UTC" in render_report_text(_report(generated_at=later))


def test_percent_and_trend_line() -> None:
    assert percent(0.625) == "62%"
    assert percent(1.0) == "100%"
    assert trend_line(TrendLine("Agreement (W)", 0.4, 0.5)) == "Agreement (W): 0.40 → 0.50 (+0.10)"


def _poll(state: PollState = PollState.OPEN, current: tuple[str, ...] = ()) -> PollView:
    return PollView(
        round_id=7,
        question="What do customers value most?",
        options=(
            PollOption("price", "Price", "What they pay"),
            PollOption("support", "Customer support"),
            PollOption("quality", "Quality"),
            PollOption("speed", "Delivery speed"),
        ),
        k=3,
        deadline=datetime(2025, 7, 4, 17, 0, tzinfo=UTC),
        state=state,
        current=current,
    )


def test_poll_text() -> None:
    lines = render_poll_text(_poll()).splitlines()
    assert lines[0] == "Round 7: What do customers value most?"
    assert "Pick your top 3, best first." in lines
    assert "  1. Price — What they pay" in lines
    assert "  2. Customer support" in lines
    assert "Deadline: 2025-07-04 17:00 UTC" in lines
    assert lines[-1] == "answer with: answer 7 <n1> <n2> <n3>"
    assert not any(line.startswith("Your current answer") for line in lines)


def test_poll_text_with_answer_and_custom_instruction() -> None:
    poll = _poll(PollState.ANSWERED, ("quality", "price", "speed"))
    lines = render_poll_text(poll, "/align vote {round} {picks}").splitlines()
    assert "Your current answer: 3. Quality, 1. Price, 4. Delivery speed" in lines
    assert "You can change your answer until the deadline." in lines
    assert lines[-1] == "/align vote 7 <n1> <n2> <n3>"


def test_closed_poll_has_no_instruction() -> None:
    text = render_poll_text(_poll(PollState.CLOSED, ("price",)))
    assert "This round is closed." in text
    assert "answer with" not in text


def _answer(customer_top: tuple[str, ...] = ("A", "B", "C")) -> AnswerSummary:
    return AnswerSummary("2025 Q2", NOW, ("A", "D", "C"), customer_top, 2 if customer_top else None)


def test_feedback() -> None:
    assert feedback_line(("A", "D", "C"), ("A", "B", "C")) == (
        "Customers' top 3 were A, B, C; you had 2 of them (A, C)."
    )
    assert feedback_line(("D", "E", "F"), ("A", "B", "C")) == (
        "Customers' top 3 were A, B, C; you had none of them."
    )
    assert render_feedback_text(_answer()) == (
        "Your top 3 in 2025 Q2: A, D, C. Customers' top 3 were A, B, C; you had 2 of them (A, C)."
    )
    assert render_feedback_text(_answer(())).endswith(
        "Customer results will follow when the round closes."
    )


def test_home_for_employee() -> None:
    home = HomeView(
        "Alice",
        (_answer(),),
        is_manager=False,
        open_round_label="2025 Q3",
        open_round_deadline=datetime(2025, 9, 30, 17, 0, tzinfo=UTC),
    )
    lines = render_home_text(home).splitlines()
    assert lines[0] == "Hi Alice!"
    assert "Open round: 2025 Q3, closes 2025-09-30 17:00 UTC." in lines
    assert any("you had 2 of them (A, C)" in line for line in lines)
    assert "Manager view:" not in lines


def test_home_for_manager() -> None:
    home = HomeView("Bob", (), is_manager=True, response_rate=0.7, latest=_figures())
    lines = render_home_text(home).splitlines()
    assert "No round is open right now." in lines
    assert "- none yet" in lines
    assert "- Response rate: 70%" in lines
    assert "- Latest alignment score: 72/100" in lines
    assert "- Top-3 match: 2 of 3" in lines
    suppressed = render_home_text(HomeView("Bob", (), is_manager=True))
    assert "- Latest results: too few answers yet" in suppressed
