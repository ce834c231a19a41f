"""Proactive sending through stored references: restart, uninstall, 429s, rosters, reports."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adapters.teams import TeamsAdapter, TeamsSettings
from bot.model.domain import (
    AudienceKind,
    AudienceSource,
    ConversationKind,
    ConversationRef,
    MessageRef,
    UserRef,
    WorkspaceRef,
)
from bot.model.ports import DeliveryError
from bot.model.views import Figures, GroupLine, PollState, ReportView
from tests.teams.conftest import (
    BOT,
    TENANT,
    FakeCore,
    Harness,
    MemoryRecords,
    installed,
    sample_poll,
)

WS = WorkspaceRef("teams", TENANT)
ALICE_REF = UserRef(WS, "aad-alice", "Alice")
CHANNEL = "19:general@thread.tacv2"
TEAM = CHANNEL  # a team's id is its General channel's id


def new_adapter(
    records: MemoryRecords, core: FakeCore | None = None, **settings: object
) -> TeamsAdapter:
    config = TeamsSettings(_env_file=None, enabled=True, max_retry_wait=5, **settings)  # type: ignore[arg-type]
    return TeamsAdapter(settings=config, core=core or FakeCore(), records=records)


def report(chart: bytes | None = None) -> ReportView:
    figures = Figures(
        respondents=14,
        alignment_score=62,
        kendall_w=0.41,
        kendall_w_p=0.01,
        top_hits=2,
        k=3,
        spearman=0.35,
        staff_top=("Low price", "Fast delivery", "Wide range"),
        customer_top=("Build quality", "Low price", "Fast delivery"),
    )
    return ReportView(
        title="Customer alignment",
        round_label="May 2030",
        generated_at=datetime(2030, 5, 18, 9, 0, tzinfo=UTC),
        invited=20,
        figures=figures,
        agreement_label="moderate",
        research_label="2030 customer survey (n=212)",
        teams=(GroupLine("Sales", figures), GroupLine("Support", None)),
        chart_png=chart,
    )


async def test_install_then_restart_can_still_send_proactively(harness: Harness) -> None:
    await harness.post(installed(harness.connector.url))
    await harness.post(
        harness.activity("conversationUpdate", channel=CHANNEL, team=TEAM, membersAdded=[BOT])
    )
    harness.connector.calls.clear()

    # A new adapter over the same records: nothing is kept in memory between the two.
    port = new_adapter(harness.records).port
    dm = await port.open_dm(ALICE_REF)
    assert dm == ConversationRef(WS, "a:dm-aad-alice", ConversationKind.DM)
    poll_ref = await port.send_poll(dm, sample_poll())
    await port.post_report(ConversationRef(WS, CHANNEL), report())

    first, second = harness.connector.sent()
    # New messages, not replies to some old activity.
    assert (first.path, second.path) == (
        "/v3/conversations/a:dm-aad-alice/activities",
        f"/v3/conversations/{CHANNEL}/activities",
    )
    assert first.body is not None
    assert first.body["recipient"]["id"] == "29:alice"
    assert poll_ref == MessageRef(dm, "activity-2")  # activity-1 was the welcome card

    await port.update_poll(poll_ref, sample_poll(PollState.CLOSED, ("price", "speed", "range")))
    [update] = harness.connector.updates()
    assert update.path == "/v3/conversations/a:dm-aad-alice/activities/activity-2"
    assert "This poll closed" in str(update.body)


async def test_uninstall_forgets_the_conversation(harness: Harness) -> None:
    await harness.post(installed(harness.connector.url))
    await harness.post(
        harness.activity("conversationUpdate", channel=CHANNEL, team=TEAM, membersAdded=[BOT])
    )
    await harness.post(harness.activity("installationUpdate", action="remove"))
    await harness.post(
        harness.activity("conversationUpdate", channel=CHANNEL, team=TEAM, membersRemoved=[BOT])
    )
    assert harness.records.rows == {
        k: v for k, v in harness.records.rows.items() if k[1] == "person"
    }

    port = harness.adapter.port
    with pytest.raises(DeliveryError) as failure:
        await port.post_text(ConversationRef(WS, CHANNEL), "hello?")
    assert not failure.value.retryable
    assert "not installed" in str(failure.value)


async def test_429_is_waited_out_and_delivered_exactly_once(harness: Harness) -> None:
    await harness.post(installed(harness.connector.url))
    harness.connector.calls.clear()
    harness.connector.throttle_next = 1

    port = harness.adapter.port
    message = await port.post_text(await port.open_dm(ALICE_REF), "Reminder: the poll closes today")

    throttled = [c for c in harness.connector.calls if c.method == "THROTTLED"]
    assert len(throttled) == 1
    [delivered] = harness.connector.sent()
    assert delivered.body is not None
    assert delivered.body["text"].startswith("Reminder")
    assert message.message_id.startswith("activity-")


async def test_persistent_429_becomes_a_retryable_delivery_error(harness: Harness) -> None:
    await harness.post(installed(harness.connector.url))
    harness.connector.calls.clear()
    harness.connector.throttle_next = 10
    harness.connector.retry_after = "120"  # longer than we are willing to wait in-line

    port = harness.adapter.port
    with pytest.raises(DeliveryError) as failure:
        await port.post_text(await port.open_dm(ALICE_REF), "hi")
    assert failure.value.retryable
    assert failure.value.retry_after == 120
    assert harness.connector.sent() == []


async def test_unknown_person_without_team_is_a_clear_error(harness: Harness) -> None:
    with pytest.raises(DeliveryError, match="not installed the app") as failure:
        await harness.adapter.port.open_dm(UserRef(WS, "aad-nobody", "Nobody"))
    assert not failure.value.retryable


async def test_members_reads_all_pages_and_opens_1to1_with_new_people(harness: Harness) -> None:
    roster = [
        {"id": f"29:p{i}", "name": f"Person {i}", "aadObjectId": f"aad-p{i}"} for i in range(5)
    ]
    harness.connector.members[TEAM] = roster
    await harness.post(
        harness.activity("conversationUpdate", channel=CHANNEL, team=TEAM, membersAdded=[BOT])
    )
    port = harness.adapter.port

    people = await port.members(WS, AudienceSource(AudienceKind.CHANNEL, CHANNEL))
    assert [p.user_id for p in people] == [f"aad-p{i}" for i in range(5)]
    everyone = await port.members(WS, AudienceSource(AudienceKind.EVERYONE))
    assert {p.user_id for p in everyone} >= {f"aad-p{i}" for i in range(5)}

    # Person 3 never talked to the bot: a 1:1 is created through the connector.
    dm = await port.open_dm(UserRef(WS, "aad-p3"))
    create = next(c for c in harness.connector.calls if c.path == "/v3/conversations")
    assert create.body is not None
    assert create.body["members"] == [{"id": "29:p3"}]
    assert create.body["channelData"]["tenant"]["id"] == TENANT
    await port.post_text(dm, "Welcome")
    assert harness.connector.sent()[-1].conversation_id == dm.conversation_id
    # ... and it is remembered for next time.
    assert await port.open_dm(UserRef(WS, "aad-p3")) == dm


async def test_lookup_user_uses_teams_then_stored_data(harness: Harness) -> None:
    await harness.post(installed(harness.connector.url))
    harness.connector.members["a:dm-aad-alice"] = [
        {"id": "29:alice", "name": "Alice Liddell", "aadObjectId": "aad-alice"}
    ]
    profile = await harness.adapter.port.lookup_user(UserRef(WS, "aad-alice"))
    assert profile.display_name == "Alice Liddell"

    harness.connector.members.clear()  # the lookup now 404s: fall back to what we stored
    profile = await harness.adapter.port.lookup_user(UserRef(WS, "aad-alice"))
    assert profile.display_name == "Alice"


async def test_ephemeral_falls_back_to_a_1to1_message(harness: Harness) -> None:
    await harness.post(installed(harness.connector.url))
    harness.connector.calls.clear()
    await harness.adapter.port.post_ephemeral(ConversationRef(WS, CHANNEL), ALICE_REF, "psst")
    [sent] = harness.connector.sent()
    assert sent.conversation_id == "a:dm-aad-alice"
    assert sent.body is not None
    assert sent.body["text"] == "psst"
    assert harness.adapter.port.capabilities.ephemeral is False
