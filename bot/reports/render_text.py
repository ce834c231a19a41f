"""Plain text and Markdown renderings of the views, for the console and ``report.md``.

Pure functions of the views. A group whose figures are None is below the minimum group size;
it is only ever described as "too few answers", never with its count.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

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

TOO_FEW = "too few answers"
DEFAULT_INSTRUCTION = "answer with: answer {round} {picks}"


# --- small formatting helpers -------------------------------------------------------------


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th … 11th, 12th, 13th … 21st: the places in a ranking."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def percent(share: float) -> str:
    """0.625 → "62%" (a share in [0, 1], rounded to a whole percent)."""
    return f"{share * 100:.0f}%"


def signed(delta: float, digits: int = 0) -> str:
    """A delta with its sign: +4, -3, ±0; +0.05 with ``digits=2``."""
    text = f"{abs(delta):.{digits}f}"
    if float(text) == 0:
        return "±" + text
    return ("+" if delta > 0 else "-") + text


def q_text(q_value: float) -> str:
    return "q<0.001" if q_value < 0.001 else f"q={q_value:.3f}"


def when(moment: datetime) -> str:
    """A timestamp in UTC; naive datetimes are taken to be UTC already."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def joined(items: Sequence[str]) -> str:
    return ", ".join(items) if items else "none"


SCORE_ALPHA = 0.05  # above this permutation p the score is within what chance gives


def score_meaning(score: int) -> str:
    """One line on what an alignment score (100 = identical, 0 = chance) means."""
    if score <= 0:
        return "no better than staff answering at random."
    if score >= 80:
        return "staff and customers largely agree on what matters most."
    if score >= 60:
        return "broadly aligned, with some gaps worth a conversation."
    if score >= 40:
        return "partly aligned: several priorities differ from customers'."
    return "staff priorities differ markedly from what customers value."


# --- report -------------------------------------------------------------------------------


def render_report_text(report: ReportView, *, min_answers: int | None = None) -> str:
    """The report as Markdown; ``min_answers`` is the threshold quoted when it is suppressed."""
    lines = [f"# {report.title}", "", f"- Round: {report.round_label}"]
    lines.append(f"- Generated: {when(report.generated_at)}")
    if report.research_label:
        lines.append(f"- Customer research: {report.research_label}")
    figures = report.figures
    if figures is None:
        minimum = f" (minimum {min_answers})" if min_answers is not None else ""
        shown = f"Too few answers to report yet{minimum}."
        lines += ["", shown if report.withheld_for_size else report.withheld]
        return _finish(lines + _notes(report.notes))
    lines.append(f"- Responses: {_response_rate(figures.respondents, report.invited)}")
    lines += ["", *_headline(report, figures)]
    lines += _surprises(report.surprises)
    if report.detectable_gap_text:
        lines += ["", report.detectable_gap_text]
    lines += _group_table("Teams", "Team", report.teams, figures.k)
    lines += _group_table("Segments", "Segment", report.segments, figures.k)
    lines += _trend(report.trend)
    lines += _notes(report.notes)
    return _finish(lines)


def _finish(lines: list[str]) -> str:
    return "\n".join(lines).rstrip() + "\n"


def _response_rate(respondents: int, invited: int) -> str:
    if invited <= 0:
        return f"{respondents}"
    return f"{respondents} of {invited} ({percent(respondents / invited)})"


def _headline(report: ReportView, figures: Figures) -> list[str]:
    score = figures.alignment_score
    return [
        f"## Alignment score: {score}/100",
        _capitalised(score_meaning(score)),
        *_score_evidence(figures),
        "",
        f"- Internal agreement: {_agreement(report.agreement_label, figures.kendall_w)}",
        f"- Top-{figures.k} match: {figures.top_hits} of {figures.k}",
        f"- Staff top {figures.k}: {joined(figures.staff_top)}",
        f"- Customers' top {figures.k}: {joined(figures.customer_top)}",
    ]


