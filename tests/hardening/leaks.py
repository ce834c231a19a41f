"""Finding Slack markup that a user-supplied name could have smuggled into a message.

Slack parses ``&``, ``<`` and ``>`` in a message's ``text`` (its notification fallback too)
and in mrkdwn text objects: ``<!channel>``, ``<@U…>``, ``<!subteam^…>`` and ``<http…|…>`` are
markup there. The only markup the bot writes itself is ``<!date^…>``; anything else with an
angle bracket in parsed text came from a name that was not escaped. ``plain_text`` objects
(headers, buttons, options) are shown as typed and are skipped.
"""

from __future__ import annotations

import json
import re
from typing import Any

OUR_OWN_MARKUP = re.compile(r"<!date\^\d+\^[^|>]*\|[^>]*>")


def unescaped_markup(message: Any) -> list[str]:
    """Every parsed text in ``message`` (a response_url body or Web API params) that still
    has an angle bracket once the bot's own date markup is taken out."""
    found: list[str] = []
    _walk(message, found)
    return found


def _walk(value: Any, found: list[str]) -> None:
    if isinstance(value, str) and value[:1] in "[{":
        try:
            value = json.loads(value)  # blocks and views may arrive JSON-encoded
        except ValueError:
            return
    if isinstance(value, list):
        for item in value:
            _walk(item, found)
    elif isinstance(value, dict):
        if value.get("type") == "plain_text":
            return
        for key, item in value.items():
            if key == "text" and isinstance(item, str):
                if "<" in OUR_OWN_MARKUP.sub("", item) or ">" in OUR_OWN_MARKUP.sub("", item):
                    found.append(item)
            else:
                _walk(item, found)
