"""Escaping for the two text syntaxes Teams parses, one function each.

A name someone typed (an attribute, a team, a round label) is shown as typed: it never
becomes a link, a mention tag or formatting. Teams mentions need an ``entities`` entry as
well as the ``<at>`` tag, which the bot never sends for names, so the risk here is markup
(links, HTML, emphasis) rather than notifications; it is closed all the same.
"""

from __future__ import annotations

import re
from typing import Final

# Characters Adaptive Card TextBlock markdown gives a meaning: emphasis, links, code.
_CARD_MARKDOWN: Final = re.compile(r"([\\*_\[\]`~])")


def card_text(text: str) -> str:
    """A user-supplied value inside an Adaptive Card TextBlock or FactSet value (markdown)."""
    return _CARD_MARKDOWN.sub(r"\\\1", text)


def message_text(text: str) -> str:
    """The ``text`` of a Teams message (markdown with some HTML): tags become literal
    characters and link brackets lose their meaning; the core's plain words stay readable."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return escaped.replace("[", "\\[").replace("]", "\\]")
