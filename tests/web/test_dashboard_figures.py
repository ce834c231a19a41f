"""Every number on every dashboard page equals the chat report's and report.json's figure for
the same round and scope. Each figure on a page carries a ``data-figure`` key; the test reads
all of them and fails on a key it cannot check, so a new number cannot slip in unchecked."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import aiohttp

from bot.model.records import RoundInfo
from bot.model.views import ReportView
from bot.reports.disclosure import public_json
from bot.reports.render_text import percent, render_report_text
from tests.web.conftest import browser
from tests.web.dashboard_world import Board

FIGURE = re.compile(r'data-figure="([^"]+)">([^<]*)<')


def _figures(page: str) -> dict[str, str]:
    found = {html.unescape(key): html.unescape(value) for key, value in FIGURE.findall(page)}
    assert found, page
    return found


def _signed(points: float) -> str:
    return f"{points:+.0f}"


async def _get(client: aiohttp.ClientSession, url: str) -> str:
    async with client.get(url) as response:
        assert response.status == 200, (url, await response.text())
        return await response.text()


class Truth:
    """The chat report and report.json of the board's rounds."""

    def __init__(self, board: Board) -> None:
        self.board = board

    async def report(
        self, round_info: RoundInfo, *, segment: str | None = None, team: str | None = None
    ) -> ReportView:
        workspace = await self.board.workspace()
        return await self.board.app.core.rounds.report(
            workspace, round_info, segment=segment, team=team, with_chart=False
        )

    async def json(self, round_info: RoundInfo) -> dict[str, Any]:
        workspace = await self.board.workspace()
        return public_json(await self.board.app.core.rounds.analysis(workspace, round_info))


def _segment_json(group: Mapping[str, Any], segment: str) -> Mapping[str, Any]:
    return next(s for s in group["segments"] if (s["customer_segment"] or "") == segment)


async def _check_overview(board: Board, truth: Truth, page: dict[str, str]) -> None:
    for round_info in board.rounds:
        report = await truth.report(round_info)
        payload = await truth.json(round_info)
        figures = report.figures
        assert figures is not None
        r = f"r{round_info.id}"
        assert (
            page.pop(f"{r}-respondents") == str(figures.respondents) == str(payload["respondents"])
        )
        assert page.pop(f"{r}-invited") == str(report.invited)
        assert report.response_rate is not None
        assert page.pop(f"{r}-rate") == percent(report.response_rate)
        assert page.pop(f"{r}-w") == f"{figures.kendall_w:.2f}" == f"{payload['kendall_w']:.2f}"
        for seg in payload["segments"]:
            name = seg["customer_segment"] or ""
            chat = (await truth.report(round_info, segment=name or None)).figures
            assert chat is not None
            shown = page.pop(f"{r}-score-{name}")
            assert shown == str(chat.alignment_score) == str(seg["alignment_score"])
            assert f"Alignment score: {shown}/100" in render_report_text(
                await truth.report(round_info, segment=name or None)
            )


async def _check_heatmap(
    board: Board, truth: Truth, round_info: RoundInfo, segment: str, page: dict[str, str]
) -> None:
    payload = await truth.json(round_info)
    customers = _segment_json(payload, segment)["customer_top_k_share"]
    groups = {"All staff": payload} | {
        name: team for name, team in payload["teams"].items() if not team["suppressed"]
    }
    for name, group in groups.items():
        for attribute, customer_share in customers.items():
            staff = group["employee_top_k_share"][attribute]
            key = f"{name}|{attribute}"
            assert page.pop(f"{key}|staff") == percent(staff)
            assert page.pop(f"{key}|customers") == percent(customer_share)
            assert page.pop(f"{key}|gap") == _signed((staff - customer_share) * 100)
    # The chat report's team table shows the same groups and hides the same ones.
    chat = await truth.report(round_info, segment=segment)
    shown_teams = {line.name for line in chat.teams if line.figures is not None}
    assert shown_teams == set(groups) - {"All staff"}


def _check_round(report: ReportView, payload: Mapping[str, Any], page: dict[str, str]) -> None:
    figures = report.figures
    assert figures is not None
    text = render_report_text(report)
    assert page.pop("respondents") == str(figures.respondents)
    assert page.pop("invited") == str(report.invited)
    assert page.pop("rate") == percent(figures.respondents / report.invited)
    assert f"- Responses: {figures.respondents} of {report.invited} (" in text
    assert page.pop("score") == str(figures.alignment_score)
    assert f"Alignment score: {figures.alignment_score}/100" in text
    assert figures.score_interval is not None
    assert page.pop("score-low") == str(figures.score_interval[0])
    assert page.pop("score-high") == str(figures.score_interval[1])
    assert page.pop("chance-95th") == str(figures.chance_95th)
    assert figures.kendall_w is not None
    assert page.pop("w") == f"{figures.kendall_w:.2f}"
    assert f"(W={page_w(figures.kendall_w)})" in text
    assert page.pop("top-hits") == str(figures.top_hits)
    assert report.detectable_gap_text is not None
    assert page.pop("detectable-gap") == report.detectable_gap_text
    for line in report.surprises:
        assert page.pop(f"surprise|{line.attribute}|customers") == percent(line.customer_share)
        assert page.pop(f"surprise|{line.attribute}|staff") == percent(line.employee_share)
    for kind, lines in (("team", report.teams), ("segment", report.segments)):
        for group in lines:
            if group.figures is None:
                continue
            assert page.pop(f"{kind}|{group.name}|respondents") == str(group.figures.respondents)
            assert page.pop(f"{kind}|{group.name}|score") == str(group.figures.alignment_score)
            w = group.figures.kendall_w
            if w is not None:
                assert page.pop(f"{kind}|{group.name}|w") == f"{w:.2f}"
    if report.team is None:
        assert figures.respondents == payload["respondents"]


def page_w(w: float) -> str:
    return f"{w:.2f}"


async def test_every_number_on_every_page_is_the_chat_reports(board: Board) -> None:
    truth = Truth(board)
    async with browser() as client:
        async with client.get(await board.link()) as opened:
            assert opened.status == 200
        overview = _figures(await _get(client, board.base + "/dashboard"))
        await _check_overview(board, truth, overview)
        assert overview == {}, f"figures on the page that no check covers: {overview}"

        for round_info in board.rounds:
            payload = await truth.json(round_info)
            segments = [s["customer_segment"] or "" for s in payload["segments"]]
            for segment in segments:
                query = urlencode({"round": round_info.id, "segment": segment})
                heat = _figures(await _get(client, f"{board.base}/dashboard/heatmap?{query}"))
                await _check_heatmap(board, truth, round_info, segment, heat)
                assert heat == {}, heat
            for segment in ["", *segments]:
                for team in ["", "sales", "support", "ops"]:
                    query = urlencode({"round": round_info.id, "segment": segment, "team": team})
                    shown = _figures(await _get(client, f"{board.base}/dashboard/round?{query}"))
                    report = await truth.report(
                        round_info, segment=segment or None, team=team or None
                    )
                    _check_round(report, payload, shown)
                    assert shown == {}, shown

        customers = _figures(await _get(client, board.base + "/dashboard/customers"))
        workspace = await board.workspace()
        for study in await board.app.store.list_studies(workspace.id):
            assert customers.pop(f"study{study.id}|customers") == str(study.sample_size)
        assert customers == {}, customers
