"""Channels and people named in a Teams command, checked against what the bot knows.

Teams has no workspace-wide directory call without Microsoft Graph, so a mention is checked
against the adapter's own records: the people met on install, in a team roster or in a chat,
and the channels the bot is installed in. An `<at>` mention arrives with the person's or
channel's id (the inbound handler rewrites it); a plain name is matched against those records.
"""

from __future__ import annotations

from typing import Final

from adapters.teams.records import TeamsRecords
from bot.model.domain import ConversationKind, ConversationRef, WorkspaceRef
from bot.model.ports import Mention, RefKind, Resolved, UnknownReference

PICK_PERSON: Final = "type @ and pick the person from Teams' list"


class TeamsDirectory:
    def __init__(self, records: TeamsRecords) -> None:
        self._records = records

    async def resolve(self, workspace: WorkspaceRef, mention: Mention) -> Resolved:
        if mention.kind is RefKind.PERSON:
            return await self._person(workspace, mention)
        if mention.kind is RefKind.CHANNEL:
            return await self._channel(workspace, mention)
        raise UnknownReference(
            "Teams has no user groups here: add a team with 'teams add \"NAME\"' and its "
            "members with 'teams members \"NAME\" add @PERSON'."
        )

    async def _person(self, workspace: WorkspaceRef, mention: Mention) -> Resolved:
        people = await self._records.people(workspace)
        by_id = [
            (user_id, row)
            for user_id, row in people
            if mention.text in (user_id, row.get("member_id"), row.get("aad_object_id"))
        ]
        wanted = mention.text.casefold()
        by_name = [(u, row) for u, row in people if str(row.get("name") or "").casefold() == wanted]
        matches = by_id or ([] if mention.is_id else by_name)
        if len(matches) > 1:
            names = ", ".join(sorted(str(row.get("name")) for _, row in matches)[:5])
            raise UnknownReference(
                f"{len(matches)} people are called {mention.text} ({names}): {PICK_PERSON} "
                "to choose one."
            )
        if not matches:
            raise UnknownReference(
                f"I do not know anyone called {mention.text}: {PICK_PERSON} (they must be in a "
                "team where I am installed, or have chatted with me)."
            )
        user_id, row = matches[0]
        return Resolved(user_id, str(row.get("name") or user_id))

    async def _channel(self, workspace: WorkspaceRef, mention: Mention) -> Resolved:
        conversation = ConversationRef(workspace, mention.text, ConversationKind.CHANNEL)
        row = await self._records.channel(conversation)
        if row is not None:
            return Resolved(mention.text, str(row.get("name") or mention.text))
        if not mention.is_id:
            wanted = mention.text.casefold()
            for conversation_id, found in await self._records.channels(workspace):
                if str(found.get("name") or "").casefold() == wanted:
                    return Resolved(conversation_id, str(found["name"]))
        raise UnknownReference(
            f"I am not in a channel called {mention.text}: install me in its team, then run "
            "the command in that channel (or @mention the channel)."
        )
