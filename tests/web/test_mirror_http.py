"""The mirror survey's web form over real HTTP: what a customer's browser gets, and what a
tampered, replayed, oversized or cross-site request gets (a clear page, nothing stored)."""

from __future__ import annotations

from datetime import timedelta

import aiohttp
import pytest

from adapters.web.limits import client_address
from adapters.web.settings import proxy_networks
from tests.web.conftest import Site, browser, csrf_of

PICK = ("reliability", "price", "ease of use")


async def _answer(
    site: Site, client: aiohttp.ClientSession, link: str, names: tuple[str, ...] = PICK
) -> aiohttp.ClientResponse:
    page = await client.get(link)
    csrf = csrf_of(await page.text())
    ids = await site.attribute_ids()
    fields = {"csrf": csrf} | {f"rank{i}": ids[n] for i, n in enumerate(names, start=1)}
    response = await client.post(link, data=fields)
    await response.read()
    return response


async def test_the_form_asks_for_an_ordered_top_k_with_descriptions(site: Site) -> None:
    survey = await site.survey(k=3)
    [link] = await site.links(survey.id, 1)
    async with browser() as client, client.get(link) as response:
        page = await response.text()
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/html")
        cookie = response.cookies["mirror_csrf"]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Strict"
    for place, words in ((1, "1st"), (2, "2nd"), (3, "3rd")):
        assert f'<label for="rank{place}">{words} most important</label>' in page
        assert f'<select id="rank{place}" name="rank{place}" required>' in page
    assert 'name="rank4"' not in page
    assert "<script" not in page
    workspace = await site.workspace()
    for attribute in await site.app.core.store.list_attributes(workspace.id):
        assert f"<dt>{attribute.name}</dt>" in page
        assert f"<dd>{attribute.description}</dd>" in page


async def test_security_headers_on_every_page(site: Site) -> None:
    survey = await site.survey()
    [link] = await site.links(survey.id, 1)
    async with browser() as client:
        for url in (
            link,
            f"{site.base}/m/unknown-token-0000000",
            f"{site.base}/m-static/mirror.css",
        ):
            async with client.get(url) as response:
                csp = response.headers["Content-Security-Policy"]
                assert "default-src 'self'" in csp
                assert "frame-ancestors 'none'" in csp
                assert "script-src 'none'" in csp
                assert response.headers["X-Content-Type-Options"] == "nosniff"
                assert response.headers["X-Frame-Options"] == "DENY"
                assert response.headers["Referrer-Policy"] == "no-referrer"


async def test_answer_then_thank_you_then_already_answered(site: Site) -> None:
    survey = await site.survey()
    [link] = await site.links(survey.id, 1)
    ids = await site.attribute_ids()
    async with browser() as client:
        first = await _answer(site, client, link)
        assert first.status == 200
        assert "Your answer is recorded" in await first.text()
        assert await site.stored(survey.id) == [tuple(int(ids[n]) for n in PICK)]

        again = await client.get(link)
        assert "already been used" in await again.text()
        # Even a well-formed post with a fresh CSRF pair from another link's page is refused.
        [other] = await site.links(survey.id, 1)
        csrf_page = await client.get(other)
        csrf = csrf_of(await csrf_page.text())
        replay = await client.post(link, data={"csrf": csrf, "rank1": ids["price"]})
        assert replay.status == 403
    assert len(await site.stored(survey.id)) == 1


async def test_a_second_answer_through_the_same_link_is_not_stored(site: Site) -> None:
    survey = await site.survey()
    [link] = await site.links(survey.id, 1)
    async with browser() as one, browser() as two:
        # Both open the form before either sends it (the link was forwarded to a colleague).
        pages = [await (await client.get(link)).text() for client in (one, two)]
        ids = await site.attribute_ids()
        answers = []
        for client, page in zip((one, two), pages, strict=True):
            fields = {"csrf": csrf_of(page)} | {
                f"rank{i}": ids[n] for i, n in enumerate(PICK, start=1)
            }
            response = await client.post(link, data=fields)
            answers.append(await response.text())
    assert "Your answer is recorded" in answers[0]
    assert "already been used" in answers[1]
    assert len(await site.stored(survey.id)) == 1


