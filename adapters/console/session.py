"""One person's console session: the chat client of the console platform.

It takes a line of input and returns the text to print, so tests drive it exactly as a person
at the terminal would, without a terminal.
"""

from __future__ import annotations

import uuid

from adapters.console.escape import terminal_text
from adapters.console.port import ANSWER_SYNTAX, LOCAL_WORKSPACE, ConsolePort, InboxMessage
from bot.model.domain import ConversationKind, ConversationRef, UserRef, WorkspaceRef
from bot.model.events import AnswerSubmitted, CommandEffect, CommandInvoked, PersonSeen
from bot.model.ports import CoreApi
from bot.reports.render_text import render_poll_text

CONSOLE_HELP = """\
Type a command as you would in chat, e.g. /alignment help
  answer ROUND N1 N2 N3   answer a poll with the numbers shown in it, best first
  poll ROUND              show a poll again
  inbox                   show messages sent to you
  quit                    leave"""

# On login only the newest messages are shown; `inbox` shows them all.
CATCH_UP_MESSAGES = 3


class ConsoleSession:
    def __init__(
        self,
        *,
        core: CoreApi,
        port: ConsolePort,
        user_id: str,
        channel: str = "general",
        workspace: WorkspaceRef = LOCAL_WORKSPACE,
    ) -> None:
        self._core = core
        self._port = port
        self.user = UserRef(workspace, user_id, user_id)
        self._channel = ConversationRef(workspace, channel, ConversationKind.CHANNEL)
        self._seen: set[str] = set()
        self._joined = False

    async def join(self) -> None:
        """Make the person known to the workspace, as installing the app does on a platform."""
        if not self._joined:
            await self._core.person_seen(PersonSeen(self.user))
            self._joined = True

    async def handle_line(self, line: str) -> str:
        await self.join()
        words = line.strip().split()
        if not words:
            return ""
        head = words[0].lower()
        if head in ("/alignment", "alignment"):
            return await self._command(line.strip().split(None, 1)[1] if len(words) > 1 else "")
        if head == "answer":
            return await self._answer(words[1:])
        if head == "poll" and len(words) == 2 and words[1].isdigit():
            return await self._show_poll(int(words[1]))
        if head == "inbox":
            return await self.unread(show_all=True) or "Your inbox is empty."
        if head in ("help", "?"):
            return CONSOLE_HELP
        return f"I don't know '{words[0]}'. {CONSOLE_HELP}"

    async def unread(self, *, show_all: bool = False) -> str:
        """Messages sent to this person since the last look (all of them with show_all)."""
        fresh = [m for m in await self._messages() if show_all or m.key not in self._seen]
        self._seen.update(m.key for m in fresh)
        return _as_text(fresh)

    async def catch_up(self, latest: int = CATCH_UP_MESSAGES) -> str:
        """What to show on login: the newest few messages, and how many older ones `inbox`
        shows. A long-lived channel's whole backlog on every login buries the new poll."""
        messages = await self._messages()
        self._seen.update(m.key for m in messages)
        older = len(messages) - latest
        shown = _as_text(messages[-latest:] if latest else [])
        if older <= 0:
            return shown
        note = f"({older} earlier message{'' if older == 1 else 's'}: type inbox to see them)"
        return f"{note}\n\n{shown}" if shown else note

    async def _messages(self) -> list[InboxMessage]:
        dm = await self._port.open_dm(self.user)
        messages = await self._port.inbox(dm) + await self._port.inbox(self._channel)
        return sorted(messages, key=lambda m: m.key.split("|")[-1])

    async def _command(self, text: str) -> str:
        result = await self._core.handle_command(
            CommandInvoked(
                event_id=f"console-{uuid.uuid4()}",
                user=self.user,
                text=text,
                conversation=self._channel,
            )
        )
        if result.effect is CommandEffect.OPEN_RESEARCH_IMPORT:
            return "In the console, name the file: /alignment research import FILE [segment:NAME]"
        if result.in_channel and result.report is not None:
            await self._port.post_report(self._channel, result.report)
            return await self.unread()
        text = terminal_text(result.text)
        return text if result.ok else f"Error: {text}"

    async def _answer(self, words: list[str]) -> str:
        if len(words) < 2 or not all(w.isdigit() for w in words):
            return "Usage: answer ROUND N1 N2 N3 (numbers from the poll, best first)"
        round_id = int(words[0])
        poll = await self._core.poll_for(self.user, round_id)
        if poll is None:
            return f"There is no round {round_id}."
        numbers = [int(w) for w in words[1:]]
        if any(not 1 <= n <= len(poll.options) for n in numbers):
            return f"Pick numbers between 1 and {len(poll.options)}."
        ranking = tuple(poll.options[n - 1].value for n in numbers)
        outcome = await self._core.submit_answer(
            AnswerSubmitted(
                event_id=f"console-{uuid.uuid4()}",
                user=self.user,
                round_id=round_id,
                ranking=ranking,
            )
        )
        return outcome.message

    async def _show_poll(self, round_id: int) -> str:
        poll = await self._core.poll_for(self.user, round_id)
        return (
            f"There is no round {round_id}."
            if poll is None
            else render_poll_text(poll, ANSWER_SYNTAX)
        )


def _as_text(messages: list[InboxMessage]) -> str:
    return "\n\n".join(f"[{_where(m.conversation_id)}] {m.text}" for m in messages)


def _where(conversation_id: str) -> str:
    return "DM" if conversation_id.startswith("dm:") else f"#{conversation_id}"
