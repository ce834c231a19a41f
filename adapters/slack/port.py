"""SlackPort: the core's outbound ChatPort, one Web API call (or a few) per operation."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any, Final

from adapters.slack import render
from adapters.slack.client import SlackApi
from adapters.slack.directory import SlackDirectory, read_pages
from adapters.slack.pacing import TIER_3, HistoryLimits, Pacer
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
    Resolved,
    UserProfile,
)
from bot.model.views import PollView, ReportView

PLATFORM: Final = "slack"
PROFILE_TTL_SECONDS: Final = 600.0
LOOKUP_CONCURRENCY: Final = 8  # users.info is Tier 4; a few at a time keeps us below it
SLACKBOT: Final = "USLACKBOT"

_log = logging.getLogger(__name__)

METADATA_EVENT = "alignment_outbox"
DM_CACHE_SIZE = 200_000
USERS_LIST_FROM = 200  # audiences larger than this read users.list once instead


class SlackPort:
    def __init__(
        self,
        api: SlackApi,
        *,
        profile_ttl: float = PROFILE_TTL_SECONDS,
        history: HistoryLimits = TIER_3,
        history_pacer: Pacer | None = None,
    ) -> None:
        self._api = api
        self._history = history
        # conversations.history has the tightest tier we use: wait for a slot, never a 429.
        self._history_pacer = history_pacer or Pacer(60.0 / history.per_minute)
        self._ttl = profile_ttl
        self._profiles: dict[str, tuple[float, UserProfile]] = {}
        self._dms: dict[str, ConversationRef] = {}
        self._directory = SlackDirectory(api)
        self._last_poll: tuple[PollView, tuple[str, list[render.Block]]] | None = None

    @property
    def platform(self) -> str:
        return PLATFORM

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(ephemeral=True, dialogs=True, images=True)

    async def open_dm(self, user: UserRef) -> ConversationRef:
        """The person's DM with the bot, without a call to Slack: chat.postMessage with a
        user id as the channel posts to the app's DM and answers with its D… id, which the
        first post remembers. A poll to everyone thus costs one call per person, not two."""
        known = self._dms.get(user.key)
        if known is not None:
            return known
        return ConversationRef(user.workspace, user.user_id, ConversationKind.DM)

    async def _open_dm_now(self, conversation: ConversationRef) -> ConversationRef:
        """The D… id of a DM named by its user id (for calls that need a real channel)."""
        if not _is_user_id(conversation.conversation_id):
            return conversation
        user = UserRef(conversation.workspace, conversation.conversation_id)
        known = await self.open_dm(user)
        if not _is_user_id(known.conversation_id):
            return known  # a post already taught us the D… id
        team = conversation.workspace.external_id
        data = await self._api.call(team, "conversations.open", users=user.user_id)
        return self._remember_dm(user, str(data["channel"]["id"]))

    def _remember_dm(self, user: UserRef, channel_id: str) -> ConversationRef:
        # A person's DM channel with the bot never changes: learn it once per process.
        conversation = ConversationRef(user.workspace, channel_id, ConversationKind.DM)
        if len(self._dms) >= DM_CACHE_SIZE:
            self._dms.clear()
        self._dms[user.key] = conversation
        return conversation

    async def post_text(
        self, conversation: ConversationRef, text: str, *, key: str | None = None
    ) -> MessageRef:
        # The core's words are plain text: shown as typed, never a mention or a link.
        return await self._post(conversation, text=render.escape(text), **_metadata(key))

    async def send_poll(
        self, conversation: ConversationRef, poll: PollView, *, key: str | None = None
    ) -> MessageRef:
        text, blocks = self._rendered_poll(poll)
        return await self._post(conversation, text=text, blocks=blocks, **_metadata(key))

    def _rendered_poll(self, poll: PollView) -> tuple[str, list[render.Block]]:
        """``render.poll_message(poll)``, rendered once for a run of sends of the same view:
        a fan-out hands the one view it made for everyone who has not answered to thousands
        of sends. The blocks are only read (serialised) by the client, never changed."""
        if self._last_poll is None or self._last_poll[0] is not poll:
            self._last_poll = (poll, render.poll_message(poll))
        return self._last_poll[1]

    async def find_delivered(self, conversation: ConversationRef, key: str) -> MessageRef | None:
        """The message our outbox sent with ``key``, if it reached the conversation.

        The key rides along as Slack message metadata, which conversations.history returns
        with include_all_metadata. Only a message whose post had begun when its sender died
        is asked about, one call each, paced to the method's rate tier; the message was the
        conversation's newest then, so the first page (15 messages under the strictest
        limits) holds it unless the conversation got that many messages since."""
        conversation = await self._open_dm_now(conversation)
        async with self._history_pacer.slot(conversation.workspace.external_id):
            data = await self._api.call(
                conversation.workspace.external_id,
                "conversations.history",
                channel=conversation.conversation_id,
                limit=self._history.page_size,
                include_all_metadata=True,
            )
        for message in data.get("messages") or []:
            payload = (message.get("metadata") or {}).get("event_payload") or {}
            if payload.get("key") == key:
                return MessageRef(conversation, str(message["ts"]))
        return None

    async def update_poll(
        self, message: MessageRef, poll: PollView, notice: str | None = None
    ) -> None:
        text, blocks = render.poll_message(poll, notice)
        conversation = message.conversation
        await self._api.call(
            conversation.workspace.external_id,
            "chat.update",
            channel=conversation.conversation_id,
            ts=message.message_id,
            text=text,
            blocks=blocks,
        )

    async def post_report(
        self, conversation: ConversationRef, report: ReportView, *, key: str | None = None
    ) -> MessageRef:
        text, blocks = render.report_blocks(report)
        posted = await self._post(conversation, text=text, blocks=blocks, **_metadata(key))
        if report.chart_png:
            await self._upload_chart(posted, report)
        return posted

    async def _upload_chart(self, summary: MessageRef, report: ReportView) -> None:
        assert report.chart_png is not None
        conversation = summary.conversation
        try:
            await self._api.upload_file(
                conversation.workspace.external_id,
                channel=conversation.conversation_id,
                thread_ts=summary.message_id,
                data=report.chart_png,
                filename="alignment-report.png",
                title=report.title,
            )
        except DeliveryError as error:
            # The summary is already out; raising would make the outbox post it twice.
            _log.warning("chart upload failed: %s", error)
            await self._post(
                conversation,
                text="(The chart could not be uploaded.)",
                thread_ts=summary.message_id,
            )

    async def post_ephemeral(self, conversation: ConversationRef, user: UserRef, text: str) -> None:
        await self._api.call(
            conversation.workspace.external_id,
            "chat.postEphemeral",
            channel=conversation.conversation_id,
            user=user.user_id,
            text=render.escape(text),
        )

    async def lookup_user(self, user: UserRef) -> UserProfile:
        cached = self._profiles.get(user.key)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        data = await self._api.call(user.workspace.external_id, "users.info", user=user.user_id)
        return self._remember(user.workspace, data["user"])

    def _remember(self, workspace: WorkspaceRef, member: dict[str, Any]) -> UserProfile:
        profile = profile_from(workspace, member)
        self._profiles[profile.user.key] = (time.monotonic() + self._ttl, profile)
        return profile

    async def members(self, workspace: WorkspaceRef, source: AudienceSource) -> Sequence[UserRef]:
        team = workspace.external_id
        if source.kind is AudienceKind.CHANNEL:
            ids = await self._pages(team, "conversations.members", "members", channel=source.ref)
        elif source.kind is AudienceKind.USERGROUP:
            # usergroups.users.list is not paginated today; _pages still follows a cursor.
            ids = await self._pages(
                team, "usergroups.users.list", "users", limit=False, usergroup=source.ref
            )
        elif source.kind is AudienceKind.EVERYONE:
            return await self._everyone(workspace)
        else:
            raise DeliveryError(f"Slack cannot list a {source.kind} audience", retryable=False)
        return await self._humans(workspace, [str(i) for i in ids])

    async def _everyone(self, workspace: WorkspaceRef) -> list[UserRef]:
        rows = await self._pages(workspace.external_id, "users.list", "members")
        profiles = [self._remember(workspace, row) for row in rows if not row.get("deleted")]
        return [p.user for p in profiles if not p.is_bot]

    async def _humans(self, workspace: WorkspaceRef, ids: list[str]) -> list[UserRef]:
        """Drop bots (and Slackbot); conversations.members lists them alongside people."""
        if len(ids) > USERS_LIST_FROM:
            # users.info is a per-person call with a tight rate tier; for a big audience one
            # paged users.list costs far fewer calls and gives the same profiles.
            await self._everyone(workspace)
        gate = asyncio.Semaphore(LOOKUP_CONCURRENCY)

        async def profile(user_id: str) -> UserProfile:
            async with gate:
                return await self.lookup_user(UserRef(workspace, user_id))

        profiles = await asyncio.gather(*(profile(i) for i in dict.fromkeys(ids)))
        return [p.user for p in profiles if not p.is_bot]

    async def _pages(
        self, team: str, method: str, key: str, *, limit: bool = True, **params: Any
    ) -> list[Any]:
        return await read_pages(self._api, team, method, key, limit=limit, **params)

    async def resolve(self, workspace: WorkspaceRef, mention: Mention) -> Resolved:
        return await self._directory.resolve(workspace, mention)

    async def _post(self, conversation: ConversationRef, **params: Any) -> MessageRef:
        data = await self._api.call(
            conversation.workspace.external_id,
            "chat.postMessage",
            channel=conversation.conversation_id,
            **params,
        )
        # A DM addressed by user id comes back with the real D… channel id: keep that one.
        channel = str(data.get("channel") or conversation.conversation_id)
        if _is_user_id(conversation.conversation_id) and not _is_user_id(channel):
            user = UserRef(conversation.workspace, conversation.conversation_id)
            return MessageRef(self._remember_dm(user, channel), str(data["ts"]))
        posted_in = ConversationRef(conversation.workspace, channel, conversation.kind)
        return MessageRef(posted_in, str(data["ts"]))


def _is_user_id(conversation_id: str) -> bool:
    # Slack ids start with their kind: U/W users, D DMs, C channels, G groups.
    return conversation_id[:1] in ("U", "W")


def _metadata(key: str | None) -> dict[str, Any]:
    if key is None:
        return {}
    return {"metadata": {"event_type": METADATA_EVENT, "event_payload": {"key": key}}}


def profile_from(workspace: WorkspaceRef, member: dict[str, Any]) -> UserProfile:
    profile = member.get("profile") or {}
    name = (
        profile.get("display_name")
        or profile.get("real_name")
        or member.get("real_name")
        or member.get("name")
        or member["id"]
    )
    user = UserRef(workspace, str(member["id"]), str(name))
    return UserProfile(
        user=user,
        display_name=str(name),
        time_zone=member.get("tz"),
        is_platform_admin=bool(member.get("is_admin") or member.get("is_owner")),
        is_bot=bool(member.get("is_bot") or member.get("is_app_user") or member["id"] == SLACKBOT),
    )
