"""Pure renderers: core views -> Block Kit JSON. No I/O, deterministic, snapshot-friendly."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from adapters.slack.scopes import COMMAND
from bot.model.views import (
    AnswerSummary,
    Figures,
    GroupLine,
    HelpView,
    HomeView,
    PollState,
    PollView,
    ReportView,
    SurpriseKind,
    SurpriseLine,
    TrendLine,
)
from bot.reports.render_text import ordinal, render_report_fallback

Block = dict[str, Any]

ACTION_POLL_OPEN: Final = "poll_rank_open"
ACTION_POLL_CHANGE: Final = "poll_rank_change"
CALLBACK_POLL: Final = "poll_rank_submit"
CALLBACK_RESEARCH: Final = "research_import_submit"
RANK_BLOCK_PREFIX: Final = "rank_"
CHOICE_ACTION: Final = "choice"
RESEARCH_TEXT: Final = "csv_text"
RESEARCH_FILE: Final = "csv_file"
RESEARCH_SEGMENT: Final = "segment"
RESEARCH_SOURCE: Final = "source"

# Block Kit limits (https://docs.slack.dev/reference/block-kit): exceeding them is an
# invalid_blocks error at send time, so the renderers clip instead.
OPTION_TEXT_MAX: Final = 75
SECTION_TEXT_MAX: Final = 3000
HEADER_TEXT_MAX: Final = 150
MODAL_TITLE_MAX: Final = 24


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def escape(text: str) -> str:
    """Text safe in any Slack text that is parsed (mrkdwn blocks, a message's ``text``, its
    fallback for notifications, a response_url reply): &, < and > are control characters
    there, and ``<!channel>``, ``<@U…>`` or ``<!subteam^…>`` would notify people. Every
    user-supplied name, and every text the core wrote, goes through this once."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@functools.lru_cache(maxsize=64)
def slack_date(moment: datetime) -> str:
    """Slack shows this in each reader's own time zone; the fallback is for old clients.

    Cached: a fan-out renders the same deadline twice in each of thousands of polls, and
    strftime was 3 % of the sending loop's CPU (bench/fanout.py under py-spy)."""
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"


def mrkdwn(text: str) -> Block:
    return {"type": "mrkdwn", "text": clip(text, SECTION_TEXT_MAX)}


def plain(text: str, limit: int = SECTION_TEXT_MAX) -> Block:
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


def section(text: str) -> Block:
    return {"type": "section", "text": mrkdwn(text)}


def context(*texts: str) -> Block:
    return {"type": "context", "elements": [mrkdwn(t) for t in texts[:10]]}


def header(text: str) -> Block:
    return {"type": "header", "text": plain(text, HEADER_TEXT_MAX)}


def numbered(labels: Sequence[str]) -> str:
    return "\n".join(f"{i}. {escape(label)}" for i, label in enumerate(labels, start=1)) or "—"


# --- the poll --------------------------------------------------------------------------------


def poll_button_value(round_id: int) -> str:
    return json.dumps({"round_id": round_id})


def poll_message(poll: PollView, notice: str | None = None) -> tuple[str, list[Block]]:
    """The DM: question, deadline and the button; (fallback text, blocks)."""
    blocks: list[Block] = [
        section(f"*{escape(poll.question)}*"),
        context(f"Pick your top {poll.k} · answers close {slack_date(poll.deadline)}"),
    ]
    if poll.state is not PollState.OPEN and poll.current:
        blocks.append(section("*Your answer*\n" + numbered(poll.current_labels)))
    if notice:
        blocks.append(context(escape(notice)))
    if poll.state is PollState.OPEN:
        blocks.append(_poll_button(poll, ACTION_POLL_OPEN, f"Rank your top {poll.k}", True))
    elif poll.state is PollState.ANSWERED:
        blocks.append(_poll_button(poll, ACTION_POLL_CHANGE, "Change my answer", False))
    else:
        blocks.append(context("This poll is closed."))
    return f"{escape(poll.question)} (answers close {slack_date(poll.deadline)})", blocks


def _poll_button(poll: PollView, action_id: str, label: str, primary: bool) -> Block:
    button: Block = {
        "type": "button",
        "action_id": action_id,
        "text": plain(label, 75),
        "value": poll_button_value(poll.round_id),
    }
    if primary:
        button["style"] = "primary"
    return {"type": "actions", "block_id": f"poll_{poll.round_id}", "elements": [button]}


def rank_block_id(position: int) -> str:
    return f"{RANK_BLOCK_PREFIX}{position}"