async def test_tampered_forms_are_refused_and_store_nothing(site: Site) -> None:
    survey = await site.survey()
    [link] = await site.links(survey.id, 1)
    ids = await site.attribute_ids()
    price, trust = ids["price"], ids["relationship/trust"]
    tampered = [
        ({"rank1": price, "rank2": "99999", "rank3": trust}, "not on the list"),
        ({"rank1": price, "rank2": price, "rank3": trust}, "only once"),
        ({"rank1": price, "rank2": trust}, "exactly 3"),
        ({"rank1": price, "rank2": trust, "rank3": ""}, "exactly 3"),
        ({"rank1": price, "rank2": trust, "rank3": ids["innovation"], "rank4": "1"}, "exactly 3"),
        ({"rank1": "<script>alert(1)</script>", "rank2": trust, "rank3": price}, "not on the list"),
    ]
    async with browser() as client:
        for fields, problem in tampered:
            page = await (await client.get(link)).text()
            response = await client.post(link, data={"csrf": csrf_of(page), **fields})
            body = await response.text()
            assert response.status == 400, fields
            assert problem in body, body
            assert 'role="alert"' in body
            assert "<script>alert" not in body
        assert await site.stored(survey.id) == []
        # A field sent twice is treated as missing, never as one of its values.
        page = await (await client.get(link)).text()
        doubled = aiohttp.FormData(
            [("csrf", csrf_of(page)), ("rank1", price), ("rank1", trust), ("rank2", trust)]
        )
        assert (await client.post(link, data=doubled)).status == 400
        assert await site.stored(survey.id) == []
        # The link still works after all that.
        assert (await _answer(site, client, link)).status == 200
    assert len(await site.stored(survey.id)) == 1


async def test_a_post_without_its_csrf_pair_is_refused(site: Site) -> None:
    survey = await site.survey()
    [link] = await site.links(survey.id, 1)
    ids = await site.attribute_ids()
    fields = {f"rank{i}": ids[n] for i, n in enumerate(PICK, start=1)}
    async with browser() as client:
        # Another site can make the browser post, but cannot read the page's field.
        assert (await client.post(link, data=fields)).status == 403
        page = await (await client.get(link)).text()
        forged = {"csrf": "0" * 64, **fields}
        response = await client.post(link, data=forged)
        assert response.status == 403
        assert "Nothing was stored" in await response.text()
        csrf = csrf_of(page)
    async with browser() as stranger:  # the field without the cookie it belongs to
        assert (await stranger.post(link, data={"csrf": csrf, **fields})).status == 403
    assert await site.stored(survey.id) == []


async def test_unknown_closed_and_oversized_requests(site: Site) -> None:
    survey = await site.survey()
    [link, late] = await site.links(survey.id, 2)
    async with browser() as client:
        unknown = await client.get(f"{site.base}/m/AAAAAAAAAAAAAAAAAAAAAA")
        assert unknown.status == 404
        assert "This link is not valid" in await unknown.text()
        odd = await client.get(f"{site.base}/m/%3Cscript%3E")
        assert odd.status == 404
        page = await (await client.get(link)).text()
        huge = {"csrf": csrf_of(page), "rank1": "x" * 10_000}
        too_large = await client.post(link, data=huge)
        assert too_large.status == 413
        # A form opened before the survey closed and sent after it closed.
        late_page = await (await client.get(late)).text()
        workspace = await site.workspace()
        await site.app.core.mirror.close(workspace, survey.id, actor="test")
        closed = await client.get(late)
        assert closed.status == 410
        assert "This survey is closed" in await closed.text()
        ids = await site.attribute_ids()
        fields = {"csrf": csrf_of(late_page)} | {f"rank{i}": ids[n] for i, n in enumerate(PICK, 1)}
        assert (await client.post(late, data=fields)).status == 410
    assert await site.stored(survey.id) == []


async def test_pages_reveal_nothing_about_other_answers(site: Site) -> None:
    survey = await site.survey()
    links = await site.links(survey.id, 3)
    thanks = []
    for link in links:
        async with browser() as client:
            thanks.append(await (await _answer(site, client, link)).text())
    assert thanks[0] == thanks[1] == thanks[2]  # no count, no order, nothing that changes


