"""Inbound Teams traffic over real HTTP: install, commands, poll submissions, invokes."""

from __future__ import annotations

import pytest

from bot.model.domain import ConversationKind, UserRef, WorkspaceRef
from bot.model.events import CommandEffect, CommandResult
from bot.model.views import PollState
from tests.teams.conftest import ALICE, BOT, TENANT, Harness, installed, sample_poll

WS = WorkspaceRef("teams", TENANT)
CHANNEL = "19:sales@thread.tacv2"


async def install_personal(h: Harness) -> None:
    response = await h.post(installed(h.connector.url))
    assert response.status == 200


def answer_submit(h: Harness, picks: list[str], card_id: str = "activity-1") -> dict[str, object]:
    value = {"action": "answer", "round_id": 7}
    value.update({f"rank_{i}": pick for i, pick in enumerate(picks, 1)})
    return h.activity("message", value=value, replyToId=card_id)


def card_texts(card: dict[str, object]) -> str:
    return str(card)


async def test_unauthenticated_message_reaches_core_and_gets_reply(harness: Harness) -> None:
    response = await harness.post(harness.activity("message", text="alignment report team:sales"))

    assert response.status == 200
    [command] = harness.core.commands
    assert command.text == "report team:sales"
    assert command.user == UserRef(WS, "aad-alice")
    assert command.conversation is not None
    assert command.conversation.kind is ConversationKind.DM
    [reply] = harness.connector.sent()
    assert reply.body is not None
    assert reply.body["text"] == "done"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<at>Alignment</at> report", "report"),
        ("<at>Alignment</at> alignment report team:sales", "report team:sales"),
        ("<at>Alignment</at>&nbsp;/alignment poll now", "poll now"),
        ("<at>Alignment</at>", "help"),
    ],
)
async def test_channel_mention_commands_are_stripped(
    harness: Harness, text: str, expected: str
) -> None:
    harness.core.command_result = CommandResult(text="posted", in_channel=True)
    message = harness.activity("message", text=text, channel=CHANNEL, team="19:team")

    assert (await harness.post(message)).status == 200

    [command] = harness.core.commands
    assert command.text == expected
    assert command.event_id == message["id"]
    assert command.conversation is not None
    assert command.conversation.conversation_id == CHANNEL
    assert command.conversation.kind is ConversationKind.CHANNEL
    [reply] = harness.connector.sent()
    assert reply.conversation_id == CHANNEL


async def test_private_result_of_channel_command_goes_to_the_1to1(harness: Harness) -> None:
    await install_personal(harness)
    harness.connector.calls.clear()

    await harness.post(harness.activity("message", text="<at>Alignment</at> me", channel=CHANNEL))

    [reply] = harness.connector.sent()
    assert reply.conversation_id == "a:dm-aad-alice"
    assert reply.body is not None
    assert reply.body["text"] == "done"


async def test_research_import_card_and_submission(harness: Harness) -> None:
    harness.core.command_result = CommandResult(
        text="Paste your research.", effect=CommandEffect.OPEN_RESEARCH_IMPORT
    )
    await harness.post(harness.activity("message", text="research import"))
    card = harness.connector.cards()[-1]
    assert any(e.get("id") == "research_csv" and e.get("isMultiline") for e in card["body"])

    empty = harness.activity("message", value={"action": "research"}, replyToId="activity-2")
    await harness.post(empty)
    assert not harness.core.research
    assert "Paste the CSV first" in card_texts(harness.connector.updates()[-1].body or {})

    harness.core.research_result = CommandResult(text="Unknown attribute 'colour'", ok=False)
    value = {"action": "research", "research_csv": "a,b\n1,2", "research_segment": "SMB"}
    await harness.post(harness.activity("message", value=value, replyToId="activity-2"))
    [event] = harness.core.research
    assert event.text == "a,b\n1,2"
    assert event.segment == "SMB"
    assert event.source is None
    shown = card_texts(harness.connector.updates()[-1].body or {})
    assert "Unknown attribute" in shown
    assert "a,b" in shown


async def test_submit_with_duplicate_picks_is_refused_on_the_card(harness: Harness) -> None:
    response = await harness.post(answer_submit(harness, ["price", "price", "speed"]))

    assert response.status == 200
    assert harness.core.answers == []
    [update] = harness.connector.updates()
    assert update.activity_id == "activity-1"
    card = harness.connector.cards()[-1]
    error = next(e for e in card["body"] if e.get("id") == "error")
    assert "more than once" in error["text"]
    # What was picked stays on the card so it can be fixed.
    assert [e.get("value") for e in card["body"] if e["type"] == "Input.ChoiceSet"] == [
        "price",
        "price",
        "speed",
    ]