def poll_modal(poll: PollView, private_metadata: str) -> Block:
    """One static_select per place: the order of a multi_static_select is not documented."""
    options = [_option(o.value, o.label) for o in poll.options[:100]]
    blocks: list[Block] = [section(f"*{escape(poll.question)}*")]
    for position in range(1, poll.k + 1):
        select: Block = {
            "type": "static_select",
            "action_id": CHOICE_ACTION,
            "placeholder": plain(f"Your {ordinal(position)} choice", 150),
            "options": options,
        }
        if len(poll.current) >= position:
            value = poll.current[position - 1]
            select["initial_option"] = _option(value, poll.label_of(value))
        blocks.append(
            {
                "type": "input",
                "block_id": rank_block_id(position),
                "label": plain(f"{ordinal(position)} choice", 2000),
                "element": select,
            }
        )
    return {
        "type": "modal",
        "callback_id": CALLBACK_POLL,
        "title": plain(f"Rank your top {poll.k}", MODAL_TITLE_MAX),
        "submit": plain("Submit", MODAL_TITLE_MAX),
        "close": plain("Cancel", MODAL_TITLE_MAX),
        "private_metadata": private_metadata,
        "blocks": blocks,
    }


def _option(value: str, label: str) -> Block:
    return {"text": plain(label, OPTION_TEXT_MAX), "value": value}


def notice_modal(title: str, text: str) -> Block:
    """What a modal turns into when there is nothing left to fill in."""
    return {
        "type": "modal",
        "title": plain(title, MODAL_TITLE_MAX),
        "close": plain("Close", MODAL_TITLE_MAX),
        "blocks": [section(escape(text))],
    }


# --- research import --------------------------------------------------------------------------


def research_modal(private_metadata: str = "") -> Block:
    return {
        "type": "modal",
        "callback_id": CALLBACK_RESEARCH,
        "title": plain("Import research", MODAL_TITLE_MAX),
        "submit": plain("Import", MODAL_TITLE_MAX),
        "close": plain("Cancel", MODAL_TITLE_MAX),
        "private_metadata": private_metadata,
        "blocks": [
            context("Paste a CSV of customer rankings, or pick a CSV file shared in Slack."),
            _input(
                RESEARCH_TEXT,
                "Paste CSV",
                {"type": "plain_text_input", "action_id": RESEARCH_TEXT, "multiline": True},
            ),
            _input(
                RESEARCH_FILE,
                "…or pick a CSV file",
                {
                    "type": "file_input",
                    "action_id": RESEARCH_FILE,
                    "filetypes": ["csv"],
                    "max_files": 1,
                },
            ),
            _input(
                RESEARCH_SEGMENT,
                "Customer segment",
                {"type": "plain_text_input", "action_id": RESEARCH_SEGMENT},
            ),
            _input(
                RESEARCH_SOURCE,
                "Source (survey name, date)",
                {"type": "plain_text_input", "action_id": RESEARCH_SOURCE},
            ),
        ],
    }


def _input(block_id: str, label: str, element: Block) -> Block:
    # All optional: "text or file" is a rule Slack cannot express, so the server checks it.
    return {
        "type": "input",
        "block_id": block_id,
        "optional": True,
        "label": plain(label, 2000),
        "element": element,
    }


# --- the report -------------------------------------------------------------------------------


def report_blocks(report: ReportView) -> tuple[str, list[Block]]:
    blocks: list[Block] = [
        header(report.title),
        context(
            escape(report.round_label),
            f"generated {slack_date(report.generated_at)}",
            *([escape(report.research_label)] if report.research_label else []),
        ),
    ]
    figures = report.figures
    if figures is None:
        blocks.append(section(escape(report.withheld)))
    else:
        blocks.extend(_headline(report, figures))
    blocks.extend(_surprises(report.surprises))
    if report.detectable_gap_text:
        blocks.append(context(escape(report.detectable_gap_text)))
    blocks.extend(_groups("Teams", report.teams))
    blocks.extend(_groups("Customer segments", report.segments))
    blocks.extend(_trend(report.trend))
    if report.notes:
        blocks.append(context(*(escape(n) for n in report.notes)))
    # The text is the notification and screen-reader version: plain words, no Markdown,
    # escaped like every other text (a team named "<!channel>" notifies nobody).
    return escape(render_report_fallback(report)), blocks[:50]


