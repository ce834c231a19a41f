"""What a person sees when the core fails slowly (a database that hangs instead of refusing).

A failure within Slack's budget becomes an error in the modal (see test_db_faults). A failure
after the adapter has already acknowledged the modal must still reach the person somehow."""

from __future__ import annotations

import asyncio

import pytest

from adapters.slack import render
from adapters.slack.inbound import CORE_BUDGET_SECONDS
from adapters.slack.parse import PollMeta
from bot.model.events import AnswerOutcome, AnswerSubmitted
from tests.fakes.slack_api import FakeSlackApi
from tests.slack import payloads
from tests.slack.conftest import Server
from tests.slack.fake_core import FakeCore


class SlowlyFailingCore(FakeCore):
    async def submit_answer(self, event: AnswerSubmitted) -> AnswerOutcome:
        self.answer_calls.append(event)
        await asyncio.sleep(CORE_BUDGET_SECONDS + 0.3)
        raise ConnectionRefusedError(111, "Connect call failed")


@pytest.fixture
def slack_core() -> FakeCore:
    return SlowlyFailingCore()


async def test_a_late_core_failure_is_shown_to_the_person(
    slack: Server, slack_core: FakeCore, fake_slack: FakeSlackApi
) -> None:
    submission = payloads.view_submission(
        callback_id=render.CALLBACK_POLL,
        values=payloads.picks("price", "speed", "support"),
        private_metadata=PollMeta(7, 3, "DADA", "1700000001.000100").encode(),
    )
    response = await slack.interact(submission)
    assert response.status == 200
    assert slack_core.answer_calls
    told = [
        call
        for method in ("chat.postMessage", "chat.update", "chat.postEphemeral")
        for call in fake_slack.calls_to(method)
    ]
    for _ in range(40):
        if told:
            break
        await asyncio.sleep(0.05)
        told = [
            call
            for method in ("chat.postMessage", "chat.update", "chat.postEphemeral")
            for call in fake_slack.calls_to(method)
        ]
    assert told, [c.method for c in fake_slack.calls]
