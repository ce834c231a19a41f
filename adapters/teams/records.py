"""What the Teams adapter keeps in PlatformRecords so it can post after a restart.

Teams lets a bot message a conversation only with a conversation reference learnt from an
install or an inbound message (service URL, conversation id, bot id). They are stored as JSON:

* kind ``conversation``: ``conv:<tenant>:<conversation id>`` for every chat and channel the
  bot is in, and ``dm:<tenant>:<user id>`` for each person's 1:1 with the bot;
* kind ``team``: ``<tenant>:<team id>`` with the team's General channel reference, to list
  the roster and to open 1:1s with members who never talked to the bot;
* kind ``person``: ``<tenant>:<user id>`` with the Teams member id and name.
"""

from __future__ import annotations

from typing import Any

from adapters.teams.activities import PLATFORM
from bot.model.domain import ConversationKind, ConversationRef, UserRef, WorkspaceRef
from bot.model.ports import PlatformRecords

Json = dict[str, Any]
CONVERSATION = "conversation"
TEAM = "team"
PERSON = "person"


def conversation_key(workspace: WorkspaceRef, conversation_id: str) -> str:
    return f"conv:{workspace.external_id}:{conversation_id}"


def dm_key(user: UserRef) -> str:
    return f"dm:{user.workspace.external_id}:{user.user_id}"


def team_key(workspace: WorkspaceRef, team_id: str) -> str:
    return f"{workspace.external_id}:{team_id}"


def person_key(user: UserRef) -> str:
    return f"{user.workspace.external_id}:{user.user_id}"


class TeamsRecords:
    """Typed access to the adapter's rows in PlatformRecords."""

    def __init__(self, records: PlatformRecords) -> None:
        self._records = records

    async def remember_conversation(
        self,
        conversation: ConversationRef,
        reference: Json,
        *,
        team_id: str | None = None,
        user: UserRef | None = None,
        name: str | None = None,
    ) -> bool:
        """Store (or refresh) a reference; True when the conversation was not known before."""
        key = conversation_key(conversation.workspace, conversation.conversation_id)
        value: Json = {"reference": reference, "kind": str(conversation.kind), "team_id": team_id}
        if user is not None:
            value["user_id"] = user.user_id
        known = await self._records.get(PLATFORM, CONVERSATION, key)
        # A channel's name, so commands can name it; not every activity repeats it.
        name = name or (known or {}).get("name")
        if name:
            value["name"] = name
        if known != value:
            await self._records.put(PLATFORM, CONVERSATION, key, value)
        if user is not None and conversation.kind is ConversationKind.DM:
            dm = {"reference": reference, "conversation_id": conversation.conversation_id}
            if await self._records.get(PLATFORM, CONVERSATION, dm_key(user)) != dm:
                await self._records.put(PLATFORM, CONVERSATION, dm_key(user), dm)
        return known is None

    async def conversation_reference(self, conversation: ConversationRef) -> Json | None:
        key = conversation_key(conversation.workspace, conversation.conversation_id)
        row = await self._records.get(PLATFORM, CONVERSATION, key)
        return row["reference"] if row else None

    async def channel(self, conversation: ConversationRef) -> Json | None:
        """The stored row (reference, kind, name) of a conversation the bot is in."""
        key = conversation_key(conversation.workspace, conversation.conversation_id)
        return await self._records.get(PLATFORM, CONVERSATION, key)

    async def channels(self, workspace: WorkspaceRef) -> list[tuple[str, Json]]:
        """(conversation id, stored row) of every channel the bot is in."""
        prefix = f"conv:{workspace.external_id}:"
        rows = await self._records.find(PLATFORM, CONVERSATION, prefix)
        kind = str(ConversationKind.CHANNEL)
        return [(key[len(prefix) :], row) for key, row in rows if row["kind"] == kind]

    async def dm(self, user: UserRef) -> Json | None:
        return await self._records.get(PLATFORM, CONVERSATION, dm_key(user))

    async def forget_dm(self, user: UserRef) -> None:
        await self._records.delete(PLATFORM, CONVERSATION, dm_key(user))

    async def forget_conversation(self, workspace: WorkspaceRef, conversation_id: str) -> None:
        key = conversation_key(workspace, conversation_id)
        row = await self._records.get(PLATFORM, CONVERSATION, key)
        await self._records.delete(PLATFORM, CONVERSATION, key)
        if row and row.get("user_id"):
            user = UserRef(workspace, str(row["user_id"]))
            await self._records.delete(PLATFORM, CONVERSATION, dm_key(user))

    async def remember_team(self, workspace: WorkspaceRef, team_id: str, reference: Json) -> None:
        await self._records.put(
            PLATFORM, TEAM, team_key(workspace, team_id), {"reference": reference}
        )

    async def forget_team(self, workspace: WorkspaceRef, team_id: str) -> None:
        """Uninstalling from a team removes the bot from all its channels."""
        await self._records.delete(PLATFORM, TEAM, team_key(workspace, team_id))
        prefix = f"conv:{workspace.external_id}:"
        for key, row in await self._records.find(PLATFORM, CONVERSATION, prefix):
            if row.get("team_id") == team_id:
                await self._records.delete(PLATFORM, CONVERSATION, key)

    async def teams(self, workspace: WorkspaceRef) -> list[tuple[str, Json]]:
        prefix = f"{workspace.external_id}:"
        rows = await self._records.find(PLATFORM, TEAM, prefix)
        return [(key[len(prefix) :], row["reference"]) for key, row in rows]

    async def remember_person(self, user: UserRef, details: Json) -> None:
        key = person_key(user)
        current = await self._records.get(PLATFORM, PERSON, key) or {}
        merged = {**current, **{k: v for k, v in details.items() if v}}
        if merged != current:
            await self._records.put(PLATFORM, PERSON, key, merged)

    async def person(self, user: UserRef) -> Json | None:
        return await self._records.get(PLATFORM, PERSON, person_key(user))

    async def people(self, workspace: WorkspaceRef) -> list[tuple[str, Json]]:
        prefix = f"{workspace.external_id}:"
        rows = await self._records.find(PLATFORM, PERSON, prefix)
        return [(key[len(prefix) :], row) for key, row in rows]