async def test_submit_with_missing_pick_is_refused(harness: Harness) -> None:
    await harness.post(answer_submit(harness, ["price", "", "speed"]))

    assert harness.core.answers == []
    assert "missing: 2nd" in card_texts(harness.connector.cards()[-1])


async def test_valid_submit_is_recorded_and_card_shows_answer(harness: Harness) -> None:
    submit = answer_submit(harness, ["quality", "price", "speed"], card_id="activity-9")
    await harness.post(submit)

    [answer] = harness.core.answers
    assert answer.ranking == ("quality", "price", "speed")
    assert answer.event_id == submit["id"]
    assert answer.user == UserRef(WS, "aad-alice")
    assert answer.message is not None
    assert answer.message.message_id == "activity-9"
    [update] = harness.connector.updates()
    card = harness.connector.cards()[-1]
    assert "Build quality" in card_texts(card)
    assert card["actions"][0]["title"] == "Change my answer"
    assert update.activity_id == "activity-9"

    # "Change my answer" reopens the choices with the recorded answer filled in.
    harness.core.poll = sample_poll(PollState.ANSWERED, ("quality", "price", "speed"))
    change = harness.activity(
        "message", value={"action": "change", "round_id": 7}, replyToId="activity-9"
    )
    await harness.post(change)
    reopened = harness.connector.cards()[-1]
    assert [e.get("value") for e in reopened["body"] if e["type"] == "Input.ChoiceSet"] == [
        "quality",
        "price",
        "speed",
    ]


async def test_universal_action_invoke_answers_with_the_card(harness: Harness) -> None:
    value = {
        "action": {
            "type": "Action.Execute",
            "verb": "answer",
            "data": {"round_id": 7, "rank_1": "speed", "rank_2": "price", "rank_3": "range"},
        },
        "trigger": "manual",
    }
    response = await harness.post(
        harness.activity("invoke", name="adaptiveCard/action", value=value, replyToId="activity-3")
    )
    assert response.status == 200
    assert harness.core.answers[0].ranking == ("speed", "price", "range")


async def test_unknown_invoke_is_a_clean_501(harness: Harness) -> None:
    async with harness.session.post(
        harness.url, json=harness.activity("invoke", name="composeExtension/query", value={})
    ) as response:
        assert response.status == 501
        body = await response.json()
    assert body["error"]["code"] == "NotImplemented"
    assert not harness.core.touched


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        "[1, 2]",
        {"id": "x"},
        {"type": "message", "from": {"id": "u"}, "conversation": {"id": "c"}},
        {"type": "message", "serviceUrl": "http://127.0.0.1:9/", "conversation": {"id": "c"}},
        {
            "type": "message",
            "serviceUrl": "ftp://x",
            "from": {"id": "u"},
            "conversation": {"id": "c"},
        },
        {
            "type": "conversationUpdate",
            "serviceUrl": "http://127.0.0.1:9/",
            "from": {"id": "u"},
            "conversation": {"id": "c"},
            "membersAdded": "everyone",
        },
    ],
)
async def test_malformed_activity_is_400(harness: Harness, body: object) -> None:
    response = await harness.post(body)
    assert response.status == 400
    assert not harness.core.touched


async def test_install_greets_once_and_registers_the_person(harness: Harness) -> None:
    update = harness.activity("conversationUpdate", membersAdded=[BOT])
    await harness.post(update)
    await harness.post(installed(harness.connector.url))

    assert [s.user for s in harness.core.seen] == [UserRef(WS, "aad-alice")] * 2
    greetings = harness.connector.sent()
    assert len(greetings) == 1
    assert "Hello Alice" in card_texts(harness.connector.cards()[0])


async def test_team_members_added_are_seen(harness: Harness) -> None:
    bob = {"id": "29:bob", "name": "Bob", "aadObjectId": "aad-bob"}
    update = harness.activity(
        "conversationUpdate", channel="19:team", team="19:team", membersAdded=[bob], sender=ALICE
    )
    await harness.post(update)
    assert [s.user.user_id for s in harness.core.seen] == ["aad-bob"]
