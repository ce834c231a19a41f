"""Reading Bot Framework activities (camelCase JSON dicts) into our value types.

Pure functions over the wire format, so they outlive the SDK that delivers the activities.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

from bot.model.domain import ConversationKind, ConversationRef, UserRef, WorkspaceRef
from bot.model.names import MAX_ID
from bot.reports.render_text import ordinal

PLATFORM = "teams"
# The emulator and some test tools send no tenant; such activities share one workspace.
NO_TENANT = "default"

Json = dict[str, Any]


class MalformedActivity(ValueError):
    """The request body is not an activity we can act on (answered with 400)."""


# Teams ids ("29:1a…", "19:…@thread.tacv2;messageid=17…", "a:1…", "f:…") are a few hundred
# URL-safe characters at most.
MAX_REFERENCE_PART: Final = 8192  # bytes of JSON
_ID: Final = re.compile(r"[A-Za-z0-9:@._;=|+/,%-]{1,1024}")


def check_activity(body: object) -> Json:
    """The fields every activity we handle must carry; anything else is a 400, not a 500."""
    if not isinstance(body, dict):
        raise MalformedActivity("the body is not a JSON object")
    if not isinstance(body.get("type"), str) or not body["type"]:
        raise MalformedActivity("'type' is missing")
    service_url = body.get("serviceUrl")
    if not isinstance(service_url, str) or not service_url.startswith(("http://", "https://")):
        raise MalformedActivity("'serviceUrl' is missing or not an http(s) URL")
    for part in ("from", "conversation"):
        value = body.get(part)
        if not isinstance(value, dict) or not isinstance(value.get("id"), str) or not value["id"]:
            raise MalformedActivity(f"'{part}.id' is missing")
    for part in ("membersAdded", "membersRemoved", "attachments", "entities"):
        if part in body and body[part] is not None and not isinstance(body[part], list):
            raise MalformedActivity(f"'{part}' must be a list")
    _check_ids(body)
    _check_reference(body)
    return body


def _check_reference(body: Json) -> None:
    """What the SDK copies from an activity into every reply (the conversation reference)
    stays small: a 300 kB locale made each reply too big for the connector to take."""
    for part in ("from", "recipient", "conversation", "channelData"):
        if len(json.dumps(body.get(part))) > MAX_REFERENCE_PART:
            raise MalformedActivity(f"'{part}' is too large")
    for part in ("from", "recipient", "conversation"):
        # Accounts and conversations are flat records of text (and isGroup): the SDK's
        # models take nothing else when it builds the reply.
        fields = _dict(body.get(part)).values()
        if not all(value is None or isinstance(value, str | bool) for value in fields):
            raise MalformedActivity(f"'{part}' has a field that is not text")
    for part in ("locale", "channelId"):
        value = body.get(part)
        if value is not None and not (isinstance(value, str) and len(value) <= 64):
            raise MalformedActivity(f"'{part}' must be short text")


def _check_ids(body: Json) -> None:
    """Ids go into the connector's URLs when the bot replies: a megabyte of id, or one that
    is not text, would fail there (after the core had done its work) rather than here."""
    ids = {
        "id": body.get("id"),
        "replyToId": body.get("replyToId"),
        "from.id": body["from"]["id"],
        "conversation.id": body["conversation"]["id"],
        "recipient.id": _dict(body.get("recipient")).get("id"),
    }
    for name, value in ids.items():
        if value is not None and not (isinstance(value, str) and _ID.fullmatch(value)):
            raise MalformedActivity(f"'{name}' is not an id")


def _dict(value: object) -> Json:
    return value if isinstance(value, dict) else {}


def tenant_of(activity: Mapping[str, Any]) -> str:
    tenant = _dict(_dict(activity.get("channelData")).get("tenant")).get("id")
    tenant = tenant or _dict(activity.get("conversation")).get("tenantId")
    return str(tenant) if tenant else NO_TENANT


def workspace_of(activity: Mapping[str, Any]) -> WorkspaceRef:
    return WorkspaceRef(PLATFORM, tenant_of(activity))


def user_id_of(account: Mapping[str, Any]) -> str:
    """The Entra object id is stable across the tenant (and shared with Graph); the Teams
    member id ("29:…") differs per bot, so it is only a fallback."""
    return str(account.get("aadObjectId") or account.get("id") or "")


def sender_of(activity: Mapping[str, Any]) -> UserRef:
    sender = _dict(activity.get("from"))
    return UserRef(workspace_of(activity), user_id_of(sender), sender.get("name") or None)


def member_ref(workspace: WorkspaceRef, account: Mapping[str, Any]) -> UserRef:
    return UserRef(workspace, user_id_of(account), account.get("name") or None)


def is_personal(activity: Mapping[str, Any]) -> bool:
    conversation = _dict(activity.get("conversation"))
    return conversation.get("conversationType", "personal") == "personal" and not conversation.get(
        "isGroup"
    )


def base_conversation_id(conversation_id: str) -> str:
    """A reply in a channel thread arrives as "<channel>;messageid=<id>"; posts go to the channel."""
    return conversation_id.split(";messageid=", 1)[0]


def conversation_of(activity: Mapping[str, Any]) -> ConversationRef:
    conversation_id = base_conversation_id(str(_dict(activity.get("conversation"))["id"]))
    kind = ConversationKind.DM if is_personal(activity) else ConversationKind.CHANNEL
    return ConversationRef(workspace_of(activity), conversation_id, kind)


def team_id_of(activity: Mapping[str, Any]) -> str | None:
    team = _dict(_dict(activity.get("channelData")).get("team")).get("id")
    return str(team) if team else None


def channel_name_of(activity: Mapping[str, Any]) -> str | None:
    """A channel's display name: Teams puts it in channelData.channel (and sometimes on the
    conversation); the General channel may come without one."""
    channel = _dict(_dict(activity.get("channelData")).get("channel"))
    name = channel.get("name") or _dict(activity.get("conversation")).get("name")
    return str(name) if name else None


def bot_id_of(activity: Mapping[str, Any]) -> str:
    return str(_dict(activity.get("recipient")).get("id") or "")


def members(activity: Mapping[str, Any], field: str) -> list[Json]:
    return [m for m in activity.get(field) or [] if isinstance(m, dict)]


def includes_bot(activity: Mapping[str, Any], field: str) -> bool:
    bot = bot_id_of(activity)
    return any(m.get("id") == bot for m in members(activity, field))


_MENTION = re.compile(r"<at>(.*?)</at>", re.IGNORECASE | re.DOTALL)
_PREFIX = re.compile(r"^/?alignment\b[:,]?\s*", re.IGNORECASE)


def command_text(text: str, activity: Mapping[str, Any] | None = None) -> str:
    """ "<at>Alignment</at> teams members x add <at>Carol</at>" -> "teams members x add
    <@29:…>": the bot's own mention goes, every other `<at>` becomes the id its mention entity
    names (a channel id "19:…" as `<#…>`), or the typed name when no entity says more."""
    entities = mention_entities(activity or {})
    bot = bot_id_of(activity or {})

    def rewrite(match: re.Match[str]) -> str:
        waiting = entities.get(match.group(0)) or []
        mentioned = waiting.pop(0) if waiting else None
        if mentioned is None:
            # No entity (e.g. pasted text): a leading mention is the bot, others plain names.
            return " " if match.start() == 0 else f'"@{match.group(1).strip()}"'
        mentioned_id = str(mentioned.get("id") or "")
        if not mentioned_id or mentioned_id == bot:
            return " "
        sigil = "#" if mentioned_id.startswith("19:") else "@"
        return f"<{sigil}{mentioned_id}>"

    text = _MENTION.sub(rewrite, text.replace("&nbsp;", " "))
    text = " ".join(text.split())
    return _PREFIX.sub("", text).strip()


def mention_entities(activity: Mapping[str, Any]) -> dict[str, list[Json]]:
    """The `mentioned` accounts of the mention entities, in order, by the `<at>…</at>` text
    they cover."""
    found: dict[str, list[Json]] = {}
    for entity in activity.get("entities") or []:
        if isinstance(entity, dict) and entity.get("type") == "mention":
            mentioned = entity.get("mentioned")
            if isinstance(mentioned, dict) and isinstance(entity.get("text"), str):
                found.setdefault(entity["text"], []).append(mentioned)
    return found


def submit_data(activity: Mapping[str, Any]) -> Json | None:
    """Card submissions: Action.Submit arrives as a message whose ``value`` holds the data and
    inputs; Action.Execute as an ``adaptiveCard/action`` invoke with them under ``action.data``."""
    if activity.get("type") == "message":
        value = activity.get("value")
        return value if isinstance(value, dict) else None
    if activity.get("type") == "invoke" and activity.get("name") == "adaptiveCard/action":
        action = _dict(_dict(activity.get("value")).get("action"))
        data = dict(_dict(action.get("data")))
        if "action" not in data and action.get("verb"):
            data["action"] = action["verb"]
        return data
    return None


def parse_ranking(data: Mapping[str, Any], valid: set[str], k: int) -> tuple[str, ...]:
    """The picks in rank order; unknown values count as empty."""
    picks: list[str] = []
    for rank in range(1, k + 1):
        value = str(data.get(f"rank_{rank}") or "").strip()
        picks.append(value if value in valid else "")
    return tuple(picks)


def ranking_problem(picks: tuple[str, ...], labels: Mapping[str, str]) -> str | None:
    """Why a ranking cannot be accepted, phrased for the person; None when it is fine."""
    missing = [i for i, pick in enumerate(picks, 1) if not pick]
    if missing:
        ranks = ", ".join(ordinal(i) for i in missing)
        return f"Please choose something for every rank (missing: {ranks})."
    seen: set[str] = set()
    for pick in picks:
        if pick in seen:
            return f"“{labels.get(pick, pick)}” is chosen more than once: pick {len(picks)} different ones."
        seen.add(pick)
    return None


def round_id_of(data: Mapping[str, Any]) -> int | None:
    """The card's round id, if it is one the database could hold (a submitted card's data
    can be anything: ``Infinity`` would overflow, 10**30 overflow the driver)."""
    try:
        round_id = int(data.get("round_id"))  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return None
    return round_id if 1 <= round_id <= MAX_ID else None
