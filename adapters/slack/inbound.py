"""Bolt listeners: Slack payloads in, typed core events out, answers back to Slack.

Slack gives three seconds to acknowledge. Commands and buttons ack first and work after;
modal submissions must carry their validation errors in the ack itself, so they call the core
within a budget and fall back to ack-then-report-later when it is slow.

Bolt runs with ``process_before_response``: the HTTP response goes out when a listener
returns, so every listener returns right after ``ack()`` and hands what is left to
``_after_ack`` (a tracked task). Bolt's other mode keeps each request in a 10 ms polling loop
until ``ack()`` is called, which under a burst of answers cost more CPU than the answers.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Final, TypeVar

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from adapters.slack import parse, render
from adapters.slack.client import SlackApi
from adapters.slack.poll_refresh import PollRefresh
from adapters.slack.port import SlackPort
from adapters.slack.scopes import COMMAND
from bot.model.domain import ConversationRef, MessageRef, Role, UserRef
from bot.model.events import (
    AnswerOutcome,
    AnswerStatus,
    AnswerSubmitted,
    CommandEffect,
    CommandInvoked,
    CommandResult,
    PersonSeen,
    ResearchSubmitted,
)
from bot.model.ports import CoreApi, DeliveryError
from bot.model.views import PollState
from bot.rounds.background import Background

CORE_BUDGET_SECONDS: Final = 2.0  # of Slack's 3 s, leaving room for the network
MAX_RESEARCH_BYTES: Final = 2_000_000
ONLY_ADMINS: Final = "Only admins can import research; nothing was changed."
ANYTHING: Final = re.compile(".*")

T = TypeVar("T")
# Turns a finished core call into the modal's ack; returns what still has to be reported.
AckFor = Callable[[AsyncAck, T], Awaitable[T | None]]
# Reports a core result the ack did not say, after the ack.
Then = Callable[[T], Coroutine[Any, Any, None]]
_log = logging.getLogger(__name__)


class SlackInbound:
    def __init__(
        self, *, core: CoreApi, port: SlackPort, api: SlackApi, refresh: PollRefresh
    ) -> None:
        self._core = core
        self._port = port
        self._api = api
        self._refresh = refresh
        self._later = Background(_log, "work after the ack failed")

    def _after_ack(self, work: Coroutine[Any, Any, None]) -> None:
        """Run the rest of a listener once its response is out."""
        self._later.spawn(work)

    async def idle(self) -> None:
        """Wait until the work after every ack so far has finished, poll DMs brought up to
        date included (tests, shutdown)."""
        await self._later.idle()
        await self._refresh.idle()

    def register(self, app: AsyncApp) -> None:
        app.command(COMMAND)(self.on_command)
        app.action(render.ACTION_POLL_OPEN)(self.on_poll_button)
        app.action(render.ACTION_POLL_CHANGE)(self.on_poll_button)
        app.view(render.CALLBACK_POLL)(self.on_poll_submit)
        app.view(render.CALLBACK_RESEARCH)(self.on_research_submit)
        app.event("app_home_opened")(self.on_home_opened)
        # Registered last (bolt runs the first match): anything else is acknowledged and
        # dropped instead of bolt's 404, which Slack would show as an error or retry.
        app.action(ANYTHING)(self.on_unknown)
        app.view(ANYTHING)(self.on_unknown)
        app.shortcut(ANYTHING)(self.on_unknown)
        app.event(ANYTHING)(self.on_ignored_event)

    # --- /alignment -----------------------------------------------------------------------

    async def on_command(
        self, ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond
    ) -> None:
        await ack()
        self._after_ack(self._run_command(command, respond))

    async def _run_command(self, command: dict[str, Any], respond: AsyncRespond) -> None:
        event = await self._command_event(command)
        try:
            result = await self._core.handle_command(event)
        except Exception:
            _log.exception("command %s failed", event.event_id)
            await respond(text="Sorry, that did not work. Please try again.")
            return
        await self._answer_command(result, command, event, respond)

    async def _command_event(self, command: dict[str, Any]) -> CommandInvoked:
        caller = UserRef(
            parse.workspace(str(command["team_id"])),
            str(command["user_id"]),
            command.get("user_name"),
        )
        user, is_admin = await self._known(caller)
        return CommandInvoked(
            event_id=parse.command_event_id(command),
            user=user,
            text=parse.command_text(command),
            conversation=parse.command_conversation(command),
            user_is_platform_admin=is_admin,
        )

    async def _known(self, user: UserRef) -> tuple[UserRef, bool]:
        """The user with their display name, and whether they administer the workspace."""
        try:
            profile = await self._port.lookup_user(user)
        except DeliveryError as error:
            # Not knowing is "not an admin": the core still grants roles it stored itself.
            _log.warning("users.info failed, assuming not an admin: %s", error)
            return user, False
        return profile.user, profile.is_platform_admin

    async def _answer_command(
        self,
        result: CommandResult,
        command: dict[str, Any],
        event: CommandInvoked,
        respond: AsyncRespond,
    ) -> None:
        if result.effect is CommandEffect.REPLAYED:
            return  # the first delivery of this very request was answered already
        if result.effect is CommandEffect.OPEN_RESEARCH_IMPORT:
            await self._open_research_modal(command, respond)
            return
        # The core's text is plain: escaped, a name such as "<!channel>" notifies nobody.
        text = render.escape(result.text)
        if result.in_channel and event.conversation is not None:
            if result.report is not None:
                # One post: the report's blocks with a plain fallback, then its chart.
                await self._report_in_channel(event.conversation, result, respond)
            else:
                await respond(text=text, response_type="in_channel")
            return
        if result.help is not None:
            text, blocks = render.help_message(result.help)
            await respond(text=text, blocks=blocks, response_type="ephemeral")
            return
        if result.report is None:
            blocks = [render.section(render.escape(result.text))] if result.text else []
            await respond(text=text, blocks=blocks, response_type="ephemeral")
            return
        fallback, report_blocks = render.report_blocks(result.report)
        blocks = [render.section(render.escape(result.note))] if result.note else []
        text = f"{render.escape(result.note)} {fallback}".strip()
        await respond(text=text, blocks=[*blocks, *report_blocks][:50], response_type="ephemeral")

    async def _report_in_channel(
        self, conversation: ConversationRef, result: CommandResult, respond: AsyncRespond
    ) -> None:
        assert result.report is not None
        try:
            await self._port.post_report(conversation, result.report)
        except DeliveryError as error:
            # Typically not_in_channel: show it to the caller rather than lose it.
            _log.warning("report post failed: %s", error)
            text, blocks = render.report_blocks(result.report)
            note = "I could not post here (invite me to the channel); here is the report."
            await respond(text=text, blocks=[render.context(note), *blocks][:50])

    async def _open_research_modal(self, command: dict[str, Any], respond: AsyncRespond) -> None:
        try:
            await self._api.call(
                str(command["team_id"]),
                "views.open",
                trigger_id=command["trigger_id"],
                view=render.research_modal(),
            )
        except DeliveryError as error:
            _log.warning("views.open failed: %s", error)
            await respond(text="I could not open the import dialog; please run it again.")

    # --- the poll -------------------------------------------------------------------------

    async def on_poll_button(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        self._after_ack(self._open_poll_modal(body))

    async def _open_poll_modal(self, body: dict[str, Any]) -> None:
        round_id = parse.round_of_button(body["actions"][0])
        channel, ts = (
            parse.dig(body, "container", "channel_id"),
            parse.dig(body, "container", "message_ts"),
        )
        if round_id is None or not channel or not ts or not body.get("trigger_id"):
            _log.warning("poll button without round or message; ignored")
            return
        user = parse.user_of(body)
        poll = await self._core.poll_for(user, round_id)
        if poll is None or poll.state is PollState.CLOSED:
            view = render.notice_modal("Poll closed", "This poll is closed.")
        else:
            meta = parse.PollMeta(round_id, poll.k, str(channel), str(ts))
            view = render.poll_modal(poll, meta.encode())
        await self._api.call(
            user.workspace.external_id, "views.open", trigger_id=body["trigger_id"], view=view
        )

    async def on_poll_submit(
        self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]
    ) -> None:
        meta = parse.PollMeta.decode(str(view.get("private_metadata") or ""))
        # meta.k is bounded by the most attributes a round can have; the core then holds
        # the ranking to the round's own k and attribute list.
        if meta is None:
            await ack(
                response_action="update",
                view=render.notice_modal(
                    "Poll", "This form is out of date. Please open the poll again."
                ),
            )
            return
        ranking, errors = parse.read_ranking(view["state"]["values"], meta.k)
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        user = parse.user_of(body)
        message = meta.message(user.workspace.external_id)
        event = AnswerSubmitted(
            event_id=parse.answer_event_id(view, ranking),
            user=user,
            round_id=meta.round_id,
            ranking=ranking,
            message=message,
        )
        await self._within_budget(
            ack,
            self._core.submit_answer(event),
            _answer_ack,
            then=lambda outcome: self._show_outcome(outcome, message),
            on_late_failure=lambda: self._tell(
                message.conversation,
                "Sorry — your answer could not be saved just now. "
                "Please open the poll and send it again.",
            ),
        )

    async def _tell(self, conversation: ConversationRef, text: str) -> None:
        try:
            await self._port.post_text(conversation, text)
        except DeliveryError as error:
            _log.warning("could not tell the person about a failure: %s", error)

    async def _show_outcome(self, outcome: AnswerOutcome, message: MessageRef) -> None:
        if outcome.poll is not None:
            self._refresh.put(message, outcome.poll, notice=outcome.message)
        elif not outcome.accepted:
            await self._tell(message.conversation, outcome.message)

    # --- research import ------------------------------------------------------------------

    async def on_research_submit(
        self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]
    ) -> None:
        form = parse.read_research(view["state"]["values"])
        if not form.text and form.file is None:
            await ack(
                response_action="errors",
                errors={render.RESEARCH_TEXT: "Paste CSV here or pick a CSV file below."},
            )
            return
        user = parse.user_of(body)
        await self._within_budget(
            ack,
            self._import_research(user, view, form),
            _research_ack(form),
            then=lambda result: self._dm(user, result.text),
            on_late_failure=lambda: self._dm(
                user, "Sorry — the research import failed; nothing was saved. Please try again."
            ),
        )

    async def _import_research(
        self, user: UserRef, view: dict[str, Any], form: parse.ResearchForm
    ) -> CommandResult:
        user, is_admin = await self._known(user)
        # The role first: nothing is fetched on behalf of someone who may not import.
        if await self._core.role_of(user, is_platform_admin=is_admin) != Role.ADMIN:
            return CommandResult(ONLY_ADMINS, ok=False)
        text, filename = form.text, None
        if form.file is not None:
            filename = str(form.file.get("name") or "research.csv")
            try:
                text = await self._download_csv(user, form.file)
            except DeliveryError as error:
                _log.warning("research file not fetched: %s", error)
                return CommandResult(f"I could not read that file: {error}.", ok=False)
        event = ResearchSubmitted(
            event_id=f"slack:view:{view['id']}:{parse.digest(text)}",
            user=user,
            user_is_platform_admin=is_admin,
            text=text,
            filename=filename,
            segment=form.segment,
            source=form.source,
        )
        return await self._core.submit_research(event)

    async def _download_csv(self, user: UserRef, file: dict[str, Any]) -> str:
        url = str(file.get("url_private_download") or file.get("url_private") or "")
        if not url:
            return ""
        raw = await self._api.download(
            user.workspace.external_id, url, max_bytes=MAX_RESEARCH_BYTES
        )
        return raw.decode("utf-8-sig", errors="replace")

    async def _dm(self, user: UserRef, text: str) -> None:
        try:
            await self._port.post_text(await self._port.open_dm(user), text)
        except DeliveryError as error:
            _log.warning("DM failed: %s", error)

    # --- budgeted acks --------------------------------------------------------------------

    async def _within_budget(
        self,
        ack: AsyncAck,
        work: Awaitable[T],
        ack_for: AckFor[T],
        *,
        then: Then[T],
        on_late_failure: Callable[[], Awaitable[None]],
    ) -> None:
        """Ack with the work's verdict if it finishes in time, and report the rest after the
        ack with ``then``. If the work is slow, ack now and let ``then`` (or, should the work
        fail, ``on_late_failure``) tell the person when it is done."""
        task = asyncio.ensure_future(work)
        done, _ = await asyncio.wait({task}, timeout=CORE_BUDGET_SECONDS)
        if not done:
            await ack()
            self._after_ack(self._finish_late(task, then, on_late_failure))
            return
        try:
            result = task.result()
        except Exception:
            _log.exception("core call failed")
            await ack(
                response_action="update",
                view=render.notice_modal(
                    "Something went wrong", "Sorry, that did not work. Please try again."
                ),
            )
            return
        rest = await ack_for(ack, result)
        if rest is not None:
            self._after_ack(then(rest))

    @staticmethod
    async def _finish_late(
        task: asyncio.Future[T], then: Then[T], on_late_failure: Callable[[], Awaitable[None]]
    ) -> None:
        try:
            result = await task
        except Exception:
            _log.exception("late core call failed")
            # The modal is already gone: tell the person some other way.
            await on_late_failure()
            return
        await then(result)

    # --- App Home and the rest ------------------------------------------------------------

    async def on_home_opened(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        if event.get("tab", "home") == "home":
            self._after_ack(self._publish_home(event, body))

    async def _publish_home(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        team, who = str(body.get("team_id") or ""), event.get("user")
        if not isinstance(who, str) or not who:
            return  # nobody to show a home to
        user, is_admin = await self._known(UserRef(parse.workspace(team), who))
        # Opening the App Home is how many people first meet the bot: let the core know them.
        await self._core.person_seen(PersonSeen(user, is_platform_admin=is_admin))
        home = await self._core.home_for(user)
        await self._api.call(
            team, "views.publish", user_id=user.user_id, view=render.home_view(home)
        )

    async def on_unknown(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        _log.info("ignored interaction of type %s", body.get("type"))

    async def on_ignored_event(self, event: dict[str, Any]) -> None:
        _log.debug("ignored event %s", event.get("type"))


async def _answer_ack(ack: AsyncAck, outcome: AnswerOutcome) -> AnswerOutcome | None:
    if outcome.status is AnswerStatus.REFUSED:
        # Keep the modal open with the reason (e.g. the deadline passed) next to the picks.
        await ack(response_action="errors", errors={render.rank_block_id(1): outcome.message})
    else:
        await ack()
    return outcome  # the DM is updated either way


def _research_ack(form: parse.ResearchForm) -> AckFor[CommandResult]:
    async def ack_for(ack: AsyncAck, result: CommandResult) -> CommandResult | None:
        if result.ok:
            view = render.notice_modal("Research imported", result.text)
            await ack(response_action="update", view=view)
            return None
        field = render.RESEARCH_FILE if form.file is not None else render.RESEARCH_TEXT
        await ack(response_action="errors", errors={field: render.clip(result.text, 300)})
        return None

    return ack_for
