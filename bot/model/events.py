"""Typed inbound events: every platform event an adapter hands to the core becomes one of these.

Each carries the platform's own event id so the core can drop a retried or doubled delivery.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.model.domain import ConversationRef, MessageRef, UserRef
from bot.model.views import HelpView, PollView, ReportView


@dataclass(frozen=True, slots=True)
class CommandInvoked:
    event_id: str
    user: UserRef
    text: str  # everything after "/alignment", e.g. "report team:sales"
    conversation: ConversationRef | None = None
    user_is_platform_admin: bool = False  # Slack workspace admins / Teams tenant admins


@dataclass(frozen=True, slots=True)
class AnswerSubmitted:
    event_id: str
    user: UserRef
    round_id: int
    ranking: tuple[str, ...]  # PollOption values, best first
    message: MessageRef | None = None  # the poll message, to update it in place


@dataclass(frozen=True, slots=True)
class ResearchSubmitted:
    """A research file pasted or uploaded through a platform dialog."""

    event_id: str
    user: UserRef
    text: str
    filename: str | None = None
    segment: str | None = None
    source: str | None = None
    user_is_platform_admin: bool = False


@dataclass(frozen=True, slots=True)
class PersonSeen:
    """The bot learnt of a person (install, first message, member list)."""

    user: UserRef
    is_platform_admin: bool = False


class CommandEffect(StrEnum):
    NONE = "none"
    OPEN_RESEARCH_IMPORT = "open_research_import"  # the adapter shows its import dialog
    REPLAYED = "replayed"  # this very invocation ran before: the adapter says nothing


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What a command answers to the person who ran it.

    ``in_channel`` asks the adapter to post the reply (and report, if any) visibly to the
    conversation the command came from instead of privately to the caller.

    With a ``report``, ``text`` is the whole answer in plain words for text-only clients (the
    console); chat adapters show ``note`` and render the report themselves, as one message.
    """

    text: str
    ok: bool = True
    in_channel: bool = False
    effect: CommandEffect = CommandEffect.NONE
    report: ReportView | None = None
    note: str = ""  # with a report: the sentence shown above it, e.g. "Round 3 is closed."
    help: HelpView | None = None  # for chat adapters to render; ``text`` is the console's


class AnswerStatus(StrEnum):
    RECORDED = "recorded"
    REPLACED = "replaced"
    DUPLICATE = "duplicate"  # the same event delivered twice: nothing changed
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class AnswerOutcome:
    status: AnswerStatus
    message: str
    poll: PollView | None = None  # what the poll message should show after this outcome

    @property
    def accepted(self) -> bool:
        return self.status in (AnswerStatus.RECORDED, AnswerStatus.REPLACED, AnswerStatus.DUPLICATE)
