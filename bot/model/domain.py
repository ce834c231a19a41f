"""Value types that cross the port between the core and the chat adapters.

They are plain frozen dataclasses with a stable string form (``key``), so an adapter can put
them in a button value or a database column and get the same object back later.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    EMPLOYEE = "employee"

    @property
    def rank(self) -> int:
        return {Role.EMPLOYEE: 0, Role.MANAGER: 1, Role.ADMIN: 2}[self]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


class ConversationKind(StrEnum):
    DM = "dm"
    CHANNEL = "channel"


@dataclass(frozen=True, slots=True)
class WorkspaceRef:
    """One chat workspace (a Slack team, a Teams tenant, a console workspace)."""

    platform: str
    external_id: str

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.external_id}"


@dataclass(frozen=True, slots=True)
class UserRef:
    workspace: WorkspaceRef
    user_id: str
    display_name: str | None = None

    @property
    def key(self) -> str:
        return f"{self.workspace.key}:{self.user_id}"

    def __eq__(self, other: object) -> bool:
        # The display name is a label, not part of the identity.
        return isinstance(other, UserRef) and other.key == self.key

    def __hash__(self) -> int:
        return hash(self.key)


@dataclass(frozen=True, slots=True)
class ConversationRef:
    workspace: WorkspaceRef
    conversation_id: str
    kind: ConversationKind = ConversationKind.CHANNEL

    @property
    def key(self) -> str:
        return f"{self.workspace.key}:{self.conversation_id}"


@dataclass(frozen=True, slots=True)
class MessageRef:
    """What posting returns, so a poll can later be updated in place."""

    conversation: ConversationRef
    message_id: str


class AudienceKind(StrEnum):
    TEAM = "team"  # one of our own named teams
    CHANNEL = "channel"  # everyone in a chat channel
    USERGROUP = "usergroup"  # a platform user group (Slack)
    EVERYONE = "everyone"  # every known person in the workspace


@dataclass(frozen=True, slots=True)
class AudienceSource:
    kind: AudienceKind
    ref: str = ""

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.ref}"
