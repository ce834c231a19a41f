"""The console platform: a local workspace whose "chat" is an inbox kept in the database.

Messages to a person are stored as records, so `alignment chat --as ann` shows Ann what was
sent to her even if it was sent by another process (the demo, or Bob's session).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapters.console.escape import terminal_text
from bot.model.domain import (
    AudienceKind,
    AudienceSource,
    ConversationKind,
    ConversationRef,
    MessageRef,
    UserRef,
    WorkspaceRef,
)
from bot.model.ports import (
    Capabilities,
    DeliveryError,
    Mention,
    PlatformRecords,
    RefKind,
    Resolved,
    UnknownReference,
    UserProfile,
)
from bot.model.views import PollView, ReportView
from bot.reports.render_text import render_poll_text, render_report_text

PLATFORM = "console"
LOCAL_WORKSPACE = WorkspaceRef(PLATFORM, "local")
ANSWER_SYNTAX = "answer {round} {picks}"


@dataclass(frozen=True, slots=True)
class InboxMessage:
    key: str
    conversation_id: str
    text: str
    poll_round: int | None = None


class ConsolePort:
    """ChatPort for the console. Reports also write their chart into ``chart_dir``."""

    def __init__(self, *, records: PlatformRecords, chart_dir: Path | None = None) -> None:
        self._records = records
        self._chart_dir = chart_dir
        self._sequence = itertools.count()

    @property
    def platform(self) -> str:
        return PLATFORM

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(ephemeral=True, dialogs=False, images=self._chart_dir is not None)

    async def open_dm(self, user: UserRef) -> ConversationRef:
        return ConversationRef(user.workspace, f"dm:{user.user_id}", ConversationKind.DM)

    async def post_text(
        self, conversation: ConversationRef, text: str, *, key: str | None = None
    ) -> MessageRef:
        return await self._store(conversation, {"text": text})

    async def send_poll(
        self, conversation: ConversationRef, poll: PollView, *, key: str | None = None
    ) -> MessageRef:
        text = render_poll_text(poll, ANSWER_SYNTAX)
        return await self._store(conversation, {"text": text, "poll_round": poll.round_id})

    async def update_poll(self, message: MessageRef, poll: PollView) -> None:
        key = _record_key(message.conversation, message.message_id)
        found = await self._records.get(PLATFORM, "inbox", key)
        if found is None:
            raise DeliveryError(f"no console message {message.message_id}", retryable=False)
        found["text"] = render_poll_text(poll, ANSWER_SYNTAX)
        await self._records.put(PLATFORM, "inbox", key, found)

    async def post_report(
        self, conversation: ConversationRef, report: ReportView, *, key: str | None = None
    ) -> MessageRef:
        text = render_report_text(report)
        if report.chart_png and self._chart_dir is not None:
            self._chart_dir.mkdir(parents=True, exist_ok=True)
            path = self._chart_dir / f"chart-{_chart_stem(report)}.png"
            path.write_bytes(report.chart_png)
            text += f"\n\nChart: {path}"
        return await self._store(conversation, {"text": text})

    async def post_ephemeral(self, conversation: ConversationRef, user: UserRef, text: str) -> None:
        await self.post_text(await self.open_dm(user), text)

    async def lookup_user(self, user: UserRef) -> UserProfile:
        return UserProfile(user, user.display_name or user.user_id)

    async def members(self, workspace: WorkspaceRef, source: AudienceSource) -> Sequence[UserRef]:
        if source.kind is not AudienceKind.CHANNEL:
            raise DeliveryError(f"the console has no {source.kind.value} lists", retryable=False)
        found = await self._records.find(PLATFORM, "channel_member", f"{source.ref}:")
        return [UserRef(workspace, value["user_id"], value["user_id"]) for _, value in found]

    async def resolve(self, workspace: WorkspaceRef, mention: Mention) -> Resolved:
        """Console people and channels are named by their ids ("ann", "general"); there are
        no user groups."""
        if mention.kind is RefKind.GROUP:
            raise UnknownReference("The console has no user groups; use a team instead.")
        return Resolved(mention.text, mention.text)

    async def inbox(self, conversation: ConversationRef) -> list[InboxMessage]:
        rows = await self._records.find(PLATFORM, "inbox", f"{conversation.key}|")
        return [_inbox_message(key, value) for key, value in rows]

    async def _store(self, conversation: ConversationRef, value: dict[str, Any]) -> MessageRef:
        # Time first so the inbox lists in send order; the counter splits equal instants.
        message_id = f"{time.time_ns():020d}-{next(self._sequence):06d}"
        value = {
            **value,
            "text": terminal_text(str(value["text"])),  # what the terminal will print
            "conversation_id": conversation.conversation_id,
        }
        await self._records.put(PLATFORM, "inbox", _record_key(conversation, message_id), value)
        return MessageRef(conversation, message_id)


def _record_key(conversation: ConversationRef, message_id: str) -> str:
    return f"{conversation.key}|{message_id}"


def _inbox_message(key: str, value: dict[str, Any]) -> InboxMessage:
    poll = value.get("poll_round")
    return InboxMessage(
        key, str(value["conversation_id"]), str(value["text"]), int(poll) if poll else None
    )


def _chart_stem(report: ReportView) -> str:
    """One file per report scope, so a team's or a segment's chart never overwrites another."""
    parts = [_slug(report.round_label)]
    if report.team:
        parts.append(f"team-{_slug(report.team)}")
    if report.segment:
        parts.append(f"segment-{_slug(report.segment)}")
    return "--".join(parts)


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-")
