"""The mirror survey in a real headless Chromium: a customer opens an invitation link, ranks,
submits and sees the thank-you page; reuses the link; sends a tampered form; answers on a
phone-sized screen and with the keyboard only. axe-core checks both pages for WCAG 2.1 A/AA."""

from __future__ import annotations

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait

from tests.browser.conftest import Browser
from tests.web.conftest import Site

PICK = ("reliability", "customer support", "price")


def _choose(driver: WebDriver, names: tuple[str, ...]) -> None:
    for place, name in enumerate(names, start=1):
        Select(driver.find_element(By.ID, f"rank{place}")).select_by_visible_text(name)


def _send(driver: WebDriver) -> None:
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()


def _wait(driver: WebDriver) -> WebDriverWait[WebDriver]:
    # While the next page loads, an element just found may belong to the old document.
    return WebDriverWait(driver, 15, ignored_exceptions=(StaleElementReferenceException,))


def _heading(driver: WebDriver) -> str:
    return str(driver.find_element(By.TAG_NAME, "h1").text)


def _page_after(driver: WebDriver, heading: str) -> str:
    """Wait for the page a submission leads to (Enter and click do not wait for the load);
    the old page's heading may linger a moment, so wait for the old document to go too."""
    _wait(driver).until(
        lambda d: (
            d.execute_script("return document.readyState") == "complete" and _heading(d) == heading
        )
    )
    return _heading(driver)


def _alert(driver: WebDriver) -> str:
    found = driver.find_elements(By.CSS_SELECTOR, "[role=alert]")
    return str(found[0].text) if found else ""


def _wait_for_alert(driver: WebDriver) -> None:
    _wait(driver).until(lambda d: _alert(d) != "")


async def _expected(site: Site, names: tuple[str, ...]) -> tuple[int, ...]:
    ids = await site.attribute_ids()
    return tuple(int(ids[name]) for name in names)


async def test_rank_submit_thank_you_then_already_answered(
    site: Site, browser: Browser, axe_source: str
) -> None:
    survey = await site.survey()
    [link] = await site.links(survey.id, 1)
    await browser.get(link)
    assert await browser.do(_heading) == "What matters most to you?"
    descriptions = await browser.do(lambda d: d.find_element(By.TAG_NAME, "dl").text)
    assert "reliability" in descriptions
    await browser.do(lambda d: _choose(d, PICK))
    await browser.screenshot("form")
    assert await browser.axe_violations(axe_source) == []

    await browser.do(_send)
    assert await browser.do(lambda d: _page_after(d, "Thank you")) == "Thank you"
    await browser.screenshot("thank-you")
    assert await browser.axe_violations(axe_source) == []
    assert await site.stored(survey.id) == [await _expected(site, PICK)]

    await browser.get(link)  # the same link again, e.g. from the e-mail a second time
    assert await browser.do(_heading) == "Already answered"
    assert await browser.do(lambda d: d.find_elements(By.TAG_NAME, "form")) == []
    await browser.screenshot("already-answered")
    assert await site.stored(survey.id) == [await _expected(site, PICK)]


async def test_a_tampered_form_is_refused_and_nothing_stored(
    site: Site, browser: Browser, axe_source: str
) -> None:
    survey = await site.survey()
    [link] = await site.links(survey.id, 1)
    await browser.get(link)
    await browser.do(lambda d: _choose(d, PICK))
    # Someone edits the page: the chosen option of the 2nd place now names no attribute.
    await browser.do(
        lambda d: d.execute_script(
            "document.querySelector('#rank2 option:checked').value = '999999';"
        )
    )
    await browser.do(_send)
    await browser.do(_wait_for_alert)
    alert = await browser.do(lambda d: d.find_element(By.CSS_SELECTOR, "[role=alert]").text)
    assert "not on the list" in alert
    await browser.screenshot("tampered")
    assert await browser.axe_violations(axe_source) == []

    # The same attribute twice (no script stops it: the server does).
    await browser.do(lambda d: _choose(d, ("price", "price", "reliability")))
    await browser.do(_send)
    await browser.do(lambda d: _wait(d).until(lambda x: "only once" in _alert(x)))
    alert = await browser.do(lambda d: d.find_element(By.CSS_SELECTOR, "[role=alert]").text)
    assert "only once" in alert
    assert await site.stored(survey.id) == []

    # Corrected, the same link is still good.
    await browser.do(lambda d: _choose(d, PICK))
    await browser.do(_send)
    assert await browser.do(lambda d: _page_after(d, "Thank you")) == "Thank you"
    assert await site.stored(survey.id) == [await _expected(site, PICK)]


async def test_answering_on_a_phone_sized_screen(
    site: Site, browser: Browser, axe_source: str
) -> None:
    survey = await site.survey()
    [link] = await site.links(survey.id, 1)
    phone = {"width": 390, "height": 844, "deviceScaleFactor": 3, "mobile": True}
    await browser.do(lambda d: d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", phone))
    try:
        await browser.get(link)
        width = await browser.do(lambda d: d.execute_script("return window.innerWidth"))
        assert width == 390
        # Nothing wider than the screen: no sideways scrolling to reach a choice.
        overflow = await browser.do(
            lambda d: d.execute_script(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
        )
        assert overflow <= 0
        box = await browser.do(lambda d: d.find_element(By.ID, "rank1").rect)
        assert box["width"] >= 300  # selects span the screen
        assert box["height"] >= 44  # and are large enough to tap
        await browser.do(lambda d: _choose(d, PICK))
        await browser.screenshot("phone-form")
        assert await browser.axe_violations(axe_source) == []
        await browser.do(_send)
        assert await browser.do(lambda d: _page_after(d, "Thank you")) == "Thank you"
        await browser.screenshot("phone-thank-you")
    finally:
        await browser.do(lambda d: d.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {}))
    assert await site.stored(survey.id) == [await _expected(site, PICK)]


def _keyboard_answer(driver: WebDriver) -> list[str]:
    """Tab to each place, pick with the arrow keys, send with Enter; returns the focus path."""
    visited = []  # a fresh page: the focus is on the document itself
    for downs in (1, 2, 3):  # the 1st, 2nd and 3rd attribute of the list, in that order
        driver.switch_to.active_element.send_keys(Keys.TAB)
        focused = driver.switch_to.active_element
        visited.append(str(focused.get_attribute("id")))
        for _ in range(downs):
            focused.send_keys(Keys.ARROW_DOWN)
    driver.switch_to.active_element.send_keys(Keys.TAB)
    button = driver.switch_to.active_element
    visited.append(str(button.tag_name))
    button.send_keys(Keys.ENTER)
    return visited


async def test_the_form_works_with_the_keyboard_alone(site: Site, browser: Browser) -> None:
    survey = await site.survey()
    [link] = await site.links(survey.id, 1)
    await browser.get(link)
    visited = await browser.do(_keyboard_answer)
    assert visited == ["rank1", "rank2", "rank3", "button"]
    assert await browser.do(lambda d: _page_after(d, "Thank you")) == "Thank you"
    workspace = await site.workspace()
    first_three = [a.id for a in await site.app.core.store.list_attributes(workspace.id)][:3]
    assert await site.stored(survey.id) == [tuple(first_three)]
