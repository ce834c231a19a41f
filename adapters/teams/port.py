"""Outbound: the ChatPort for Teams, sending proactively through stored conversation references."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from adapters.teams import cards
from adapters.teams.activities import PLATFORM, member_ref
from adapters.teams.bridge import Json, LazyBridge
from adapters.teams.charts import ChartHost
from adapters.teams.directory import TeamsDirectory
from adapters.teams.escape import message_text
from adapters.teams.images import shrink_png
from adapters.teams.records import TeamsRecords
from bot.model.domain import (
    AudienceKind,
    AudienceSource,
    ConversationKind,
    ConversationRef,
    MessageRef,
    UserRef,
    WorkspaceRef,
)
from bot.model.ports import Capabilities, DeliveryError, Mention, Resolved, UserProfile
from bot.model.views import PollView, ReportView
from bot.reports.render_text import render_report_fallback

if TYPE_CHECKING:
    from adapters.teams.sdk import Turn

log = logging.getLogger(__name__)
T = TypeVar("T")

# Teams refuses a message above about 28 KB (card JSON, attachments and all). We keep under
# 25 KB, leaving room for what the connector adds around the activity we send.
MAX_ACTIVITY_BYTES = 25_000
IMAGE_ELEMENT_BYTES = 200  # the Image element around the data URI, and its prefix
CHART_LEFT_OUT = "The chart is too large for a Teams message; it is in the report files."

# Teams has no ephemeral messages; research import is a card in the chat, not a dialog.
TEAMS_CAPABILITIES = Capabilities(ephemeral=False, dialogs=True, images=True)


def card_message(card: cards.Card, text: str | None = None) -> Json:
    message: Json = {"type": "message", "attachments": [cards.attachment(card)]}
    if text:
        message["text"] = text
    return message


def report_message(report: ReportView, note: str = "", chart_url: str | None = None) -> Json:
    """One activity: the report card (with a plain-text fallback and summary for
    notifications) and ``note`` (e.g. "Round 3 is closed.") as its text. The chart is shown
    from ``chart_url`` when the bot serves it, else inside the card if it can be shrunk to keep
    the activity within Teams' message size, else left out with a word why."""
    fallback = render_report_fallback(report)

    def message(chart: str | None, missing: str = "") -> Json:
        card = cards.report_card(
            report, chart_url=chart, fallback=message_text(fallback), missing=missing
        )
        activity = card_message(card, note or None)
        activity["summary"] = fallback
        return activity

    if report.chart_png is None or chart_url is not None:
        return message(chart_url)
    without = message(None, CHART_LEFT_OUT)
    # base64 grows 4/3; what is left of the budget after the card without it is the image's.
    room = (MAX_ACTIVITY_BYTES - activity_bytes(without) - IMAGE_ELEMENT_BYTES) * 3 // 4
    chart = shrink_png(report.chart_png, room) if room > 0 else None
    if chart is None:
        log.warning("the chart does not fit in a Teams message; set TEAMS_PUBLIC_URL to serve it")
        return without
    return message(cards.chart_data_uri(chart))


def activity_bytes(message: Json) -> int:
    """The size Teams counts: the activity as UTF-8 JSON."""
    return len(json.dumps(message, ensure_ascii=False).encode("utf-8"))


