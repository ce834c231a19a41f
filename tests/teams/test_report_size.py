"""A Teams report is one activity within Teams' message size, whatever chart it carries.

Teams documents a limit of about 28 KB per message (card JSON and attachments included); the
adapter keeps each activity under ``MAX_ACTIVITY_BYTES`` (25,000): the chart is served by the
bot at a signed URL when TEAMS_PUBLIC_URL is set, else shrunk into the card, else left out."""

from __future__ import annotations

import base64
import io
import random
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from PIL import Image

from adapters.teams import TeamsAdapter, TeamsSettings
from adapters.teams.charts import CHARTS_ROUTE, ChartHost
from adapters.teams.port import MAX_ACTIVITY_BYTES, activity_bytes, report_message
from bot.model.defaults import MAX_ATTRIBUTES
from bot.model.domain import ConversationRef
from bot.model.events import CommandResult
from bot.model.views import Figures, GroupLine, ReportView, SurpriseKind, SurpriseLine, TrendLine
from bot.reports.chart import ChartData, render_chart
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.records import MemoryRecords
from tests.teams.conftest import BOT, FakeCore, Harness, card_validator, installed, serve
from tests.teams.test_outbound import CHANNEL, TEAM, WS

TEAMS_LIMIT = 28 * 1024  # Microsoft's documented ceiling for a bot message
PUBLIC = "https://bot.example.com"
CARD = "application/vnd.microsoft.card.adaptive"


def long_names() -> tuple[str, ...]:
    # Attribute names may be 80 characters long (bot.commands.handlers._attribute_name).
    return tuple(
        f"Attribute {i:02d}: " + "very long description of what customers value " * 2
        for i in range(MAX_ATTRIBUTES)
    )[:MAX_ATTRIBUTES]


def largest_chart() -> bytes:
    """The biggest chart a report can draw: 12 attributes with 80-character names, surprises,
    and a trend over many rounds."""
    names = tuple(name[:80] for name in long_names())
    rng = random.Random(13)
    return render_chart(
        ChartData(
            attributes=names,
            employee_share=tuple(rng.random() for _ in names),
            customer_share=tuple(rng.random() for _ in names),
            surprises={names[0]: SurpriseKind.BLIND_SPOT, names[5]: SurpriseKind.OVERRATED},
            k=3,
            title="Do we know what our customers value? — staff vs customers, top 3 share",
            trend=tuple(
                (f"Round {i} (2030-{i:02d}-01)", rng.randint(0, 100)) for i in range(1, 13)
            ),
        )
    )


def big_report(chart: bytes) -> ReportView:
    figures = Figures(14, 62, 0.41, 0.01, 2, 3, 0.35, ("a", "b", "c"), ("c", "a", "b"))
    names = long_names()
    return ReportView(
        title="Do we know what our customers value?",
        round_label="Round 12 (2030-12-01)",
        generated_at=figures_time(),
        invited=20,
        figures=figures,
        agreement_label="moderate agreement",
        research_label="2030 customer survey (n=212)",
        surprises=tuple(
            SurpriseLine(n[:80], SurpriseKind.BLIND_SPOT, 0.1, 0.6, 0.01) for n in names[:4]
        ),
        teams=tuple(GroupLine(f"Team {i}", figures) for i in range(10)),
        segments=(GroupLine("enterprise", figures), GroupLine("smb", None)),
        trend=(TrendLine("Alignment score", 41, 62),),
        chart_png=chart,
    )


def figures_time() -> Any:
    from datetime import UTC, datetime

    return datetime(2030, 12, 4, 9, 0, tzinfo=UTC)


def chart_url(message: dict[str, Any]) -> str | None:
    card = message["attachments"][0]["content"]
    images = [e["url"] for e in card["body"] if e.get("type") == "Image"]
    return images[0] if images else None


def inline_image(message: dict[str, Any]) -> bytes | None:
    url = chart_url(message) or ""
    prefix = "data:image/png;base64,"
    return base64.b64decode(url.removeprefix(prefix)) if url.startswith(prefix) else None


def typical_chart() -> bytes:
    names = ("price", "product quality", "reliability", "delivery speed", "customer support")
    names += ("ease of use", "innovation", "relationship/trust")
    shares = tuple(i / 10 for i in range(8))
    return render_chart(ChartData(names, shares, shares[::-1], {}, 3, "Round 2 — top 3 share"))


@pytest.fixture
async def hosted(
    connector: FakeBotConnector, core: FakeCore, records: MemoryRecords
) -> AsyncIterator[tuple[Harness, str]]:
    """A Teams adapter whose public address is https://bot.example.com; the second value is
    where that address really is in the test."""
    settings = TeamsSettings(_env_file=None, enabled=True, public_url=PUBLIC, app_password="s3cret")
    adapter = TeamsAdapter(settings=settings, core=core, records=records)
    runner, url = await serve(adapter)
    async with aiohttp.ClientSession() as session:
        yield (
            Harness(url, connector, core, records, adapter, session),
            url.removesuffix("/api/messages"),
        )
    await runner.cleanup()


