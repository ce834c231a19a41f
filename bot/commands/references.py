"""Channels, people and groups named in a command, turned into checked platform ids.

A chat client may send a mention escaped (Slack's `<@U123|ann>`, `<#C123|sales>`,
`<!subteam^S123|@leads>`; the Teams adapter rewrites its `<at>` mentions to the same form) or
exactly as the person typed it (`@ann`, `#sales`, `sales`). Either way the platform is asked
now, through ``ChatPort.resolve``, so only ids it confirmed are ever stored.
"""

from __future__ import annotations

import re

from bot.model.domain import WorkspaceRef
from bot.model.ports import ChatPort, DeliveryError, Mention, RefKind, Resolved, UnknownReference

_ESCAPED = re.compile(r"^<(@|#|!subteam\^)([^|>\s]+)(?:\|[^>]*)?>$")
_SIGIL_KIND = {"@": RefKind.PERSON, "#": RefKind.CHANNEL, "!subteam^": RefKind.GROUP}


class ReferenceProblem(ValueError):
    """A mention that names nothing usable; the message says what to type instead."""


def read_mention(word: str, expected: RefKind) -> Mention:
    """What ``word`` names. A typed '#' means a channel, a typed '@' a person or group, and
    a bare word whatever the command expects there."""
    word = word.strip()
    escaped = _ESCAPED.match(word)
    if escaped:
        return Mention(_SIGIL_KIND[escaped.group(1)], escaped.group(2), is_id=True)
    if word.startswith("#"):
        return Mention(RefKind.CHANNEL, word[1:])
    if word.startswith("@"):  # a person's name or a group's handle, never a channel
        kind = expected if expected is not RefKind.CHANNEL else RefKind.PERSON
        return Mention(kind, word[1:])
    return Mention(expected, word)


async def resolve(
    port: ChatPort, workspace: WorkspaceRef, word: str, expected: RefKind
) -> Resolved:
    """The checked id behind ``word``, which must name an ``expected`` thing."""
    mention = read_mention(word, expected)
    if mention.kind is not expected or not mention.text:
        raise ReferenceProblem(f"'{word}' is not a {expected.value}: {_HOW[expected]}")
    try:
        return await port.resolve(workspace, mention)
    except UnknownReference as exc:
        raise ReferenceProblem(str(exc)) from exc
    except DeliveryError as exc:
        raise ReferenceProblem(
            f"I could not check '{word}' just now ({exc}); nothing was changed. Try again."
        ) from exc


_HOW = {
    RefKind.CHANNEL: "name a channel, e.g. #sales",
    RefKind.PERSON: "name a person, e.g. @ann",
    RefKind.GROUP: "name a user group, e.g. @sales-team",
}