class TeamsPort:
    def __init__(
        self, *, bridge: LazyBridge, records: TeamsRecords, charts: ChartHost | None = None
    ) -> None:
        self._bridge = bridge
        self._records = records
        self._charts = charts
        self._directory = TeamsDirectory(records)

    @property
    def platform(self) -> str:
        return PLATFORM

    @property
    def capabilities(self) -> Capabilities:
        return TEAMS_CAPABILITIES

    # --- conversations --------------------------------------------------------------

    async def _in(self, conversation: ConversationRef, work: Callable[[Turn], Awaitable[T]]) -> T:
        reference = await self._records.conversation_reference(conversation)
        if reference is None:
            raise DeliveryError(
                f"The bot is not installed in Teams conversation {conversation.conversation_id} "
                "(or was removed): add the app there first.",
                retryable=False,
            )
        return await self._bridge.continue_conversation(reference, work)

    async def post_message(self, conversation: ConversationRef, message: Json) -> MessageRef:
        async def send(turn: Turn) -> str:
            return await turn.send(message)

        message_id = await self._in(conversation, send)
        return MessageRef(conversation, message_id)

    async def open_dm(self, user: UserRef) -> ConversationRef:
        row = await self._records.dm(user)
        if row is None:
            row = await self._create_dm(user)
        return ConversationRef(user.workspace, str(row["conversation_id"]), ConversationKind.DM)

    async def _create_dm(self, user: UserRef) -> Json:
        person = await self._records.person(user) or {}
        needed = ("member_id", "service_url", "bot_id")
        if not all(person.get(k) for k in needed):
            raise DeliveryError(
                f"Cannot message {user.display_name or user.user_id} in Teams: they have not "
                "installed the app and are not in a team where it is installed.",
                retryable=False,
            )
        reference = await self._bridge.create_personal_conversation(
            service_url=str(person["service_url"]),
            tenant_id=user.workspace.external_id,
            bot_id=str(person["bot_id"]),
            member_id=str(person["member_id"]),
        )
        conversation_id = str(reference["conversation"]["id"])
        conversation = ConversationRef(user.workspace, conversation_id, ConversationKind.DM)
        await self._records.remember_conversation(conversation, reference, user=user)
        return {"reference": reference, "conversation_id": conversation_id}

    # --- messages ---------------------------------------------------------------------

    async def post_text(
        self, conversation: ConversationRef, text: str, *, key: str | None = None
    ) -> MessageRef:
        # The core's words are plain text: shown as typed, never markup.
        message = {"type": "message", "text": message_text(text)}
        return await self.post_message(conversation, message)

    async def send_poll(
        self, conversation: ConversationRef, poll: PollView, *, key: str | None = None
    ) -> MessageRef:
        return await self.post_message(conversation, card_message(cards.poll_card(poll)))

    async def update_poll(self, message: MessageRef, poll: PollView) -> None:
        async def update(turn: Turn) -> None:
            await turn.update(message.message_id, card_message(cards.poll_card(poll)))

        await self._in(message.conversation, update)

    async def post_report(
        self, conversation: ConversationRef, report: ReportView, *, key: str | None = None
    ) -> MessageRef:
        return await self.post_message(conversation, await self.report_message(report))

    async def report_message(self, report: ReportView, note: str = "") -> Json:
        """The report activity, its chart served by our own server when it can be."""
        chart_url = None
        if self._charts is not None and report.chart_png is not None:
            chart_url = await self._charts.url_for(report.chart_png)
        return report_message(report, note, chart_url)

    async def post_card(self, conversation: ConversationRef, card: cards.Card) -> MessageRef:
        return await self.post_message(conversation, card_message(card))

    async def post_ephemeral(self, conversation: ConversationRef, user: UserRef, text: str) -> None:
        # No ephemeral messages in Teams: a private note goes to the person's 1:1 chat.
        await self.post_text(await self.open_dm(user), text)

    # --- people -----------------------------------------------------------------------

    async def lookup_user(self, user: UserRef) -> UserProfile:
        person = await self._records.person(user) or {}
        member_id = person.get("member_id")
        dm = await self._records.dm(user)
        if dm is not None and member_id:
            try:
                account = await self._bridge.continue_conversation(
                    dm["reference"], lambda turn: turn.member(str(member_id))
                )
                person = {**person, "name": account.get("name") or person.get("name")}
            except DeliveryError as exc:
                log.info("Teams member lookup failed, using stored data: %s", exc)
        name = str(person.get("name") or user.display_name or user.user_id)
        return UserProfile(user=UserRef(user.workspace, user.user_id, name), display_name=name)

    async def resolve(self, workspace: WorkspaceRef, mention: Mention) -> Resolved:
        return await self._directory.resolve(workspace, mention)

    async def members(self, workspace: WorkspaceRef, source: AudienceSource) -> Sequence[UserRef]:
        if source.kind is AudienceKind.CHANNEL:
            return await self._channel_members(workspace, source.ref)
        if source.kind is AudienceKind.EVERYONE:
            return await self._everyone(workspace)
        raise DeliveryError(
            f"Teams cannot list members of a {source.kind} audience.", retryable=False
        )

    async def _channel_members(
        self, workspace: WorkspaceRef, conversation_id: str
    ) -> list[UserRef]:
        conversation = ConversationRef(workspace, conversation_id)
        key_row = await self._records.conversation_reference(conversation)
        if key_row is None:
            raise DeliveryError(
                f"The bot is not in Teams channel {conversation_id}.", retryable=False
            )
        team_id = await self._team_of(conversation)
        return await self._roster(workspace, key_row, team_id or conversation_id)

    async def _team_of(self, conversation: ConversationRef) -> str | None:
        for team_id, reference in await self._records.teams(conversation.workspace):
            if reference.get("conversation", {}).get("id") == conversation.conversation_id:
                return team_id
        return None

    async def _everyone(self, workspace: WorkspaceRef) -> list[UserRef]:
        people: dict[str, UserRef] = {}
        for team_id, reference in await self._records.teams(workspace):
            for user in await self._roster(workspace, reference, team_id):
                people[user.user_id] = user
        for user_id, row in await self._records.people(workspace):
            people.setdefault(user_id, UserRef(workspace, user_id, row.get("name")))
        return list(people.values())

    async def _roster(
        self, workspace: WorkspaceRef, reference: Json, roster_id: str
    ) -> list[UserRef]:
        """All pages of a team's (or group chat's) members; remembers their member ids so a
        1:1 can be opened with them later."""
        service_url = str(reference.get("serviceUrl") or "")
        bot_id = str((reference.get("bot") or {}).get("id") or "")

        async def read_all(turn: Turn) -> list[Json]:
            accounts: list[Json] = []
            token: str | None = None
            while True:
                page, token = await turn.paged_members(roster_id, token)
                accounts += page
                if not token:
                    return accounts

        accounts = await self._bridge.continue_conversation(reference, read_all)
        users = []
        for account in accounts:
            user = member_ref(workspace, account)
            users.append(user)
            await self._records.remember_person(user, person_details(account, service_url, bot_id))
        return users


def person_details(account: Json, service_url: str, bot_id: str) -> dict[str, Any]:
    """What is needed later to open a 1:1 with this member (see TeamsPort.open_dm)."""
    return {
        "member_id": account.get("id"),
        "name": account.get("name"),
        "aad_object_id": account.get("aadObjectId"),
        "service_url": service_url,
        "bot_id": bot_id,
    }
