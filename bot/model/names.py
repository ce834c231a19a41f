"""The rules for names people give things (attributes, teams, schedules), in one place.

A name is echoed in chat messages, reports and spreadsheet exports, so it is checked once,
when it is created: a sensible length, no control or text-direction characters (they hide
what a name says, or break a message), and no leading character a spreadsheet would take for
a formula. Escaping for each output syntax still happens where a message is written; this
only keeps nonsense out of the database.
"""

from __future__ import annotations

import unicodedata
from typing import Final

MAX_NAME_LENGTH: Final = 80
MAX_DESCRIPTION_LENGTH: Final = 200
# Database ids are 32-bit signed integers on every backend we support.
MAX_ID: Final = 2**31 - 1

# Spreadsheets start a formula with these (OWASP "CSV injection"), the full-width forms
# included: some spreadsheet locales read them as their ASCII twins.
FORMULA_STARTS: Final = frozenset("=+-@\t\r\uff1d\uff0b\uff0d\uff20")
# Text-direction overrides and isolates make a name read differently from what it is.
_BIDI_CONTROLS: Final = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


class InvalidName(ValueError):
    """The name breaks a rule; the message says which, in words for the person who typed it."""


def clean_name(raw: str, what: str) -> str:
    """``raw`` with its whitespace collapsed, or ``InvalidName`` saying what is wrong.

    ``what`` names the thing in the message, e.g. "an attribute name"."""
    _refuse_hidden_characters(raw, what)
    name = " ".join(raw.split())
    if not 1 <= len(name) <= MAX_NAME_LENGTH:
        raise InvalidName(f"{what} needs 1 to {MAX_NAME_LENGTH} characters")
    if name[0] in FORMULA_STARTS:
        raise InvalidName(
            f"{what} cannot start with {name[0]!r} (spreadsheets read it as a formula)"
        )
    return name


def clean_description(raw: str) -> str:
    """A free-text description: shorter than a paragraph, no hidden characters."""
    _refuse_hidden_characters(raw, "a description")
    text = " ".join(raw.split())
    if len(text) > MAX_DESCRIPTION_LENGTH:
        raise InvalidName(f"a description has at most {MAX_DESCRIPTION_LENGTH} characters")
    return text


def _refuse_hidden_characters(raw: str, what: str) -> None:
    for char in raw:
        if char in " \n":
            continue  # ordinary spacing is collapsed, not refused
        if unicodedata.category(char) in ("Cc", "Cs") or char in _BIDI_CONTROLS:
            raise InvalidName(f"{what} cannot contain control characters (found U+{ord(char):04X})")


def spreadsheet_safe(cell: str) -> str:
    """A text cell a spreadsheet shows as text: a formula start gets a leading apostrophe.

    Exports apply this to every text cell, since names stored before the rules above may
    still start with one."""
    return "'" + cell if cell and cell[0] in FORMULA_STARTS else cell