async def test_the_open_link_is_limited_per_address(site: Site) -> None:
    survey = await site.survey()
    workspace = await site.workspace()
    link = await site.app.core.mirror.open_link(workspace, survey.id)
    async with browser() as client:
        for _ in range(2):  # ALIGNMENT_OPEN_LINK_PER_HOUR=2 in the fixture
            response = await _answer(site, client, link)
            assert "Your answer is recorded" in await response.text()
        third = await _answer(site, client, link)
        assert third.status == 429
        assert int(third.headers["Retry-After"]) > 0
        assert "Too many answers" in await third.text()
    assert len(await site.stored(survey.id)) == 2


async def _open_link_statuses(target: Site, forwarded: list[str]) -> list[list[int]]:
    """Three answers through the open link from each X-Forwarded-For value, in turn."""
    survey = await target.survey()
    workspace = await target.workspace()
    link = await target.app.core.mirror.open_link(workspace, survey.id)
    statuses = []
    for value in forwarded:
        async with browser() as client:
            client.headers["X-Forwarded-For"] = value
            statuses.append([(await _answer(target, client, link)).status for _ in range(3)])
    return statuses


# The same customer, then that customer claiming to be someone else through two of our
# proxies, then another customer.
FORWARDED = ["198.51.100.7", "203.0.113.99, 198.51.100.7, 10.1.2.3", "198.51.100.8"]


async def test_behind_a_trusted_proxy_each_customer_has_their_own_limit(
    site_behind_proxy: Site,
) -> None:
    """Behind our reverse proxy every customer arrives from the proxy's address: the limit
    is per X-Forwarded-For address, the one the proxy appended (what a client writes to the
    left of it proves nothing)."""
    statuses = await _open_link_statuses(site_behind_proxy, FORWARDED)
    assert statuses == [[200, 200, 429], [429, 429, 429], [200, 200, 429]]


async def test_without_a_trusted_proxy_x_forwarded_for_is_ignored(site: Site) -> None:
    statuses = await _open_link_statuses(site, FORWARDED)
    assert statuses == [[200, 200, 429], [429, 429, 429], [429, 429, 429]]


def test_the_client_address_is_the_rightmost_hop_not_our_proxy() -> None:
    proxies = proxy_networks("10.0.0.0/8, 192.0.2.1, 2001:db8::/32")
    assert client_address("192.0.2.1", ["198.51.100.7"], proxies) == "198.51.100.7"
    assert client_address("192.0.2.1", ["1.1.1.1, 198.51.100.7, 10.0.0.9"], proxies) == (
        "198.51.100.7"
    )
    assert client_address("192.0.2.1", ["1.1.1.1", "2001:db8::5"], proxies) == "1.1.1.1"
    assert client_address("192.0.2.1", [], proxies) == "192.0.2.1"
    assert client_address("192.0.2.1", ["10.0.0.1"], proxies) == "10.0.0.1"  # all ours
    assert client_address("203.0.113.5", ["1.1.1.1"], proxies) == "203.0.113.5"  # not ours
    assert client_address("192.0.2.1", ["not-an-ip"], proxies) == "not-an-ip"
    assert client_address(None, ["1.1.1.1"], proxies) == "unknown"
    with pytest.raises(ValueError, match="not an IP address or network"):
        proxy_networks("10.0.0.0/8, proxy.example.com")


async def test_a_closing_date_ends_the_form(site: Site) -> None:
    workspace = await site.workspace()
    survey = await site.app.core.mirror.create(
        workspace,
        segment="smb",
        top_k=None,
        closes_at=site.clock.now + timedelta(hours=1),
        name=None,
        actor="test",
    )
    [link] = await site.links(survey.id, 1)
    async with browser() as client:
        page = await client.get(link)
        assert page.status == 200
        site.clock.advance(timedelta(hours=2))
        ids = await site.attribute_ids()
        fields = {"csrf": csrf_of(await page.text())} | {
            f"rank{i}": ids[n] for i, n in enumerate(PICK, 1)
        }
        late = await client.post(link, data=fields)
        assert late.status == 410
    assert await site.stored(survey.id) == []


async def test_names_and_descriptions_are_escaped(site: Site) -> None:
    workspace = await site.workspace()
    await site.app.core.store.add_attribute(
        workspace.id, '<b>bold</b> & "co"', "<script>alert(1)</script>", actor="test"
    )
    survey = await site.survey()
    [link] = await site.links(survey.id, 1)
    async with browser() as client:
        page = await (await client.get(link)).text()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &#34;co&#34;" in page
