"""Poll DMs brought up to date after answers, behind the acknowledgements.

After an answer the person's poll message is edited to show it (``chat.update``). That edit is
a courtesy: the answer is already stored and the modal already closed. Made at once, those
edits competed with the acknowledgements of the answers still arriving and were a fifth of the
server's CPU under a burst (``bench/ack.py``). Here they wait in a queue while Slack requests
arrive over HTTP, and go out, a few at a time, once the server is quiet. Sending starts when
the oldest edit has waited ``max_delay`` even if the server is still busy, so a steady stream
of answers cannot starve them. (Socket Mode requests do not pass through ``Traffic``: there
the edits go out at once.) Only the latest state of a message is kept: an
answer changed twice before its edit went out costs one edit. ``chat.update`` is also rate
limited per workspace (Tier 3), so fewer, later edits are what Slack wants too.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Final

from adapters.slack.port import SlackPort
from bot.model.domain import MessageRef
from bot.model.ports import DeliveryError
from bot.model.views import PollView

MAX_DELAY_SECONDS: Final = 5.0
QUIET_AFTER_SECONDS: Final = 0.1
IN_FLIGHT: Final = 4  # edits sent at once once the server is quiet
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Edit:
    message: MessageRef
    poll: PollView
    notice: str | None
    queued_at: float


class Traffic:
    """Whether the server is answering Slack requests: quiet once none has come for a moment.

    "None in flight" alone is not quiet: between one request's response and the next one's
    arrival the count touches zero many times a second under a burst."""

    def __init__(self, *, quiet_after: float = QUIET_AFTER_SECONDS) -> None:
        self._quiet_after = quiet_after
        self._busy = 0
        self._last = -float("inf")

    def __enter__(self) -> None:
        self._busy += 1
        self._last = time.monotonic()

    def __exit__(self, *_: object) -> None:
        self._busy -= 1
        self._last = time.monotonic()

    @property
    def in_flight(self) -> int:
        return self._busy

    def calm_in(self) -> float:
        """Seconds until the server counts as quiet if no request comes; 0 when it is."""
        if self._busy:
            return self._quiet_after
        return max(0.0, self._last + self._quiet_after - time.monotonic())


class PollRefresh:
    """A queue of poll-message edits, one per message, sent when the server is quiet."""

    def __init__(
        self,
        port: SlackPort,
        traffic: Traffic,
        *,
        max_delay: float = MAX_DELAY_SECONDS,
        in_flight: int = IN_FLIGHT,
    ) -> None:
        self._port = port
        self._traffic = traffic
        self._max_delay = max_delay
        self._in_flight = in_flight
        self._pending: OrderedDict[tuple[str, str, str], _Edit] = OrderedDict()
        self._sender: asyncio.Task[None] | None = None
        self._hurry = False

    def put(self, message: MessageRef, poll: PollView, notice: str | None = None) -> None:
        """Show ``poll`` in ``message``; replaces an edit of the same message not yet sent."""
        conversation = message.conversation
        key = (conversation.workspace.external_id, conversation.conversation_id, message.message_id)
        earlier = self._pending.get(key)
        # A replaced edit keeps its place in the queue, so changing an answer never delays it.
        queued_at = earlier.queued_at if earlier else time.monotonic()
        self._pending[key] = _Edit(message, poll, notice, queued_at)
        if self._sender is None or self._sender.done():
            self._sender = asyncio.get_running_loop().create_task(self._send_all())

    async def idle(self) -> None:
        """Wait until every edit queued so far is sent (or failed)."""
        while self._sender is not None and not self._sender.done():
            await asyncio.shield(self._sender)

    def stop_waiting(self) -> None:
        """From now on send edits at once, quiet or not (shutdown)."""
        self._hurry = True

    async def _send_all(self) -> None:
        while self._pending:
            await self._wait_for_quiet(next(iter(self._pending.values())))
            batch = [self._pending.popitem(last=False)[1] for _ in range(self._next_count())]
            await asyncio.gather(*(self._send(edit) for edit in batch))

    async def _wait_for_quiet(self, oldest: _Edit) -> None:
        while not self._hurry:
            overdue_in = oldest.queued_at + self._max_delay - time.monotonic()
            calm_in = self._traffic.calm_in()
            if calm_in <= 0 or overdue_in <= 0:
                return
            await asyncio.sleep(min(calm_in, overdue_in))

    def _next_count(self) -> int:
        return min(self._in_flight, len(self._pending))

    async def _send(self, edit: _Edit) -> None:
        try:
            await self._port.update_poll(edit.message, edit.poll, notice=edit.notice)
        except DeliveryError as error:
            _log.warning("poll update failed: %s", error)
        except Exception:
            # Anything else must not stop the edits queued behind this one.
            _log.exception("poll update failed")
