"""Escaping for the console's output syntax: a terminal.

A name is printed as typed: control characters (ESC starts a terminal control sequence that
can recolour, move the cursor or retitle the window) are shown as ``\\x1b``-style escapes.
Line breaks stay: the core's messages have several lines.
"""

from __future__ import annotations

import unicodedata


def terminal_text(text: str) -> str:
    return "".join(_visible(char) for char in text)


def _visible(char: str) -> str:
    if char == "\n" or unicodedata.category(char) not in ("Cc", "Cf"):
        return char
    if char in "\u200d\ufe0f":  # joiners inside emoji are harmless and part of the emoji
        return char
    return char.encode("unicode_escape").decode("ascii")
