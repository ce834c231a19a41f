"""Pure readers of Slack payloads: ids, the ranking in a submitted modal, modal metadata."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from adapters.slack import render
from bot.model.defaults import MAX_ATTRIBUTES
from bot.model.domain import ConversationKind, ConversationRef, MessageRef, UserRef, WorkspaceRef
from bot.model.names import MAX_ID
from bot.reports.render_text import ordinal

PLATFORM = "slack"


def workspace(team_id: str) -> WorkspaceRef:
    return WorkspaceRef(PLATFORM, team_id)


def team_of(body: dict[str, Any]) -> str:
    """Interaction payloads carry the team in ``team.id`` (or ``user.team_id``)."""
    return str(dig(body, "team", "id") or dig(body, "user", "team_id") or "")


def user_of(body: dict[str, Any]) -> UserRef:
    name = dig(body, "user", "name")
    return UserRef(
        workspace(team_of(body)),
        str(dig(body, "user", "id")),
        name if isinstance(name, str) else None,
    )


def digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def command_conversation(command: dict[str, Any]) -> ConversationRef:
    kind = (
        ConversationKind.DM
        if command.get("channel_name") == "directmessage"
        else ConversationKind.CHANNEL
    )
    return ConversationRef(workspace(str(command["team_id"])), str(command["channel_id"]), kind)


def command_text(command: dict[str, Any]) -> str:
    """The slash command's text. Slack sends '&', '<' and '>' typed by the person as HTML
    entities (its own mentions are the only real angle brackets); mentions are checked with
    Slack later, so a typed look-alike gains nothing."""
    text = str(command.get("text") or "")
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return text.strip()


def command_event_id(command: dict[str, Any]) -> str:
    """trigger_id is unique per invocation; without it, hash what identifies the call."""
    trigger = command.get("trigger_id")
    if trigger:
        return f"slack:command:{trigger}"
    fields = ("team_id", "user_id", "channel_id", "text", "response_url")
    return "slack:command:" + digest(*(str(command.get(f, "")) for f in fields))


@dataclass(frozen=True, slots=True)
class PollMeta:
    """Kept in the modal's private_metadata: which round and which DM message to update."""

    round_id: int
    k: int
    channel: str
    ts: str

    def encode(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def decode(cls, raw: str) -> PollMeta | None:
        """The metadata we wrote, or None for anything else: numbers out of range included,
        since ``k`` sets how many picks are read (a forged k of 10**8 hung the server)."""
        try:
            data = json.loads(raw)
            meta = cls(data["round_id"], data["k"], str(data["channel"]), str(data["ts"]))
        except (ValueError, TypeError, KeyError, RecursionError):
            return None
        return meta if meta._in_range() else None

    def _in_range(self) -> bool:
        def bounded(value: object, high: int) -> bool:
            return type(value) is int and 1 <= value <= high

        return bounded(self.round_id, MAX_ID) and bounded(self.k, MAX_ATTRIBUTES)

    def message(self, team_id: str) -> MessageRef:
        conversation = ConversationRef(workspace(team_id), self.channel, ConversationKind.DM)
        return MessageRef(conversation, self.ts)


def round_of_button(action: dict[str, Any]) -> int | None:
    try:
        round_id = json.loads(str(action.get("value", "")))["round_id"]
    except (ValueError, TypeError, KeyError, RecursionError):
        return None
    return round_id if type(round_id) is int and 1 <= round_id <= MAX_ID else None


def dig(data: Any, *path: str) -> Any:
    """``data[path[0]][path[1]]…``, or None as soon as a step is not a dict: signed payloads
    can still have any shape."""
    for name in path:
        if not isinstance(data, dict):
            return None
        data = data.get(name)
    return data


def read_ranking(values: dict[str, Any], k: int) -> tuple[tuple[str, ...], dict[str, str]]:
    """The picks best first, or errors keyed by block_id for ``response_action: errors``."""
    ranking: list[str] = []
    errors: dict[str, str] = {}
    for position in range(1, k + 1):
        block_id = render.rank_block_id(position)
        value = dig(values, block_id, render.CHOICE_ACTION, "selected_option", "value")
        if not value or not isinstance(value, str):
            errors[block_id] = f"Pick your {ordinal(position)} choice."
        elif value in ranking:
            earlier = ordinal(ranking.index(value) + 1)
            errors[block_id] = f"Already your {earlier} choice: pick a different one."
        else:
            ranking.append(str(value))
    return tuple(ranking), errors


def answer_event_id(view: dict[str, Any], ranking: tuple[str, ...]) -> str:
    """The same modal submitted twice with the same picks gives the same id (one answer)."""
    return f"slack:view:{view['id']}:{digest(*ranking)}"


@dataclass(frozen=True, slots=True)
class ResearchForm:
    text: str
    file: dict[str, Any] | None
    segment: str | None
    source: str | None


def read_research(values: dict[str, Any]) -> ResearchForm:
    def text_of(block_id: str) -> str:
        value = dig(values, block_id, block_id, "value")
        return value.strip() if isinstance(value, str) else ""

    files = dig(values, render.RESEARCH_FILE, render.RESEARCH_FILE, "files")
    first = files[0] if isinstance(files, list) and files and isinstance(files[0], dict) else None
    return ResearchForm(
        text=text_of(render.RESEARCH_TEXT),
        file=first,
        segment=text_of(render.RESEARCH_SEGMENT) or None,
        source=text_of(render.RESEARCH_SOURCE) or None,
    )