async def test_the_largest_chart_is_served_by_the_bot_at_a_signed_url(
    hosted: tuple[Harness, str],
) -> None:
    harness, base = hosted
    await harness.post(
        harness.activity("conversationUpdate", channel=CHANNEL, team=TEAM, membersAdded=[BOT])
    )
    harness.connector.calls.clear()
    chart = largest_chart()
    assert len(chart) * 4 // 3 > TEAMS_LIMIT  # could never travel inside the message
    await harness.adapter.port.post_report(ConversationRef(WS, CHANNEL), big_report(chart))
    [sent] = harness.connector.sent()
    assert sent.body is not None
    assert [a["contentType"] for a in sent.body["attachments"]] == [CARD]
    size = activity_bytes(sent.body)
    assert size <= MAX_ACTIVITY_BYTES, size
    url = chart_url(sent.body)
    assert url is not None
    assert url.startswith(f"{PUBLIC}/teams/charts/")
    local = url.replace(PUBLIC, base)
    async with harness.session.get(local) as response:
        assert response.status == 200
        assert response.content_type == "image/png"
        assert await response.read() == chart
    forged = re.sub(r"sig=[0-9a-f]+", "sig=" + "0" * 64, local)
    longer = re.sub(r"expires=(\d+)", lambda m: f"expires={int(m.group(1)) + 1}", local)
    for bad in (forged, longer, local.split("?")[0]):
        async with harness.session.get(bad) as response:
            assert response.status == 403, bad
    print(f"largest chart {len(chart)} B served by URL; activity {size} B")


async def test_a_chart_url_expires() -> None:
    now = [1_000.0]
    records = MemoryRecords()
    host = ChartHost(
        records=records, base_url="https://h", secret=b"k", ttl_seconds=60, clock=lambda: now[0]
    )
    url = await host.url_for(b"png")
    app = web.Application()
    app.router.add_get(CHARTS_ROUTE, host.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    local = url.replace("https://h", f"http://127.0.0.1:{port}")
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(local) as response:
                assert (response.status, await response.read()) == (200, b"png")
            now[0] += 61
            async with session.get(local) as response:
                assert response.status == 403
    finally:
        await runner.cleanup()


def test_without_a_public_url_a_typical_chart_is_shrunk_into_the_card() -> None:
    chart = typical_chart()
    message = report_message(big_report(chart), "Round 12 is closed.")
    size = activity_bytes(message)
    assert size <= MAX_ACTIVITY_BYTES, size
    shown = inline_image(message)
    assert shown is not None
    with Image.open(io.BytesIO(shown)) as image:
        assert image.format == "PNG"
        assert image.width >= 480  # smaller, still readable
    card_validator().validate(message["attachments"][0]["content"])
    print(f"typical chart {len(chart)} B, shrunk to {len(shown)} B; activity {size} B")


def test_without_a_public_url_the_largest_chart_is_left_out_with_a_word() -> None:
    message = report_message(big_report(largest_chart()))
    assert activity_bytes(message) <= MAX_ACTIVITY_BYTES
    assert chart_url(message) is None
    assert "The chart is too large for a Teams message" in str(message)


def test_a_chart_that_is_not_a_png_is_left_out() -> None:
    message = report_message(big_report(b"\x89PNG" * 10_000))
    assert activity_bytes(message) <= MAX_ACTIVITY_BYTES
    assert chart_url(message) is None


async def test_report_and_poll_close_replies_are_one_message_each(harness: Harness) -> None:
    # Issue #13 changed this: the core's Markdown went out first as a text message.
    await harness.post(installed(harness.connector.url))
    report = big_report(largest_chart())
    for note in ("", "Round 12 is closed."):
        harness.core.command_result = CommandResult(
            text="# Markdown\n\n| Team | n |", report=report, note=note
        )
        harness.connector.calls.clear()
        await harness.post(harness.activity("message", text="report"))
        [sent] = harness.connector.sent()
        assert sent.body is not None
        assert sent.body.get("text") == (note or None)
        assert sent.body["summary"] == (
            "Do we know what our customers value? (Round 12 (2030-12-01)): alignment score "
            "62/100, moderate agreement, top-3 match 2 of 3, 14 of 20 (70%) answered. "
            f"Blind spots: {', '.join(n[:80] for n in long_names()[:4])}."
        )
        card = sent.body["attachments"][0]["content"]
        assert card["fallbackText"] == sent.body["summary"]
        assert "#" not in sent.body["summary"]
        assert "|" not in sent.body["summary"]
