"""/alignment, the research import modal and App Home, through signed HTTP requests."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from bot.commands.parser import help_view
from bot.model.domain import ConversationKind, Role
from bot.model.events import CommandEffect, CommandResult
from bot.model.views import Figures, ReportView
from tests.fakes.slack_api import FakeSlackApi
from tests.slack import payloads
from tests.slack.conftest import Server
from tests.slack.fake_core import FakeCore

PNG = b"\x89PNG\r\n\x1a\n" + b"chart" * 10


def report() -> ReportView:
    figures = Figures(
        respondents=8,
        alignment_score=61,
        kendall_w=0.4,
        kendall_w_p=0.01,
        top_hits=2,
        k=3,
        spearman=0.5,
        staff_top=("Low price", "Speed", "Range"),
        customer_top=("Quality", "Low price", "Speed"),
    )
    return ReportView(
        title="Alignment report",
        round_label="May 2030",
        generated_at=datetime(2030, 5, 18, tzinfo=UTC),
        invited=10,
        figures=figures,
        agreement_label="moderate agreement",
        chart_png=PNG,
    )


async def test_command_reaches_core_and_reply_arrives_via_response_url(
    server: Server, core: FakeCore, fake_slack: FakeSlackApi
) -> None:
    core.command_result = CommandResult(text="Round 7 is open until Friday.")
    body = payloads.slash_command(response_url=fake_slack.response_url("cmd"), text=" status ")
    response = await server.signed(body)
    assert response.status == 200
    replies = await fake_slack.wait_for_response("cmd")
    assert replies[0]["text"] == "Round 7 is open until Friday."
    assert replies[0]["response_type"] == "ephemeral"
    (event,) = core.commands
    assert event.text == "status"
    assert event.user.key == "slack:T0001:UADA"
    assert event.user_is_platform_admin is True  # from users.info is_admin
    assert event.conversation is not None
    assert event.conversation.kind is ConversationKind.CHANNEL
    assert event.event_id.endswith("13345224609.738474920.8088930838d88f")


async def test_a_command_with_the_word_payload_in_it_still_reaches_the_core(
    server: Server, core: FakeCore, fake_slack: FakeSlackApi
) -> None:
    # Bolt reads any form containing "payload" as an interaction; a logistics company's
    # attribute must not make the command vanish.
    body = payloads.slash_command(
        response_url=fake_slack.response_url("cmd"), text="attributes add payload capacity"
    )
    response = await server.signed(body)
    assert response.status == 200
    await fake_slack.wait_for_response("cmd")
    (event,) = core.commands
    assert event.text == "attributes add payload capacity"


async def test_command_in_dm_and_admin_lookup_is_cached(
    server: Server, core: FakeCore, fake_slack: FakeSlackApi
) -> None:
    for n in range(2):
        body = payloads.slash_command(
            response_url=fake_slack.response_url(f"dm{n}"),
            user="UBOB",
            channel="DBOB",
            channel_name="directmessage",
            trigger_id=f"trig-{n}",
        )
        assert (await server.signed(body)).status == 200
        await fake_slack.wait_for_response(f"dm{n}")
    assert [c.conversation.kind for c in core.commands if c.conversation] == [
        ConversationKind.DM,
        ConversationKind.DM,
    ]
    assert not core.commands[0].user_is_platform_admin
    assert len(fake_slack.calls_to("users.info")) == 1


async def test_in_channel_report_is_one_message_with_blocks_and_one_chart(
    server: Server, core: FakeCore, fake_slack: FakeSlackApi
) -> None:
    # Issue #13 changed this: the core's Markdown used to go out first through response_url.
    core.command_result = CommandResult(
        text="# Alignment report\n\n| Team | n |", in_channel=True, report=report()
    )
    body = payloads.slash_command(response_url=fake_slack.response_url("rep"), text="report")
    assert (await server.signed(body)).status == 200
    (complete,) = await fake_slack.wait_for("files.completeUploadExternal")
    await server.adapter.idle()
    (post,) = fake_slack.calls_to("chat.postMessage")
    assert post.params["channel"] == "C0GENERAL"
    blocks = post.params["blocks"]
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    assert blocks[0]["type"] == "header"
    # The fallback is what a notification shows: plain sentences, no Markdown.
    assert post.params["text"] == (
        "Alignment report (May 2030): alignment score 61/100, moderate agreement, "
        "top-3 match 2 of 3, 8 of 10 (80%) answered."
    )
    assert fake_slack.responses.get("rep") is None  # nothing through response_url
    assert complete.params["channel_id"] == "C0GENERAL"
    assert complete.params["thread_ts"] == "1700000001.000100"
    assert list(fake_slack.uploads.values()) == [PNG]


async def test_private_report_reply_is_one_response_with_its_note_and_blocks(
    server: Server, core: FakeCore, fake_slack: FakeSlackApi
) -> None:
    core.command_result = CommandResult(
        text="Round 7 is closed.\n\n# Alignment report", report=report(), note="Round 7 is closed."
    )
    body = payloads.slash_command(response_url=fake_slack.response_url("close"), text="poll close")
    assert (await server.signed(body)).status == 200
    (reply,) = await fake_slack.wait_for_response("close")
    await server.adapter.idle()
    assert reply["response_type"] == "ephemeral"
    assert reply["text"].startswith("Round 7 is closed. Alignment report (May 2030): ")
    assert "#" not in reply["text"]
    assert "|" not in reply["text"]
    assert reply["blocks"][0]["text"]["text"] == "Round 7 is closed."
    assert reply["blocks"][1]["type"] == "header"
    assert fake_slack.calls_to("chat.postMessage") == []


async def test_research_import_opens_modal_and_errors_go_next_to_field(
    server: Server, core: FakeCore, fake_slack: FakeSlackApi
) -> None:
    core.command_result = CommandResult(text="", effect=CommandEffect.OPEN_RESEARCH_IMPORT)
    body = payloads.slash_command(response_url=fake_slack.response_url("imp"), text="import")
    assert (await server.signed(body)).status == 200
    (opened,) = await fake_slack.wait_for("views.open")
    assert opened.params["trigger_id"] == "13345224609.738474920.8088930838d88f"
    view = opened.params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["callback_id"] == "research_import_submit"
    kinds = {b["block_id"]: b["element"]["type"] for b in view["blocks"] if b["type"] == "input"}
    assert kinds["csv_text"] == "plain_text_input"
    assert kinds["csv_file"] == "file_input"

    # Nothing pasted or picked: error next to the text field, core untouched.
    empty = payloads.view_submission(
        callback_id="research_import_submit", values=payloads.research_values()
    )
    async with server.session.post(
        server.url + "/slack/events",
        data=payloads.interaction(empty),
        headers=payloads.signed_headers(payloads.interaction(empty)),
    ) as response:
        answer = await response.json()
    assert answer["response_action"] == "errors"
    assert "csv_text" in answer["errors"]
    assert core.research == []

    # The core refuses the CSV: its message goes next to the field that was used.
    core.research_result = CommandResult(text="Line 3: unknown attribute 'colour'", ok=False)
    pasted = payloads.view_submission(
        callback_id="research_import_submit",
        values=payloads.research_values(text="attribute,rank\ncolour,1", segment="SMB"),
    )
    answer = await _json(server, pasted)
    assert answer == {
        "response_action": "errors",
        "errors": {"csv_text": "Line 3: unknown attribute 'colour'"},
    }
    assert core.research[-1].segment == "SMB"
    assert core.research[-1].text.startswith("attribute,rank")


async def test_research_import_from_shared_file(
    server: Server, core: FakeCore, fake_slack: FakeSlackApi
) -> None:
    url = fake_slack.share_file("F0CSV", b"\xef\xbb\xbfattribute,rank\nprice,1\n")
    file = {
        "id": "F0CSV",
        "name": "survey.csv",
        "url_private": url,
        "url_private_download": url,
        "filetype": "csv",
    }
    submission = payloads.view_submission(
        callback_id="research_import_submit", values=payloads.research_values(file=file)
    )
    answer = await _json(server, submission)
    assert answer["response_action"] == "update"
    (event,) = core.research
    assert event.filename == "survey.csv"
    assert event.text == "attribute,rank\nprice,1\n"

    core.research_result = CommandResult(text="No rows found", ok=False)
    again = payloads.view_submission(
        callback_id="research_import_submit",
        view_id="V0OTHER",
        values=payloads.research_values(file=file),
    )
    assert (await _json(server, again))["errors"] == {"csv_file": "No rows found"}


async def test_app_home_is_published(
    server: Server, core: FakeCore, fake_slack: FakeSlackApi
) -> None:
    body = payloads.app_home_opened()
    assert (await server.signed(body, content_type="application/json")).status == 200
    (published,) = await fake_slack.wait_for("views.publish")
    assert published.params["user_id"] == "UADA"
    view = published.params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["type"] == "home"
    assert core.homes[0].key == "slack:T0001:UADA"


async def _json(server: Server, payload: dict[str, object]) -> dict[str, object]:
    body = payloads.interaction(payload)
    async with server.session.post(
        server.url + "/slack/events", data=body, headers=payloads.signed_headers(body)
    ) as response:
        assert response.status == 200
        result: dict[str, object] = await response.json()
        return result


async def test_help_arrives_as_slack_blocks(
    server: Server, core: FakeCore, fake_slack: FakeSlackApi
) -> None:
    view = help_view(Role.EMPLOYEE)
    core.command_result = CommandResult(text="plain help", help=view)
    body = payloads.slash_command(response_url=fake_slack.response_url("help"), text="help")
    assert (await server.signed(body)).status == 200
    (reply,) = await fake_slack.wait_for_response("help")
    shown = "\n".join(b["text"]["text"] for b in reply["blocks"])
    assert shown.startswith(f"*{view.title}*")
    assert "• `/alignment me` — " in shown
