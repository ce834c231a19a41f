"""The managers' dashboard over real HTTP: signed links, the session cookie, role re-checks on
every request, other workspaces' ids, query strings that name nothing, CSV and headers."""

from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from bot.runtime.logs import redact
from tests.web.conftest import browser
from tests.web.dashboard_world import ADMIN, Board

PAGES = ("/dashboard", "/dashboard/heatmap", "/dashboard/round", "/dashboard/customers")
CSVS = (
    "/dashboard/overview.csv",
    "/dashboard/heatmap.csv",
    "/dashboard/round.csv",
    "/dashboard/customers.csv",
)


async def _enter(client: aiohttp.ClientSession, link: str) -> aiohttp.ClientResponse:
    async with client.get(link) as response:
        await response.read()
        return response


async def _page(client: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with client.get(url, allow_redirects=False) as response:
        return response.status, await response.text()


async def test_a_manager_opens_the_link_and_sees_every_page(board: Board) -> None:
    link = await board.link()
    async with browser() as client:
        opened = await _enter(client, link)
        assert opened.status == 200
        cookie = opened.headers["Set-Cookie"]
        for flag in ("HttpOnly", "SameSite=Strict", "Path=/dashboard"):
            assert flag in cookie
        for path in PAGES:
            status, text = await _page(client, board.base + path)
            assert status == 200, (path, text)
            assert "No access" not in text
        status, text = await _page(client, board.base + "/dashboard")
        assert board.rounds[0].label in text
        assert board.rounds[1].label in text
        status, text = await _page(client, board.base + "/dashboard/heatmap")
        assert "legal" in text
        assert "Hidden: too few answers" in text


async def test_every_page_has_the_security_headers(board: Board) -> None:
    async with browser() as client:
        await _enter(client, await board.link())
        for path in (*PAGES, *CSVS, "/dashboard/open?token=x"):
            async with client.get(board.base + path) as response:
                csp = response.headers["Content-Security-Policy"]
                assert "default-src 'self'" in csp
                assert "script-src 'none'" in csp
                assert response.headers["X-Frame-Options"] == "DENY"
                assert response.headers["Referrer-Policy"] == "no-referrer"
                assert response.headers["Cache-Control"] == "no-store"


async def test_csv_downloads(board: Board) -> None:
    async with browser() as client:
        await _enter(client, await board.link())
        for path in CSVS:
            async with client.get(board.base + path) as response:
                assert response.status == 200, path
                assert response.content_type == "text/csv"
                assert "attachment" in response.headers["Content-Disposition"]
                text = await response.text()
                assert text.count("\n") >= 2, (path, text)


async def test_without_a_session_nothing_is_shown(board: Board) -> None:
    async with browser() as client:
        for path in (*PAGES, *CSVS):
            status, text = await _page(client, board.base + path)
            assert status == 401
            assert "Open the dashboard from chat" in text
            assert "Round 1" not in text


async def test_an_expired_link_shows_a_clear_page(board: Board) -> None:
    link = await board.link()
    board.clock.advance(timedelta(minutes=61))
    async with browser() as client:
        opened = await _enter(client, link)
        assert opened.status == 401
        # No session; an old one is cleared.
        assert "Max-Age=0" in opened.headers.get("Set-Cookie", "Max-Age=0")
        status, text = await _page(client, link)
        assert "Link expired" in text
        status, _ = await _page(client, board.base + "/dashboard")
        assert status == 401


async def test_the_session_expires_too(board: Board) -> None:
    async with browser() as client:
        await _enter(client, await board.link())
        assert (await _page(client, board.base + "/dashboard"))[0] == 200
        board.clock.advance(timedelta(minutes=61))
        status, text = await _page(client, board.base + "/dashboard")
        assert status == 401
        assert "Link expired" in text


def _tampered(link: str) -> list[str]:
    token = parse_qs(urlsplit(link).query)["token"][0]
    body, mac = token.split(".")
    flipped = mac[:-2] + ("A" if mac[-2] != "A" else "B") + mac[-1]
    base = link.split("?")[0]
    return [
        f"{base}?token={body}.{flipped}",  # another signature
        f"{base}?token={body[:-4]}.{mac}",  # the claims changed
        f"{base}?token={body}",  # no signature
        f"{base}?token=",
        base,
    ]


async def test_a_tampered_link_is_refused(board: Board) -> None:
    link = await board.link()
    for bad in _tampered(link):
        async with browser() as client:
            opened = await _enter(client, bad)
            assert opened.status == 401, bad
            _status, text = await _page(client, bad)
            assert "Link not valid" in text
            assert (await _page(client, board.base + "/dashboard"))[0] == 401


async def test_a_link_cannot_stand_in_for_a_session_cookie(board: Board) -> None:
    token = parse_qs(urlsplit(await board.link()).query)["token"][0]
    async with aiohttp.ClientSession(cookies={"dashboard_session": token}) as client:
        status, text = await _page(client, board.base + "/dashboard")
    assert status == 401
    assert "Link not valid" in text


async def test_revoking_the_role_ends_access_at_once(board: Board) -> None:
    await board.run(ADMIN, "/alignment admins add mia role:manager")
    link = await board.link("mia")
    async with browser() as client:
        await _enter(client, link)
        assert (await _page(client, board.base + "/dashboard"))[0] == 200
        await board.run(ADMIN, "/alignment admins remove mia")
        status, text = await _page(client, board.base + "/dashboard/heatmap")
        assert status == 403
        assert "No access" in text
        assert "sales" not in text
    async with browser() as client:  # nor can the link be opened again
        opened = await _enter(client, link)
        assert opened.status == 403


async def test_forget_me_ends_access_at_once(board: Board) -> None:
    await board.run(ADMIN, "/alignment admins add mia role:manager")
    link = await board.link("mia")
    async with browser() as client:
        await _enter(client, link)
        assert (await _page(client, board.base + "/dashboard"))[0] == 200
        assert "deleted" in await board.run("mia", "/alignment forget me")
        status, text = await _page(client, board.base + "/dashboard")
        assert status == 403
        assert "No access" in text


async def test_employees_get_no_link(board: Board) -> None:
    out = await board.run("sales3", "/alignment dashboard")
    assert "Only managers or admins" in out
    assert "/dashboard/open" not in out


BAD_QUERIES = (
    "round={other}",  # another workspace's closed round
    "round=999999",
    "round=-1",
    "round=1e3",
    "round=abc",
    "round=99999999999999999999",
    "segment=nosuch",
    "segment=%00",
)


async def test_ids_and_names_outside_the_workspace_show_nothing(board: Board) -> None:
    assert board.other_round is not None
    async with browser() as client:
        await _enter(client, await board.link())
        checks = [
            (path, q)
            for q in BAD_QUERIES
            for path in (
                "/dashboard/heatmap",
                "/dashboard/round",
                "/dashboard/round.csv",
                "/dashboard/heatmap.csv",
            )
        ]
        checks += [("/dashboard", "segment=nosuch"), ("/dashboard/overview.csv", "segment=x")]
        checks += [("/dashboard/round", "team=nosuch"), ("/dashboard/round.csv", "team=%01")]
        for path, query in checks:
            url = f"{board.base}{path}?{query.format(other=board.other_round.id)}"
            status, text = await _page(client, url)
            assert status == 404, (path, query, text)
            assert "Not found" in text
            assert "No data shown" in text
            assert "sales" not in text
            assert "Alignment score" not in text
        # A round still open has no figures anywhere, so no page either.
        assert "on its way" in await board.run(ADMIN, "/alignment poll now window:2h")
        workspace = await board.workspace()
        [still_open] = await board.app.store.list_rounds(workspace.id, limit=1)
        status, text = await _page(client, f"{board.base}/dashboard/round?round={still_open.id}")
        assert status == 404
        assert "no closed round" in text


async def test_the_token_never_reaches_the_logs(
    board: Board, caplog: pytest.LogCaptureFixture
) -> None:
    link = await board.link()
    token = parse_qs(urlsplit(link).query)["token"][0]
    caplog.set_level(logging.DEBUG)
    async with browser() as client:
        await _enter(client, link)
        await _page(client, board.base + "/dashboard")
    lines = [record.getMessage() for record in caplog.records]
    assert any("/dashboard/open" in line for line in lines), lines
    assert not any(token in line for line in lines)
    # Were the link itself ever written into a log message, the redaction would catch it.
    assert token not in redact(f"GET {link} 200")