def _headline(report: ReportView, figures: Figures) -> list[Block]:
    rate = report.response_rate
    answered = f"{figures.respondents} of {report.invited} answered"
    if rate is not None:
        answered += f" ({rate:.0%})"
    lines = [
        f"*Alignment score: {figures.alignment_score}/100*"
        + (f" · {escape(report.agreement_label)}" if report.agreement_label else ""),
        f"Top-{figures.k} match: {figures.top_hits} of {figures.k}",
        answered,
    ]
    return [
        section("\n".join(lines)),
        {
            "type": "section",
            "fields": [
                mrkdwn(f"*Staff top {figures.k}*\n" + numbered(figures.staff_top)),
                mrkdwn(f"*Customers' top {figures.k}*\n" + numbered(figures.customer_top)),
            ],
        },
    ]


def _surprises(lines: Sequence[SurpriseLine]) -> list[Block]:
    if not lines:
        return []
    names = {SurpriseKind.BLIND_SPOT: "Blind spot", SurpriseKind.OVERRATED: "Overrated"}
    text = "\n".join(
        f"• {names[s.kind]}: *{escape(s.attribute)}* — customers {s.customer_share:.0%}, "
        f"staff {s.employee_share:.0%}"
        for s in lines
    )
    return [section("*Surprises*\n" + text)]


def _groups(title: str, groups: Sequence[GroupLine]) -> list[Block]:
    if not groups:
        return []
    text = "\n".join(f"• {escape(g.name)}: {_group_text(g)}" for g in groups)
    return [section(f"*{title}*\n" + text)]


def _group_text(group: GroupLine) -> str:
    if group.figures is None:
        return f"_{escape(group.reason)}_"
    f = group.figures
    return (
        f"{f.alignment_score}/100, top-{f.k} match {f.top_hits} of {f.k} ({f.respondents} answers)"
    )


def _trend(lines: Sequence[TrendLine]) -> list[Block]:
    if not lines:
        return []
    text = "\n".join(
        f"• {escape(t.label)}: {t.previous:g} → {t.current:g} ({t.delta:+g})" for t in lines
    )
    return [section("*Trend*\n" + text)]


# --- App Home ---------------------------------------------------------------------------------


def home_view(home: HomeView) -> Block:
    blocks: list[Block] = [header(f"Hi {home.user_name}")]
    if home.open_round_label:
        when = (
            f", answers close {slack_date(home.open_round_deadline)}"
            if home.open_round_deadline
            else ""
        )
        blocks.append(section(f"*Open round:* {escape(home.open_round_label)}{when}"))
    else:
        blocks.append(section("No round is open right now."))
    blocks.append({"type": "divider"})
    blocks.append(section("*Your answers*"))
    if not home.my_answers:
        blocks.append(context("You have not answered a round yet."))
    blocks.extend(_answer_block(a) for a in home.my_answers[:20])
    if home.is_manager:
        blocks.extend(_manager_blocks(home))
    return {"type": "home", "blocks": blocks[:100]}


def _answer_block(answer: AnswerSummary) -> Block:
    lines = [f"*{escape(answer.round_label)}* · {slack_date(answer.answered_at)}"]
    lines.append("You: " + ", ".join(escape(a) for a in answer.ranking))
    if answer.customer_top:
        lines.append("Customers: " + ", ".join(escape(a) for a in answer.customer_top))
    if answer.hits is not None:
        lines.append(f"Match: {answer.hits} of {len(answer.ranking)}")
    return section("\n".join(lines))


def _manager_blocks(home: HomeView) -> list[Block]:
    blocks: list[Block] = [{"type": "divider"}, section("*Team overview*")]
    if home.response_rate is not None:
        blocks.append(context(f"Response rate: {home.response_rate:.0%}"))
    if home.latest is not None:
        f = home.latest
        blocks.append(
            section(
                f"Latest alignment score: *{f.alignment_score}/100* · top-{f.k} match "
                f"{f.top_hits} of {f.k} ({f.respondents} answers)"
            )
        )
    return blocks


# --- help ---------------------------------------------------------------------------------


def help_message(view: HelpView) -> tuple[str, list[Block]]:
    """The commands as Slack writes them: `/alignment …` in code, the title in bold."""
    lines = [f"• `{COMMAND} {escape(h.usage)}` — {escape(h.summary)}" for h in view.lines]
    blocks: list[Block] = [section(f"*{escape(view.title)}*")]
    chunk: list[str] = []
    for line in lines:  # several sections, each under Slack's text limit
        if chunk and len("\n".join([*chunk, line])) > SECTION_TEXT_MAX:
            blocks.append(section("\n".join(chunk)))
            chunk = []
        chunk.append(line)
    if chunk:
        blocks.append(section("\n".join(chunk)))
    fallback = f"{view.title}: " + ", ".join(
        f"{COMMAND} {h.usage.split(' [')[0]}" for h in view.lines
    )
    return fallback, blocks[:50]
