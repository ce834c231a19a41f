"""Channels, people and user groups named in a command, checked with Slack.

Mentions picked from Slack's menus arrive as ids (`<#C…|name>`, `<@U…>`, `<!subteam^S…>`) and
are confirmed with conversations.info, users.info and usergroups.list. Names typed by hand
(`#sales`, `@Carol`, `@leads`) are found in conversations.list, users.list and usergroups.list,
read once and kept for a few minutes per workspace (those lists are Tier 2: about 20 calls a
minute). Several matches or none get a message saying how to pick from Slack's own menu.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any, Final

from adapters.slack.client import SlackApi
from bot.model.domain import WorkspaceRef
from bot.model.ports import DeliveryError, Mention, RefKind, Resolved, UnknownReference

LIST_TTL_SECONDS: Final = 300.0
PAGE_SIZE: Final = 200  # Slack recommends no more than 200 results a page
# Slack ids are upper case; channel names never are, and a user typed as an id-like word is
# tried as a name when no such id exists.
_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")

Row = dict[str, Any]


async def read_pages(
    api: SlackApi, team: str, method: str, key: str, *, limit: bool = True, **params: Any
) -> list[Any]:
    """Every page of a cursor-paginated method, concatenated."""
    items: list[Any] = []
    cursor = ""
    while True:
        page_params = {**params, "limit": PAGE_SIZE} if limit else dict(params)
        if cursor:
            page_params["cursor"] = cursor
        data = await api.call(team, method, **page_params)
        items.extend(data.get(key) or [])
        cursor = str((data.get("response_metadata") or {}).get("next_cursor") or "")
        if not cursor:
            return items


class SlackDirectory:
    def __init__(
        self,
        api: SlackApi,
        *,
        ttl: float = LIST_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._api = api
        self._ttl = ttl
        self._clock = clock
        self._lists: dict[tuple[str, str], tuple[float, list[Row]]] = {}

    async def resolve(self, workspace: WorkspaceRef, mention: Mention) -> Resolved:
        team = workspace.external_id
        if mention.kind is RefKind.CHANNEL:
            return await self._channel(team, mention)
        if mention.kind is RefKind.PERSON:
            return await self._person(team, mention)
        return await self._group(team, mention)

    # --- channels -------------------------------------------------------------------------

    async def _channel(self, team: str, mention: Mention) -> Resolved:
        if mention.is_id or _CHANNEL_ID.match(mention.text):
            found = await self._channel_by_id(team, mention.text)
            if found is not None or mention.is_id:
                return _checked(found, _no_channel_id(mention.text))
        wanted = mention.text.lower()
        channels = await self._list(team, "conversations.list")
        matches = [c for c in channels if str(c.get("name", "")).lower() == wanted]
        return _checked(_row(matches[0]) if matches else None, _no_channel_name(mention.text))

    async def _channel_by_id(self, team: str, channel_id: str) -> Resolved | None:
        try:
            data = await self._api.call(team, "conversations.info", channel=channel_id)
        except DeliveryError as error:
            if error.code in ("channel_not_found", "not_in_channel"):
                return None
            raise
        return _row(data["channel"])

    # --- people ---------------------------------------------------------------------------

    async def _person(self, team: str, mention: Mention) -> Resolved:
        if mention.is_id or _USER_ID.match(mention.text):
            found = await self._person_by_id(team, mention.text)
            if found is not None or mention.is_id:
                return _checked(found, _no_person_id(mention.text))
        members = await self._list(team, "users.list")
        matches = [m for m in members if _is_person(m) and _named(m, mention.text)]
        if len(matches) > 1:
            raise UnknownReference(_several_people(mention.text, matches))
        return _checked(_person_row(matches[0]) if matches else None, _no_person(mention.text))

    async def _person_by_id(self, team: str, user_id: str) -> Resolved | None:
        try:
            data = await self._api.call(team, "users.info", user=user_id)
        except DeliveryError as error:
            if error.code in ("user_not_found", "user_not_visible"):
                return None
            raise
        member = data["user"]
        return _person_row(member) if _is_person(member) else None

    # --- user groups ----------------------------------------------------------------------

    async def _group(self, team: str, mention: Mention) -> Resolved:
        groups = await self._list(team, "usergroups.list")
        wanted = mention.text.lower()
        by_id = [g for g in groups if g.get("id") == mention.text]
        by_name = [
            g
            for g in groups
            if wanted in (str(g.get("handle", "")).lower(), str(g.get("name", "")).lower())
        ]
        matches = by_id or ([] if mention.is_id else by_name)
        found = (
            Resolved(str(matches[0]["id"]), str(matches[0].get("handle") or ""))
            if matches
            else None
        )
        return _checked(found, _no_group(mention))

    # --- cached lists ---------------------------------------------------------------------

    async def _list(self, team: str, method: str) -> list[Row]:
        cached = self._lists.get((team, method))
        if cached is not None and cached[0] > self._clock():
            return cached[1]
        rows = await self._read(team, method)
        self._lists[(team, method)] = (self._clock() + self._ttl, rows)
        return rows

    async def _read(self, team: str, method: str) -> list[Row]:
        if method == "conversations.list":
            return await read_pages(
                self._api,
                team,
                "conversations.list",
                "channels",
                types="public_channel,private_channel",
                exclude_archived=True,
            )
        if method == "usergroups.list":
            # Not paginated; disabled groups cannot be mentioned, so they are left out.
            data = await self._api.call(team, "usergroups.list")
            return [g for g in data.get("usergroups") or [] if not g.get("date_delete")]
        return await read_pages(self._api, team, "users.list", "members")


def _checked(found: Resolved | None, problem: str) -> Resolved:
    if found is None:
        raise UnknownReference(problem)
    return found


def _row(channel: Row) -> Resolved:
    return Resolved(str(channel["id"]), str(channel.get("name") or channel["id"]))


def _is_person(member: Row) -> bool:
    return not (member.get("deleted") or member.get("is_bot") or member.get("is_app_user"))


def _names(member: Row) -> list[str]:
    profile = member.get("profile") or {}
    names = (profile.get("display_name"), profile.get("real_name"), member.get("real_name"))
    return [str(n) for n in (*names, member.get("name")) if n]


def _named(member: Row, typed: str) -> bool:
    wanted = typed.casefold()
    return any(name.casefold() == wanted for name in _names(member))


def _person_row(member: Row) -> Resolved:
    names = _names(member)
    return Resolved(str(member["id"]), names[0] if names else str(member["id"]))


# --- messages, in Slack's words -------------------------------------------------------------

PICK_PERSON: Final = "type @ and pick the person from Slack's mention menu"


def _no_channel_id(channel_id: str) -> str:
    return (
        f"I cannot see channel {channel_id}: it does not exist, or it is private and I am "
        "not in it (invite me with /invite in that channel first)."
    )


def _no_channel_name(name: str) -> str:
    return (
        f"I cannot find a channel called #{name}. Type # and pick the channel from Slack's "
        "list; for a private channel, invite me to it first (/invite in that channel)."
    )


def _no_person_id(user_id: str) -> str:
    return f"There is no active person with the id {user_id} in this workspace."


def _no_person(name: str) -> str:
    return f"No one in this workspace is called @{name}: {PICK_PERSON}."


def _several_people(name: str, matches: list[Row]) -> str:
    shown = ", ".join(sorted(" / ".join(dict.fromkeys(_names(m))) for m in matches)[:5])
    return f"{len(matches)} people are called @{name} ({shown}): {PICK_PERSON} to choose one."


def _no_group(mention: Mention) -> str:
    named = mention.text if mention.is_id else f"@{mention.text}"
    return (
        f"There is no user group {named} in this workspace. Type @ and pick the group from "
        "Slack's mention menu (user groups are listed under People → User groups)."
    )
