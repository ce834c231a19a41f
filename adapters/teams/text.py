"""The core's words in Teams' own syntax.

The core names commands as a Slack user types them (`/alignment report`); in Teams a person
types `alignment report` in a 1:1 chat, or @mentions the bot first in a channel. Teams text
is Markdown, so bold is `**…**`, not Slack's `*…*`.
"""

from __future__ import annotations

import re
from typing import Final

from bot.model.views import HelpView

COMMAND_WORD: Final = "alignment"
_SLASH_COMMAND = re.compile(r"/alignment\b")


def teams_text(text: str) -> str:
    """A core message with its command references written the Teams way."""
    return _SLASH_COMMAND.sub(COMMAND_WORD, text)


def help_markdown(view: HelpView) -> str:
    lines = [
        f"**{view.title}**",
        "",
        f"Type a command in our 1:1 chat, e.g. `{COMMAND_WORD} report`; in a channel, "
        f"@mention me first (@Alignment report).",
        "",
    ]
    lines += [f"- `{COMMAND_WORD} {h.usage}` — {h.summary}" for h in view.lines]
    return "\n".join(lines)
