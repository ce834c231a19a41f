"""One escaping function per output syntax, each checked with names built to abuse it."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest

from adapters.console.escape import terminal_text
from adapters.slack import render
from adapters.teams import cards
from adapters.teams.escape import card_text, message_text
from bot.model.views import GroupLine
from tests.hardening.leaks import unescaped_markup
from tests.slack.fake_core import sample_poll
from tests.slack.test_render import full_report

NAMES = [
    "<!channel>",
    "<@U0123|boss>",
    "<!subteam^S1|@leads>",
    "<http://evil.example|click me>",
    "[click](http://evil.example)",
    "**loud** _slanted_ `code` ~gone~",
    "<at>Boss</at>",
    "<b>bold</b> &amp; &lt;",
    "back\\slash",
]


@pytest.mark.parametrize("name", NAMES)
def test_slack_text_and_blocks_carry_names_inert(name: str) -> None:
    report = replace(
        full_report(), title=name, round_label=name, teams=(GroupLine(name, None),), notes=(name,)
    )
    text, blocks = render.report_blocks(report)
    assert unescaped_markup({"text": text, "blocks": blocks}) == []
    poll = replace(sample_poll(), question=name)
    text, blocks = render.poll_message(poll, notice=name)
    assert unescaped_markup({"text": text, "blocks": blocks}) == []


def _card_texts(card: object) -> list[str]:
    found: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key in ("text", "value") and isinstance(item, str):
                    found.append(item)
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(card)
    return found


# An unescaped markdown link or emphasis: the special character has no backslash before it.
_ACTIVE_MARKDOWN = re.compile(r"(?<!\\)[\[\]`~]|(?<!\\)\*(?!\*)")


@pytest.mark.parametrize("name", NAMES)
def test_adaptive_card_text_carries_names_inert(name: str) -> None:
    report = replace(
        full_report(),
        title=name,
        round_label=name,
        research_label=name,
        teams=(GroupLine(name, None),),
        notes=(name,),
    )
    for text in _card_texts(cards.report_card(report)):
        stripped = text.replace("**", "")  # the card's own bold
        assert not _ACTIVE_MARKDOWN.search(stripped), text
    poll = replace(sample_poll(), question=name)
    for text in _card_texts(cards.poll_card(poll, error=name)):
        assert not _ACTIVE_MARKDOWN.search(text.replace("**", "")), text


def test_card_text_escapes_every_markdown_character() -> None:
    assert card_text("[x](y) *a* _b_ `c` ~d~ \\") == (
        "\\[x\\](y) \\*a\\* \\_b\\_ \\`c\\` \\~d\\~ \\\\"
    )


@pytest.mark.parametrize("name", NAMES)
def test_teams_message_text_has_no_tags_or_links(name: str) -> None:
    text = message_text(f"Added team '{name}'.")
    assert "<" not in text
    assert ">" not in text
    assert not re.search(r"(?<!\\)[\[\]]", text)


def test_terminal_text_shows_control_characters_instead_of_obeying_them() -> None:
    raw = "red\x1b[31m bell\x07 rtl\u202e\nnext line"
    shown = terminal_text(raw)
    assert "\x1b" not in shown
    assert "\x07" not in shown
    assert "\u202e" not in shown
    assert shown == "red\\x1b[31m bell\\x07 rtl\\u202e\nnext line"
    assert json.dumps(terminal_text("👩‍💻 price")) == json.dumps("👩‍💻 price")
