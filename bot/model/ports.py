"""The ports: what the core needs from a chat platform and what adapters may call on the core.

Adapters implement ``ChatPort`` and call ``CoreApi``; the core depends only on these protocols,
so Slack, Teams and the console adapter are interchangeable and testable against each other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from aiohttp import web

from bot.model.domain import AudienceSource, ConversationRef, MessageRef, UserRef, WorkspaceRef
from bot.model.events import (
    AnswerOutcome,
    AnswerSubmitted,
    CommandInvoked,
    CommandResult,
    PersonSeen,
    ResearchSubmitted,
)
from bot.model.views import HomeView, PollView, ReportView


@dataclass(frozen=True, slots=True)
class Capabilities:
    ephemeral: bool = True  # Teams has no ephemeral messages
    dialogs: bool = True  # modals / task modules for research import
    images: bool = True  # can show the chart


@dataclass(frozen=True, slots=True)
class UserProfile:
    user: UserRef
    display_name: str
    time_zone: str | None = None  # IANA name
    is_platform_admin: bool = False
    is_bot: bool = False


class DeliveryError(Exception):
    """A send failed. ``retryable`` failures (rate limits, 5xx, timeouts) may be tried again."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        code: str = "",
    ):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.code = code  # the platform's own error name (e.g. Slack's "channel_not_found")


class RefKind(StrEnum):
    """What a command argument names on the platform."""

    CHANNEL = "channel"
    PERSON = "person"
    GROUP = "group"  # a platform user group (Slack's @handle groups)


@dataclass(frozen=True, slots=True)
class Mention:
    """A channel, person or group as it arrived in a command: either the platform's escaped
    form (an id the client inserted) or a name the person typed."""

    kind: RefKind
    text: str  # the id, or the typed name without its leading '#' or '@'
    is_id: bool = False


@dataclass(frozen=True, slots=True)
class Resolved:
    """A mention the platform confirmed: its id (what we store) and a label to show."""

    id: str
    label: str


class UnknownReference(Exception):
    """A mention the platform does not know, or knows several of. The message is written by
    the adapter, in its platform's words, and says how to name the thing so it is found."""


class ChatPort(Protocol):
    """Outbound operations on one chat platform."""

    @property
    def platform(self) -> str: ...

    @property
    def capabilities(self) -> Capabilities: ...

    async def open_dm(self, user: UserRef) -> ConversationRef: ...

    # ``key`` is the outbox's id for the message: a port that can look messages up later
    # (see bot.rounds.outbox.ConfirmsDelivery) attaches it, so a crash mid-send is not sent twice.
    async def post_text(
        self, conversation: ConversationRef, text: str, *, key: str | None = None
    ) -> MessageRef: ...

    async def send_poll(
        self, conversation: ConversationRef, poll: PollView, *, key: str | None = None
    ) -> MessageRef: ...

    async def update_poll(self, message: MessageRef, poll: PollView) -> None: ...

    async def post_report(
        self, conversation: ConversationRef, report: ReportView, *, key: str | None = None
    ) -> MessageRef: ...

    async def post_ephemeral(
        self, conversation: ConversationRef, user: UserRef, text: str
    ) -> None: ...

    async def lookup_user(self, user: UserRef) -> UserProfile: ...

    async def members(self, workspace: WorkspaceRef, source: AudienceSource) -> Sequence[UserRef]:
        """Everyone in a channel or user group, all pages read."""
        ...

    async def resolve(self, workspace: WorkspaceRef, mention: Mention) -> Resolved:
        """The platform id behind a mention, checked with the platform now (so a bad name is
        refused when typed, not when a schedule fires); raises ``UnknownReference``."""
        ...


class CoreApi(Protocol):
    """What adapters call. Every method is safe to call twice with the same event id."""

    async def handle_command(self, event: CommandInvoked) -> CommandResult: ...

    async def submit_answer(self, event: AnswerSubmitted) -> AnswerOutcome: ...

    async def submit_research(self, event: ResearchSubmitted) -> CommandResult: ...

    async def poll_for(self, user: UserRef, round_id: int) -> PollView | None: ...

    async def home_for(self, user: UserRef) -> HomeView: ...

    async def person_seen(self, event: PersonSeen) -> None: ...

    async def role_of(self, user: UserRef, *, is_platform_admin: bool = False) -> str: ...


class PlatformRecords(Protocol):
    """A small keyed JSON store for an adapter's own data (installations, conversation
    references), kept in our database so it survives restarts and is shared by replicas."""

    async def put(self, platform: str, kind: str, key: str, value: Mapping[str, Any]) -> None: ...

    async def put_first(
        self, platform: str, kind: str, key: str, value: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Store ``value`` unless the key has one; returns the stored value, which is the
        same for every replica racing to create it (a shared secret, say)."""
        ...

    async def get(self, platform: str, kind: str, key: str) -> dict[str, Any] | None: ...

    async def delete(self, platform: str, kind: str, key: str) -> None: ...

    async def find(
        self, platform: str, kind: str, prefix: str = ""
    ) -> list[tuple[str, dict[str, Any]]]: ...

    async def claim_events(self, event_ids: Sequence[str], kind: str) -> set[str]:
        """Claim the ids at once; those seen for the first time (on any replica)."""
        ...

    async def prune_events(self, kind: str, *, older_than_seconds: float) -> None:
        """Forget the claims of ``kind`` older than that (they can no longer repeat)."""
        ...


class ChatAdapter(Protocol):
    """One chat platform plugged into the server: its outbound port plus its inbound routes."""

    @property
    def port(self) -> ChatPort: ...

    def add_routes(self, app: web.Application) -> None:
        """Register the platform's HTTP endpoints (e.g. POST /slack/events) on the shared app."""
        ...

    async def start(self) -> None:
        """Begin background work that is not HTTP (e.g. a Socket Mode connection)."""
        ...

    async def stop(self) -> None: ...
