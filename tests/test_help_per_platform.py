"""Every command a platform advertises (Slack's usage_hint, Teams' command list, each
adapter's help) is one the parser accepts, written in that platform's syntax."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from adapters.slack import render as slack_render
from adapters.teams.activities import command_text
from adapters.teams.text import help_markdown, teams_text
from bot.commands.parser import COMMANDS, help_text, help_view, parse
from bot.model.domain import Role

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = {'"NAME"': '"x"', '"OLD"': '"x"', '"NEW"': '"y"', "ID": "1", "@PERSON": "@x"}
EXAMPLES["WHEN"] = '"0 9 * * 1"'


def example(usage: str) -> str:
    """A usage line with its optional parts dropped and its placeholders filled in."""
    line = re.sub(r"\s*\[[^\]]*\]", "", usage)
    for placeholder, value in EXAMPLES.items():
        line = line.replace(placeholder, value)
    return line


def test_slack_usage_hint_names_only_commands_the_parser_accepts() -> None:
    manifest = yaml.safe_load((ROOT / "manifest/slack/manifest.yaml").read_text())
    (command,) = manifest["features"]["slash_commands"]
    assert command["should_escape"] is True
    hint = command["usage_hint"].strip("[]")
    for word in (w.strip() for w in hint.split("|")):
        assert parse(word).name == word, word


def test_teams_command_list_names_only_commands_the_parser_accepts() -> None:
    manifest = json.loads((ROOT / "manifest/teams/manifest.json").read_text())
    titles = [
        c["title"] for b in manifest["bots"] for cl in b["commandLists"] for c in cl["commands"]
    ]
    assert titles
    for title in titles:
        assert parse(command_text(title)).name == title, title


def _slack_lines() -> list[str]:
    _text, blocks = slack_render.help_message(help_view(Role.ADMIN))
    text = "\n".join(b["text"]["text"] for b in blocks)
    return re.findall(r"^• `/alignment (.+?)` — ", text, flags=re.MULTILINE)


def _teams_lines() -> list[str]:
    markdown = help_markdown(help_view(Role.ADMIN))
    assert "/alignment" not in markdown  # Teams users type no slash
    return [command_text(f"alignment {u}") for u in re.findall(r"^- `alignment (.+?)` — ", markdown, flags=re.MULTILINE)]  # fmt: skip


def _console_lines() -> list[str]:
    return re.findall(r"^• /alignment (.+?) — ", help_text(Role.ADMIN), flags=re.MULTILINE)


@pytest.mark.parametrize("lines", [_slack_lines, _teams_lines, _console_lines])
def test_every_help_line_is_a_command_the_parser_accepts(lines: object) -> None:
    usages = lines()  # type: ignore[operator]
    assert len(usages) == len(COMMANDS)
    for usage, (name, spec) in zip(usages, COMMANDS.items(), strict=True):
        assert usage.replace("&lt;", "<") == spec.usage
        assert parse(example(usage)).name == name, usage


def test_teams_text_writes_commands_without_the_slash() -> None:
    assert teams_text("Only admins can use '/alignment audit'.") == (
        "Only admins can use 'alignment audit'."
    )
    assert "**alignment-bot" in help_markdown(help_view(Role.EMPLOYEE))