def _score_evidence(figures: Figures) -> list[str]:
    """The score's interval and what chance alone would give (0 = chance, 100 = identical)."""
    if figures.score_interval is None or figures.chance_95th is None or figures.score_p is None:
        return []
    low, high = figures.score_interval
    line = (
        f"95% interval {low} to {high}; staff answering at random score 0 on average and "
        f"{figures.chance_95th} or more in 1 group of 20 this size (p = {figures.score_p:.3g})."
    )
    if figures.score_p > SCORE_ALPHA:
        line += " At this size the score cannot be told apart from chance."
    return [line]


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def _agreement(label: str, w: float | None) -> str:
    if w is None:
        return "not measurable (too few answers)"
    return f"{label} (W={w:.2f})" if label else f"W={w:.2f}"


def _surprises(surprises: Sequence[SurpriseLine]) -> list[str]:
    if not surprises:
        return []
    return ["", "## Surprises", "", *(f"- {surprise_line(s)}" for s in surprises)]


def surprise_line(surprise: SurpriseLine) -> str:
    """One surprise, e.g. ``Blind spot: support — 62% of customers, 18% of staff (q=0.003)``."""
    customers = f"{percent(surprise.customer_share)} of customers"
    staff = f"{percent(surprise.employee_share)} of staff"
    q = q_text(surprise.q_value)
    if surprise.kind is SurpriseKind.BLIND_SPOT:
        return f"Blind spot: {surprise.attribute} — {customers}, {staff} ({q})"
    return f"Overrated: {surprise.attribute} — {staff}, {customers} ({q})"


def _group_table(heading: str, column: str, groups: Sequence[GroupLine], k: int) -> list[str]:
    if not groups:
        return []
    lines = ["", f"## {heading}", "", f"| {column} | Answers | Score | Top-{k} match | Agreement |"]
    lines.append("|---|---|---|---|---|")
    return lines + [_group_row(group) for group in groups]


def _group_row(group: GroupLine) -> str:
    figures, name = group.figures, group.name.replace("|", "\\|")
    if figures is None:
        return f"| {name} | {group.reason} | | | |"
    w = "—" if figures.kendall_w is None else f"W={figures.kendall_w:.2f}"
    match = f"{figures.top_hits} of {figures.k}"
    return f"| {name} | {figures.respondents} | {figures.alignment_score} | {match} | {w} |"


def _trend(trend: Sequence[TrendLine]) -> list[str]:
    if not trend:
        return []
    return ["", "## Since the previous round", "", *(f"- {trend_line(t)}" for t in trend)]


def trend_line(line: TrendLine) -> str:
    """E.g. ``Alignment score: 68 → 72 (+4)``; whole numbers stay whole, others get 2 decimals."""
    digits = 0 if float(line.previous).is_integer() and float(line.current).is_integer() else 2
    before, after = f"{line.previous:.{digits}f}", f"{line.current:.{digits}f}"
    return f"{line.label}: {before} → {after} ({signed(line.delta, digits)})"


def _notes(notes: Sequence[str]) -> list[str]:
    if not notes:
        return []
    return ["", "## Notes", "", *(f"- {note}" for note in notes)]


# --- poll ---------------------------------------------------------------------------------


def render_poll_text(poll: PollView, instruction: str = DEFAULT_INSTRUCTION) -> str:
    """The poll as plain text.

    ``instruction`` is the adapter's answer syntax; ``{round}`` is replaced by the round id and
    ``{picks}`` by ``<n1> <n2> …`` (k placeholders).
    """
    lines = [f"Round {poll.round_id}: {poll.question}", f"Pick your top {poll.k}, best first.", ""]
    lines += [_option_line(number, poll.options[number - 1]) for number in _numbers(poll)]
    lines += ["", f"Deadline: {when(poll.deadline)}"]
    if poll.current:
        lines.append(f"Your current answer: {_numbered_answer(poll)}")
    if poll.state is PollState.CLOSED:
        lines.append("This round is closed.")
    else:
        if poll.state is PollState.ANSWERED:
            lines.append("You can change your answer until the deadline.")
        lines.append(answer_instruction(instruction, poll.round_id, poll.k))
    return "\n".join(lines) + "\n"


