"""Inbound: one Teams activity -> typed core events, and what to show in return."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from adapters.teams import cards
from adapters.teams.activities import (
    bot_id_of,
    channel_name_of,
    command_text,
    conversation_of,
    includes_bot,
    is_personal,
    member_ref,
    members,
    parse_ranking,
    ranking_problem,
    round_id_of,
    sender_of,
    submit_data,
    team_id_of,
    workspace_of,
)
from adapters.teams.bridge import Json
from adapters.teams.escape import message_text
from adapters.teams.port import TeamsPort, card_message, person_details
from adapters.teams.records import TeamsRecords
from adapters.teams.text import help_markdown, teams_text
from bot.model.domain import ConversationKind, ConversationRef, MessageRef, UserRef
from bot.model.events import (
    AnswerSubmitted,
    CommandEffect,
    CommandInvoked,
    CommandResult,
    PersonSeen,
    ResearchSubmitted,
)
from bot.model.ports import CoreApi, DeliveryError
from bot.model.views import PollState, PollView

if TYPE_CHECKING:
    from adapters.teams.sdk import Turn

log = logging.getLogger(__name__)

STALE_CARD = cards.notice_card("This card is out of date", "Type **help** to see what I can do.")


class InboundHandler:
    def __init__(self, *, core: CoreApi, records: TeamsRecords, port: TeamsPort) -> None:
        self._core = core
        self._records = records
        self._port = port

    async def on_turn(self, turn: Turn) -> None:
        kind = turn.activity.get("type")
        if kind == "message":
            await self._on_message(turn)
        elif kind == "invoke":
            await self._on_invoke(turn)
        elif kind == "conversationUpdate":
            await self._on_conversation_update(turn)
        elif kind == "installationUpdate":
            await self._on_installation_update(turn)
        # Typing, reactions and the rest need nothing from us.

    # --- what the bot learns from every activity ----------------------------------------

    async def _learn(self, turn: Turn) -> bool:
        """Refresh the stored reference and the sender's member id; True if the chat is new."""
        activity = turn.activity
        user = sender_of(activity)
        personal = is_personal(activity)
        new = await self._records.remember_conversation(
            conversation_of(activity),
            turn.reference(),
            team_id=team_id_of(activity),
            user=user if personal else None,
            name=channel_name_of(activity),
        )
        details = person_details(activity["from"], activity["serviceUrl"], bot_id_of(activity))
        await self._records.remember_person(user, details)
        return new

    # --- messages: commands and Action.Submit -------------------------------------------

    async def _on_message(self, turn: Turn) -> None:
        await self._learn(turn)
        data = submit_data(turn.activity)
        if data is not None:
            card = await self._on_submit(turn, data)
            await self._show(turn, card)
            return
        await self._on_command(turn)

    async def _show(self, turn: Turn, card: cards.Card) -> None:
        """Replace the card that was submitted (Action.Submit carries its id as replyToId)."""
        card_id = turn.activity.get("replyToId")
        if card_id:
            await turn.update(str(card_id), card_message(card))
        else:
            await turn.send(card_message(card))

    async def _on_command(self, turn: Turn) -> None:
        activity = turn.activity
        user = sender_of(activity)
        conversation = conversation_of(activity)
        text = command_text(str(activity.get("text") or ""), activity) or "help"
        event = CommandInvoked(
            event_id=str(activity.get("id") or ""), user=user, text=text, conversation=conversation
        )
        result = await self._core.handle_command(event)
        await self._reply(turn, conversation, user, result)

    async def _reply(
        self, turn: Turn, conversation: ConversationRef, user: UserRef, result: CommandResult
    ) -> None:
        messages: list[Json] = []
        if result.report is not None:
            # One message: the card and its chart, the note above it; never the core's
            # Markdown, which Teams would show with its headings and tables as raw text.
            note = message_text(result.note) if result.note else ""
            messages.append(await self._port.report_message(result.report, note))
        elif result.help is not None:
            messages.append({"type": "message", "text": help_markdown(result.help)})
        elif result.text:
            messages.append({"type": "message", "text": teams_text(message_text(result.text))})
        if result.effect is CommandEffect.OPEN_RESEARCH_IMPORT:
            messages.append(card_message(cards.research_import_card()))
        if result.in_channel or conversation.kind is ConversationKind.DM:
            for message in messages:
                await turn.send(message)
            return
        # Teams has no ephemeral replies: a private answer to a channel command goes to the
        # person's 1:1 chat, and only if that is impossible into the thread.
        try:
            dm = await self._port.open_dm(user)
            for message in messages:
                await self._port.post_message(dm, message)
        except DeliveryError as exc:
            log.info("Could not answer %s privately, replying in the thread: %s", user.key, exc)
            for message in messages:
                await turn.send(message)

    # --- card submissions -----------------------------------------------------------------

    async def _on_submit(self, turn: Turn, data: Mapping[str, Any]) -> cards.Card:
        action = data.get("action")
        if action == cards.ACTION_ANSWER:
            return await self._answer(turn, data)
        if action == cards.ACTION_CHANGE:
            return await self._change(turn, data)
        if action == cards.ACTION_RESEARCH:
            return await self._research(turn, data)
        return STALE_CARD

    async def _poll(self, user: UserRef, data: Mapping[str, Any]) -> PollView | None:
        round_id = round_id_of(data)
        return None if round_id is None else await self._core.poll_for(user, round_id)

    async def _change(self, turn: Turn, data: Mapping[str, Any]) -> cards.Card:
        poll = await self._poll(sender_of(turn.activity), data)
        if poll is None:
            return STALE_CARD
        if poll.state is PollState.CLOSED:
            return cards.poll_card(poll)
        return cards.poll_card(replace(poll, state=PollState.OPEN), picks=poll.current)

    async def _answer(self, turn: Turn, data: Mapping[str, Any]) -> cards.Card:
        activity = turn.activity
        user = sender_of(activity)
        poll = await self._poll(user, data)
        if poll is None:
            return STALE_CARD
        if poll.state is PollState.CLOSED:
            return cards.poll_card(poll)
        picks = parse_ranking(data, {o.value for o in poll.options}, poll.k)
        problem = ranking_problem(picks, {o.value: o.label for o in poll.options})
        open_poll = replace(poll, state=PollState.OPEN)
        if problem:
            return cards.poll_card(open_poll, error=problem, picks=picks)
        card_id = str(activity.get("replyToId") or activity.get("id") or "")
        outcome = await self._core.submit_answer(
            AnswerSubmitted(
                event_id=str(activity.get("id") or ""),
                user=user,
                round_id=poll.round_id,
                ranking=picks,
                message=MessageRef(conversation_of(activity), card_id),
            )
        )
        if outcome.accepted:
            shown = outcome.poll or replace(poll, state=PollState.ANSWERED, current=picks)
            return cards.poll_card(shown, note=outcome.message or None)
        shown = outcome.poll or open_poll
        if shown.state is PollState.OPEN:
            return cards.poll_card(shown, error=outcome.message, picks=picks)
        return cards.poll_card(shown, error=outcome.message)

    async def _research(self, turn: Turn, data: Mapping[str, Any]) -> cards.Card:
        fields = (cards.RESEARCH_TEXT, cards.RESEARCH_SEGMENT, cards.RESEARCH_SOURCE)
        values = {name: str(data.get(name) or "") for name in fields}
        text = values[cards.RESEARCH_TEXT].strip()
        if not text:
            return cards.research_import_card(error="Paste the CSV first.", values=values)
        result = await self._core.submit_research(
            ResearchSubmitted(
                event_id=str(turn.activity.get("id") or ""),
                user=sender_of(turn.activity),
                text=text,
                segment=values[cards.RESEARCH_SEGMENT].strip() or None,
                source=values[cards.RESEARCH_SOURCE].strip() or None,
            )
        )
        if result.ok:
            return cards.research_import_card(result=result.text)
        return cards.research_import_card(error=result.text, values=values)

    # --- invokes ------------------------------------------------------------------------

    async def _on_invoke(self, turn: Turn) -> None:
        name = turn.activity.get("name")
        data = submit_data(turn.activity)
        if name != "adaptiveCard/action" or data is None:
            message = f"This bot does not handle '{name}' requests."
            await turn.invoke_response(
                501, {"error": {"code": "NotImplemented", "message": message}}
            )
            return
        await self._learn(turn)
        card = await self._on_submit(turn, data)
        # Universal Actions: the response body replaces the card in place.
        body = {"statusCode": 200, "type": cards.CARD_CONTENT_TYPE, "value": card}
        await turn.invoke_response(200, body)

    # --- install / uninstall ------------------------------------------------------------

    async def _on_conversation_update(self, turn: Turn) -> None:
        activity = turn.activity
        if includes_bot(activity, "membersRemoved"):
            await self._uninstalled(turn)
            return
        if includes_bot(activity, "membersAdded"):
            await self._installed(turn)
        workspace = workspace_of(activity)
        bot_id = bot_id_of(activity)
        for account in members(activity, "membersAdded"):
            if account.get("id") == bot_id:
                continue
            user = member_ref(workspace, account)
            details = person_details(account, activity["serviceUrl"], bot_id)
            await self._records.remember_person(user, details)
            await self._core.person_seen(PersonSeen(user=user))

    async def _on_installation_update(self, turn: Turn) -> None:
        action = str(turn.activity.get("action") or "")
        # "remove-upgrade" also means the bot is gone from this scope.
        if action.startswith("remove"):
            await self._uninstalled(turn)
        elif action.startswith("add"):
            await self._installed(turn)

    async def _installed(self, turn: Turn) -> None:
        activity = turn.activity
        new = await self._learn(turn)
        team_id = team_id_of(activity)
        if team_id:
            await self._records.remember_team(workspace_of(activity), team_id, turn.reference())
        user = sender_of(activity)
        await self._core.person_seen(PersonSeen(user=user))
        if new and is_personal(activity):
            # Teams sends both conversationUpdate and installationUpdate: greet only once.
            home = await self._core.home_for(user)
            await turn.send(card_message(cards.home_card(home)))

    async def _uninstalled(self, turn: Turn) -> None:
        activity = turn.activity
        workspace = workspace_of(activity)
        conversation = conversation_of(activity)
        team_id = team_id_of(activity)
        if team_id:
            await self._records.forget_team(workspace, team_id)
        await self._records.forget_conversation(workspace, conversation.conversation_id)
        if is_personal(activity):
            await self._records.forget_dm(sender_of(activity))
