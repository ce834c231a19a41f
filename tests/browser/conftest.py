"""A real headless Chromium (Debian's chromium + chromium-driver) driven by Selenium, and
axe-core (from the npm registry) injected into it.

scripts/test.sh installs both when they are missing and sets BROWSER_TESTS_REQUIRED, so in CI a
missing browser fails these tests instead of skipping them. Screenshots go to
test-artifacts/browser/.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
AXE = ROOT / ".cache" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
T = TypeVar("T")


def _missing(what: str) -> None:
    message = f"{what} is missing: run scripts/test.sh, which installs it"
    if os.environ.get("BROWSER_TESTS_REQUIRED") or os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _options(user_data: str) -> webdriver.ChromeOptions:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={user_data}",
        "--window-size=1280,900",
    ):
        options.add_argument(flag)
    return options


@pytest.fixture(scope="module")
def driver() -> Iterator[WebDriver]:
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        _missing("Debian's chromium and chromium-driver")
    os.environ["SE_OFFLINE"] = "true"  # never let Selenium Manager download a browser
    with tempfile.TemporaryDirectory(prefix="chromium-") as user_data:
        chrome = webdriver.Chrome(options=_options(user_data), service=Service(CHROMEDRIVER))
        chrome.set_page_load_timeout(30)
        try:
            yield chrome
        finally:
            chrome.quit()


@pytest.fixture
def axe_source() -> str:
    if not AXE.is_file():
        _missing(f"axe-core ({AXE.relative_to(ROOT)})")
    return AXE.read_text(encoding="utf-8")


class Browser:
    """The driver's blocking calls run in a thread, so the server under test (on this
    test's event loop) keeps answering while the browser waits for it."""

    def __init__(self, driver: WebDriver) -> None:
        self.driver = driver

    async def do(self, work: Callable[[WebDriver], T]) -> T:
        return await asyncio.to_thread(work, self.driver)

    async def get(self, url: str) -> None:
        await self.do(lambda d: d.get(url))

    async def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        assert await self.do(lambda d: d.save_screenshot(str(path)))
        return path

    async def axe_violations(self, axe: str) -> list[dict[str, Any]]:
        """Run axe-core in the page against the WCAG 2.1 A and AA rules."""
        await self.do(lambda d: d.execute_script(axe))
        script = (
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}})"
            ".then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact,"
            " nodes: v.nodes.map(n => n.html)}))))"
            ".catch(e => done([{id: 'axe-error', impact: String(e), nodes: []}]));"
        )
        return await self.do(lambda d: d.execute_async_script(script, WCAG_21_AA))


@pytest.fixture
def browser(driver: WebDriver) -> Browser:
    driver.delete_all_cookies()
    driver.set_window_size(1280, 900)
    driver.set_script_timeout(30)
    return Browser(driver)


# The live server of the web tests: the real composition root on an ephemeral port.
from tests.web.conftest import site  # noqa: E402, F401
from tests.web.dashboard_world import board  # noqa: E402, F401
