"""Pure renderers: core views -> Adaptive Card 1.5 JSON (plain dicts).

Nothing here talks to Teams; every function returns a new card so it can be snapshot-tested
and validated against the Adaptive Card schema. Teams renders cards up to version 1.5.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from adapters.teams.escape import card_text
from bot.model.views import (
    AnswerSummary,
    Figures,
    GroupLine,
    HomeView,
    PollState,
    PollView,
    ReportView,
    SurpriseKind,
    SurpriseLine,
    TrendLine,
)
from bot.reports.render_text import ordinal

Card = dict[str, Any]
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
SCHEMA_URL = "http://adaptivecards.io/schemas/adaptive-card.json"

# Submit data "action" values; the adapter dispatches on them.
ACTION_ANSWER = "answer"
ACTION_CHANGE = "change"
ACTION_RESEARCH = "research"

# Input ids. Ranks are numbered from 1 so the id reads as the rank.
RESEARCH_TEXT = "research_csv"
RESEARCH_SEGMENT = "research_segment"
RESEARCH_SOURCE = "research_source"


def rank_input_id(rank: int) -> str:
    return f"rank_{rank}"


def format_when(moment: datetime) -> str:
    return moment.strftime("%a %d %b %Y, %H:%M UTC")


def attachment(card: Card) -> dict[str, Any]:
    """The activity attachment that carries a card."""
    return {"contentType": CARD_CONTENT_TYPE, "content": card}


def _card(body: list[dict[str, Any]], actions: Sequence[dict[str, Any]] = ()) -> Card:
    card: Card = {"type": "AdaptiveCard", "$schema": SCHEMA_URL, "version": "1.5", "body": body}
    if actions:
        card["actions"] = list(actions)
    return card


def _text(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def _heading(text: str) -> dict[str, Any]:
    return _text(text, weight="Bolder", size="Medium")


def _facts(pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
    return {"type": "FactSet", "facts": [{"title": t, "value": v} for t, v in pairs]}


def _error(message: str) -> dict[str, Any]:
    return _text(card_text(message), color="Attention", weight="Bolder", id="error")


def _submit(title: str, data: Mapping[str, Any], *, style: str | None = None) -> dict[str, Any]:
    action: dict[str, Any] = {"type": "Action.Submit", "title": title, "data": dict(data)}
    if style:
        action["style"] = style
    return action


def _numbered(items: Sequence[str]) -> str:
    return "\n".join(f"{i}. {card_text(item)}" for i, item in enumerate(items, start=1)) or "–"


# --- poll -------------------------------------------------------------------------------


def poll_card(
    poll: PollView,
    *,
    error: str | None = None,
    picks: Sequence[str] | None = None,
    note: str | None = None,
) -> Card:
    """The poll as the person should see it now.

    ``picks`` pre-fills the choice sets (a refused submission keeps what was chosen);
    ``error`` is shown on the card because Teams has no ephemeral messages.
    """
    if poll.state is PollState.OPEN:
        return _open_poll(poll, error=error, picks=picks if picks is not None else poll.current)
    if poll.state is PollState.ANSWERED:
        return _answered_poll(poll, error=error, note=note)
    return _closed_poll(poll)


def _open_poll(poll: PollView, *, error: str | None, picks: Sequence[str]) -> Card:
    choices = [{"title": o.label, "value": o.value} for o in poll.options]
    body: list[dict[str, Any]] = [
        _heading(card_text(poll.question)),
        _text(
            f"Pick your top {poll.k}, best first. Answer by {format_when(poll.deadline)}.",
            isSubtle=True,
            spacing="None",
        ),
    ]
    for rank in range(1, poll.k + 1):
        choice_set: dict[str, Any] = {
            "type": "Input.ChoiceSet",
            "id": rank_input_id(rank),
            "label": f"{ordinal(rank)} choice",
            "style": "compact",
            "isRequired": True,
            "errorMessage": f"Choose your {ordinal(rank)} choice",
            "placeholder": "Choose…",
            "choices": choices,
        }
        if rank <= len(picks) and picks[rank - 1]:
            choice_set["value"] = picks[rank - 1]
        body.append(choice_set)
    if error:
        body.append(_error(error))
    data = {"action": ACTION_ANSWER, "round_id": poll.round_id}
    return _card(body, [_submit("Submit", data, style="positive")])


def _answer_facts(poll: PollView) -> dict[str, Any]:
    labels = enumerate(poll.current_labels, 1)
    return _facts([(f"{ordinal(i)}", card_text(label)) for i, label in labels])


def _answered_poll(poll: PollView, *, error: str | None, note: str | None) -> Card:
    body: list[dict[str, Any]] = [
        _heading(card_text(poll.question)),
        _text(card_text(note or "Thanks, your answer is recorded:"), color="Good"),
        _answer_facts(poll),
        _text(f"You can change it until {format_when(poll.deadline)}.", isSubtle=True),
    ]
    if error:
        body.append(_error(error))
    data = {"action": ACTION_CHANGE, "round_id": poll.round_id}
    return _card(body, [_submit("Change my answer", data)])


def _closed_poll(poll: PollView) -> Card:
    body: list[dict[str, Any]] = [
        _heading(card_text(poll.question)),
        _text(f"This poll closed on {format_when(poll.deadline)}.", isSubtle=True),
    ]
    if poll.current:
        body += [_text("Your answer:"), _answer_facts(poll)]
    else:
        body.append(_text("You did not answer this round."))
    return _card(body)


def notice_card(title: str, message: str) -> Card:
    """A card that replaces a poll or dialog that can no longer be used."""
    return _card([_heading(title), _text(message)])  # fixed words: markdown intended


# --- report -----------------------------------------------------------------------------


def _figure_facts(figures: Figures, agreement_label: str) -> dict[str, Any]:
    pairs = [
        ("Alignment score", f"{figures.alignment_score} / 100"),
        (f"Top-{figures.k} match", f"{figures.top_hits} of {figures.k}"),
        ("Answers", str(figures.respondents)),
    ]
    if agreement_label:
        pairs.append(("Agreement among staff", card_text(agreement_label)))
    elif figures.kendall_w is not None:
        pairs.append(("Agreement among staff (Kendall's W)", f"{figures.kendall_w:.2f}"))
    if figures.spearman is not None:
        pairs.append(("Rank correlation with customers", f"{figures.spearman:+.2f}"))
    return _facts(pairs)


def _top_columns(figures: Figures) -> dict[str, Any]:
    def column(title: str, items: Sequence[str]) -> dict[str, Any]:
        return {
            "type": "Column",
            "width": "stretch",
            "items": [_text(title, weight="Bolder"), _text(_numbered(items))],
        }

    return {
        "type": "ColumnSet",
        "columns": [
            column(f"Staff top {figures.k}", figures.staff_top),
            column(f"Customers' top {figures.k}", figures.customer_top),
        ],
    }


def _surprise_line(line: SurpriseLine) -> str:
    what = (
        "customers value it, staff rarely pick it"
        if line.kind is SurpriseKind.BLIND_SPOT
        else "staff pick it, customers rarely do"
    )
    return (
        f"**{card_text(line.attribute)}**: {what} (staff {line.employee_share:.0%}, "
        f"customers {line.customer_share:.0%})"
    )


def _group_line(line: GroupLine) -> str:
    if line.figures is None:
        return f"**{card_text(line.name)}**: {card_text(line.reason)}"
    f = line.figures
    return (
        f"**{card_text(line.name)}**: score {f.alignment_score}, top-{f.k} match {f.top_hits} of {f.k} "
        f"({f.respondents} answers)"
    )


def _trend_line(line: TrendLine) -> str:
    return f"**{card_text(line.label)}**: {line.previous:g} → {line.current:g} ({line.delta:+g})"


def _section(title: str, lines: Sequence[str]) -> list[dict[str, Any]]:
    if not lines:
        return []
    return [
        _text(title, weight="Bolder", separator=True, spacing="Medium"),
        _text("\n\n".join(lines), spacing="Small"),
    ]


def chart_data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def report_card(
    report: ReportView, *, chart_url: str | None = None, fallback: str = "", missing: str = ""
) -> Card:
    """The report; ``chart_url`` is where its chart is (an https URL or a data URI that fits
    the message), ``missing`` says why there is none, ``fallback`` is the plain text for
    clients that cannot show cards."""
    body: list[dict[str, Any]] = [
        _text(card_text(report.title), weight="Bolder", size="Large"),
        _text(
            f"{card_text(report.round_label)} · generated {format_when(report.generated_at)}",
            isSubtle=True,
            spacing="None",
        ),
    ]
    if report.research_label:
        body.append(_text(f"Compared with: {card_text(report.research_label)}", isSubtle=True))
    if report.figures is None:
        body.append(_text(report.withheld))
    else:
        rate = report.response_rate
        answered = f"{report.figures.respondents} of {report.invited} answered"
        body.append(_text(answered + (f" ({rate:.0%})" if rate is not None else "")))
        body.append(_figure_facts(report.figures, report.agreement_label))
        body.append(_top_columns(report.figures))
    if chart_url is not None:
        body.append(
            {
                "type": "Image",
                "url": chart_url,
                "altText": "Staff and customer rankings compared",
                "size": "Stretch",
            }
        )
    elif missing:
        body.append(_text(missing, isSubtle=True))
    body += _section("Surprises", [_surprise_line(s) for s in report.surprises])
    if report.detectable_gap_text:
        body.append(_text(report.detectable_gap_text))
    body += _section("Teams", [_group_line(t) for t in report.teams])
    body += _section("Customer segments", [_group_line(s) for s in report.segments])
    body += _section("Trend", [_trend_line(t) for t in report.trend])
    body += _section("Notes", [card_text(note) for note in report.notes])
    card = _card(body)
    if fallback:
        card["fallbackText"] = fallback
    return card


# --- home -------------------------------------------------------------------------------


def _answer_summary(summary: AnswerSummary) -> str:
    ranking = ", ".join(card_text(name) for name in summary.ranking)
    line = f"**{card_text(summary.round_label)}** ({summary.answered_at:%d %b %Y}): {ranking}"
    if summary.customer_top:
        line += f"\n\nCustomers' top: {', '.join(card_text(n) for n in summary.customer_top)}"
        if summary.hits is not None:
            line += f" (you matched {summary.hits})"
    return line


def home_card(home: HomeView) -> Card:
    body: list[dict[str, Any]] = [_heading(f"Hello {card_text(home.user_name)}")]
    if home.open_round_label:
        when = f" until {format_when(home.open_round_deadline)}" if home.open_round_deadline else ""
        body.append(_text(f"Open now: **{card_text(home.open_round_label)}**{when}."))
    else:
        body.append(_text("No round is open right now."))
    answers = [_answer_summary(a) for a in home.my_answers]
    body += _section("Your answers", answers or ["You have not answered a round yet."])
    if home.is_manager:
        pairs: list[tuple[str, str]] = []
        if home.response_rate is not None:
            pairs.append(("Response rate", f"{home.response_rate:.0%}"))
        if home.latest is not None:
            pairs.append(("Latest alignment score", f"{home.latest.alignment_score} / 100"))
            pairs.append(("Top-k match", f"{home.latest.top_hits} of {home.latest.k}"))
        if pairs:
            body += [_text("For managers", weight="Bolder", separator=True), _facts(pairs)]
    body.append(_text("Type **help** to see what I can do.", isSubtle=True))
    return _card(body)


# --- research import --------------------------------------------------------------------


def research_import_card(
    *,
    error: str | None = None,
    result: str | None = None,
    values: Mapping[str, str] | None = None,
) -> Card:
    """Paste customer research as CSV. A refused import keeps what was typed."""
    values = values or {}
    if result and not error:
        return _card([_heading("Customer research imported"), _text(result, color="Good")])

    def text_input(input_id: str, label: str, **extra: Any) -> dict[str, Any]:
        field: dict[str, Any] = {"type": "Input.Text", "id": input_id, "label": label, **extra}
        if values.get(input_id):
            field["value"] = values[input_id]
        return field

    body: list[dict[str, Any]] = [
        _heading("Import customer research"),
        _text(
            "Paste a CSV with one row per customer answer (see the docs for the columns).",
            isSubtle=True,
        ),
        text_input(
            RESEARCH_TEXT,
            "CSV",
            isMultiline=True,
            isRequired=True,
            errorMessage="Paste the CSV here",
            placeholder="attribute,rank,…",
        ),
        text_input(RESEARCH_SEGMENT, "Segment (optional)", placeholder="e.g. SMB"),
        text_input(RESEARCH_SOURCE, "Source (optional)", placeholder="e.g. 2024 survey"),
    ]
    if error:
        body.append(_error(error))
    return _card(body, [_submit("Import", {"action": ACTION_RESEARCH}, style="positive")])
