"""The managers' dashboard in a real headless Chromium: a manager opens the link from chat,
sees each page, switches round and segment, downloads the CSV; an expired link, a revoked
role, a tampered signature and another workspace's round id each get a clear page and no
data. Screenshots of each page land in test-artifacts/browser/; axe-core checks every page
against WCAG 2.1 A/AA."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait

from tests.browser.conftest import Browser
from tests.web.dashboard_world import ADMIN, Board


def _wait(driver: WebDriver) -> WebDriverWait[WebDriver]:
    return WebDriverWait(driver, 15, ignored_exceptions=(StaleElementReferenceException,))


def _heading(driver: WebDriver) -> str:
    return str(driver.find_element(By.TAG_NAME, "h1").text)


def _arrive(driver: WebDriver, heading: str) -> str:
    _wait(driver).until(
        lambda d: (
            d.execute_script("return document.readyState") == "complete" and _heading(d) == heading
        )
    )
    return str(driver.current_url)


def _main_text(driver: WebDriver) -> str:
    return str(driver.find_element(By.TAG_NAME, "main").text)


def _choose(driver: WebDriver, field: str, label: str) -> None:
    Select(driver.find_element(By.ID, field)).select_by_visible_text(label)


def _show(driver: WebDriver) -> None:
    driver.find_element(By.CSS_SELECTOR, "form.picker button[type=submit]").click()


def _click_link(driver: WebDriver, text: str) -> None:
    driver.find_element(By.PARTIAL_LINK_TEXT, text).click()


async def _check(browser: Browser, axe: str, name: str) -> None:
    await browser.screenshot(f"dashboard-{name}")
    assert await browser.axe_violations(axe) == [], name


def _downloaded(folder: Path, timeout: float = 15.0) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [p for p in folder.glob("*.csv") if p.stat().st_size > 0]
        if done and not list(folder.glob("*.crdownload")):
            return done[0]
        time.sleep(0.1)
    raise AssertionError(f"no CSV arrived in {folder}")


async def test_a_manager_browses_every_page_and_downloads_the_csv(
    board: Board, browser: Browser, axe_source: str, tmp_path: Path
) -> None:
    await browser.get(await board.link())
    url = await browser.do(lambda d: _arrive(d, "Overview"))
    assert urlsplit(url).path == "/dashboard"
    assert "token" not in url  # the token has left the address bar
    cookies = await browser.do(lambda d: d.get_cookies())
    [session] = [c for c in cookies if c["name"] == "dashboard_session"]
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Strict"
    text = await browser.do(_main_text)
    for round_info in board.rounds:
        assert round_info.label in text
    await _check(browser, axe_source, "overview")

    await browser.do(lambda d: _choose(d, "segment", "smb"))
    await browser.do(_show)
    url = await browser.do(lambda d: _arrive(d, "Overview"))
    assert parse_qs(urlsplit(url).query)["segment"] == ["smb"]
    assert "against smb" in await browser.do(
        lambda d: d.find_element(By.TAG_NAME, "figcaption").text
    )

    await browser.do(lambda d: _click_link(d, "Teams × attributes"))
    await browser.do(lambda d: _arrive(d, "Teams × attributes"))
    await _check(browser, axe_source, "heatmap")
    first = board.rounds[0]
    await browser.do(lambda d: _choose(d, "round", first.label))
    await browser.do(lambda d: _choose(d, "segment", "smb"))
    await browser.do(_show)
    url = await browser.do(lambda d: _arrive(d, "Teams × attributes"))
    assert parse_qs(urlsplit(url).query) == {"round": [str(first.id)], "segment": ["smb"]}
    heading = await browser.do(lambda d: d.find_element(By.TAG_NAME, "h2").text)
    assert heading.startswith(f"{first.label} · vs smb")
    text = await browser.do(_main_text)
    assert "Hidden: too few answers" in text  # legal, two people
    await _check(browser, axe_source, "heatmap-round1-smb")

    await browser.do(lambda d: _click_link(d, "Round detail"))
    await browser.do(lambda d: _arrive(d, "Round detail"))
    text = await browser.do(_main_text)
    assert "Alignment score:" in text
    assert "Surprises" in text
    assert "only gaps above" in text
    await _check(browser, axe_source, "round")

    await browser.do(lambda d: _click_link(d, "Customers"))
    await browser.do(lambda d: _arrive(d, "Customers"))
    assert "research_top3.csv" in await browser.do(_main_text)
    await _check(browser, axe_source, "customers")

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    await browser.do(
        lambda d: d.execute_cdp_cmd(
            "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
        )
    )
    await browser.do(lambda d: _click_link(d, "Download this table as CSV"))
    csv = await browser.do(lambda _d: _downloaded(downloads))
    assert csv.name == "customers.csv"
    assert csv.read_text(encoding="utf-8").startswith("study,source,segment")


async def _refused(browser: Browser, axe: str, url: str, heading: str, name: str) -> None:
    await browser.get(url)
    assert await browser.do(_heading) == heading
    text = await browser.do(_main_text)
    for data in ("sales", "Alignment score", "research_top3", "%"):
        assert data not in text, (name, data)
    await _check(browser, axe, name)


async def test_refused_links_get_a_clear_page_and_no_data(
    board: Board, browser: Browser, axe_source: str
) -> None:
    link = await board.link()
    token = parse_qs(urlsplit(link).query)["token"][0]
    _body, mac = token.split(".")
    forged = link.replace(mac, ("A" if mac[0] != "A" else "B") + mac[1:])
    await _refused(browser, axe_source, forged, "Link not valid", "refused-tampered")
    await _refused(
        browser,
        axe_source,
        board.base + "/dashboard",
        "Open the dashboard from chat",
        "refused-no-session",
    )

    # Another workspace's round id, while signed in as a manager of this one.
    await browser.get(link)
    await browser.do(lambda d: _arrive(d, "Overview"))
    assert board.other_round is not None
    other = f"{board.base}/dashboard/round?round={board.other_round.id}"
    await _refused(browser, axe_source, other, "Not found", "refused-other-workspace")

    await board.run(ADMIN, "/alignment admins add mia role:manager")
    mias = await board.link("mia")
    await board.run(ADMIN, "/alignment admins remove mia")
    await browser.do(lambda d: d.delete_all_cookies())
    await _refused(browser, axe_source, mias, "No access", "refused-revoked")

    board.clock.advance(timedelta(minutes=61))
    await _refused(browser, axe_source, link, "Link expired", "refused-expired")