def _numbers(poll: PollView) -> range:
    return range(1, len(poll.options) + 1)


def _option_line(number: int, option: PollOption) -> str:
    text = f"{number:>3}. {option.label}"
    return f"{text} — {option.description}" if option.description else text


def _numbered_answer(poll: PollView) -> str:
    values = [option.value for option in poll.options]
    parts = []
    for value in poll.current:
        number = values.index(value) + 1 if value in values else None
        prefix = f"{number}. " if number is not None else ""
        parts.append(f"{prefix}{poll.label_of(value)}")
    return ", ".join(parts)


def answer_instruction(template: str, round_id: int, k: int) -> str:
    """Fill ``{round}`` and ``{picks}`` in an adapter's instruction template."""
    picks = " ".join(f"<n{i}>" for i in range(1, k + 1))
    return template.replace("{round}", str(round_id)).replace("{picks}", picks)


# --- personal views -----------------------------------------------------------------------


def render_feedback_text(answer: AnswerSummary) -> str:
    """A respondent's personal feedback for one round."""
    mine = f"Your top {len(answer.ranking)} in {answer.round_label}: {joined(answer.ranking)}."
    if not answer.customer_top:
        return f"{mine} Customer results will follow when the round closes."
    return f"{mine} {feedback_line(answer.ranking, answer.customer_top)}"


def feedback_line(ranking: Sequence[str], customer_top: Sequence[str]) -> str:
    """E.g. ``Customers' top 3 were A, B, C; you had 2 of them (A, C).``"""
    k = len(customer_top)
    picked = set(ranking[:k])
    hits = [item for item in customer_top if item in picked]
    head = f"Customers' top {k} were {', '.join(customer_top)}"
    if not hits:
        return f"{head}; you had none of them."
    return f"{head}; you had {len(hits)} of them ({', '.join(hits)})."


def render_home_text(home: HomeView) -> str:
    """App Home / personal tab as plain text."""
    lines = [f"Hi {home.user_name}!", ""]
    lines.append(_open_round(home))
    lines += ["", "Your answers:"]
    if home.my_answers:
        lines += [f"- {render_feedback_text(answer)}" for answer in home.my_answers]
    else:
        lines.append("- none yet")
    if home.is_manager:
        lines += ["", *_manager_lines(home)]
    return "\n".join(lines) + "\n"


def _open_round(home: HomeView) -> str:
    if home.open_round_label is None:
        return "No round is open right now."
    deadline = f", closes {when(home.open_round_deadline)}" if home.open_round_deadline else ""
    return f"Open round: {home.open_round_label}{deadline}."


def _manager_lines(home: HomeView) -> list[str]:
    lines = ["Manager view:"]
    if home.response_rate is not None:
        lines.append(f"- Response rate: {percent(home.response_rate)}")
    latest = home.latest
    if latest is None:
        lines.append(f"- Latest results: {TOO_FEW} yet")
    else:
        lines.append(f"- Latest alignment score: {latest.alignment_score}/100")
        lines.append(f"- Top-{latest.k} match: {latest.top_hits} of {latest.k}")
    return lines


def render_report_fallback(report: ReportView) -> str:
    """The report in one or two plain sentences: what a notification, a screen reader or a
    client that cannot show Block Kit or cards displays. No Markdown headings or tables."""
    lead = f"{report.title} ({report.round_label})"
    figures = report.figures
    if figures is None:
        return f"{lead}: too few answers to show results yet ({report.invited} invited)."
    facts = [f"alignment score {figures.alignment_score}/100"]
    if report.agreement_label:
        facts.append(report.agreement_label)
    facts.append(f"top-{figures.k} match {figures.top_hits} of {figures.k}")
    facts.append(f"{_response_rate(figures.respondents, report.invited)} answered")
    text = f"{lead}: {', '.join(facts)}."
    kinds = {SurpriseKind.BLIND_SPOT: "Blind spots", SurpriseKind.OVERRATED: "Overrated"}
    for kind, heading in kinds.items():
        names = [s.attribute for s in report.surprises if s.kind is kind]
        if names:
            text += f" {heading}: {joined(names)}."
    return text
