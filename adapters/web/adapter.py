"""HTTP routes of the mirror survey on the shared aiohttp app.

GET  /m/{token}   the form (or a page saying why there is none)
POST /m/{token}   one answer; validated by the core, nothing stored unless all is right
GET  /m-static/mirror.css

Every page is rendered on the server (Jinja2, autoescaped) and works without JavaScript.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web

from adapters.web.limits import AddressLimit, client_address
from adapters.web.security import Csrf, page_templates, secure
from adapters.web.settings import WebSettings
from bot.model.mirror import MirrorApi, MirrorOutcome, MirrorPage
from bot.model.ports import PlatformRecords

HERE = Path(__file__).parent
MAX_BODY = 4096  # k selects and a token: a few hundred bytes; anything bigger is not our form
MAX_RANKS = 10
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
STATUS = {
    MirrorPage.FORM: 200,
    MirrorPage.THANKS: 200,
    MirrorPage.ALREADY_ANSWERED: 200,
    MirrorPage.UNKNOWN_LINK: 404,
    MirrorPage.CLOSED: 410,
    MirrorPage.TOO_MANY: 429,
}
MESSAGES = {
    MirrorPage.THANKS: ("Thank you", "Your answer is recorded. Thank you for your time."),
    MirrorPage.ALREADY_ANSWERED: (
        "Already answered",
        "Thank you, this link has already been used to answer. Each link takes one answer.",
    ),
    MirrorPage.UNKNOWN_LINK: (
        "Link not found",
        "This link is not valid. Please check that you copied the whole link.",
    ),
    MirrorPage.CLOSED: ("Survey closed", "This survey is closed and takes no more answers."),
    MirrorPage.TOO_MANY: (
        "Too many answers",
        "Too many answers came from your network through this link. Please try again later.",
    ),
}
EXPIRED = (
    "Please reload the form",
    "This form could not be accepted (it expired or was not sent from this page). "
    "Nothing was stored. Please open your link again.",
)
TOO_LARGE = ("Request too large", "This request was too large to be an answer. Nothing was stored.")


def _ordinal(place: int) -> str:
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(place, f"{place}th")


class WebAdapter:
    def __init__(
        self, *, api: MirrorApi, records: PlatformRecords, settings: WebSettings | None = None
    ) -> None:
        settings = settings or WebSettings()
        self._api = api
        secret = settings.web_secret.get_secret_value() if settings.web_secret else None
        self._csrf = Csrf(records, secret)
        self.open_limit = AddressLimit(settings.open_link_per_hour)
        self._proxies = settings.proxies()
        self._templates = page_templates()
        self._templates.globals["ordinal"] = _ordinal

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/m-static/mirror.css", self._stylesheet)
        app.router.add_get("/m/{token}", self._show)
        app.router.add_post("/m/{token}", self._submit)

    # -- handlers -------------------------------------------------------------------------

    async def _show(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        outcome = await self._outcome(token)
        return await self._page(request, token, outcome)

    async def _submit(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        fields = await _form_fields(request)
        if fields is None:
            return self._message(request, TOO_LARGE, 413)
        if not await self._csrf.valid(request, fields.get("csrf", ""), token):
            return self._message(request, EXPIRED, 403)
        if not TOKEN_SHAPE.match(token):
            return await self._page(request, token, MirrorOutcome(MirrorPage.UNKNOWN_LINK))
        address = client_address(
            request.remote, request.headers.getall("X-Forwarded-For", []), self._proxies
        )
        outcome = await self._api.mirror_submit(
            token, _ranking(fields), admit_open=lambda: self.open_limit.admit(address)
        )
        response = await self._page(request, token, outcome, chosen=_ranking(fields))
        if outcome.page is MirrorPage.TOO_MANY:
            response.headers["Retry-After"] = str(self.open_limit.retry_after(address))
        return response

    async def _stylesheet(self, request: web.Request) -> web.StreamResponse:
        css = (HERE / "static" / "mirror.css").read_text(encoding="utf-8")
        response = web.Response(text=css, content_type="text/css")
        secure(response, request)
        response.headers["Cache-Control"] = "public, max-age=3600"
        return response

    # -- rendering ------------------------------------------------------------------------

    async def _outcome(self, token: str) -> MirrorOutcome:
        if not TOKEN_SHAPE.match(token):  # no database trip for what cannot be a token
            return MirrorOutcome(MirrorPage.UNKNOWN_LINK)
        return await self._api.mirror_form(token)

    async def _page(
        self,
        request: web.Request,
        token: str,
        outcome: MirrorOutcome,
        *,
        chosen: tuple[str, ...] = (),
    ) -> web.StreamResponse:
        if outcome.page is not MirrorPage.FORM or outcome.form is None:
            return self._message(request, MESSAGES[outcome.page], STATUS[outcome.page])
        response = web.Response(content_type="text/html", status=400 if outcome.problem else 200)
        csrf = await self._csrf.issue(request, response, token)
        response.text = self._render(
            "form.html",
            form=outcome.form,
            problem=outcome.problem,
            chosen=chosen,
            token=token,
            csrf=csrf,
        )
        return secure(response, request)

    def _message(
        self, request: web.Request, words: tuple[str, str], status: int
    ) -> web.StreamResponse:
        title, text = words
        body = self._render("message.html", title=title, text=text)
        return secure(web.Response(text=body, content_type="text/html", status=status), request)

    def _render(self, name: str, **values: Any) -> str:
        return self._templates.get_template(name).render(**values)

    async def secret_key(self) -> bytes:
        """The web channel's shared secret; the dashboard derives its link key from it."""
        return await self._csrf.key()

    # -- life cycle -------------------------------------------------------------------------

    async def start(self) -> None:
        await self._csrf.load()

    async def stop(self) -> None:
        return None


async def _form_fields(request: web.Request) -> Mapping[str, str] | None:
    """The posted fields, or None when the body is larger than any real answer."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        return None
    body = await request.content.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        return None
    try:
        parsed = parse_qs(
            body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_RANKS + 5
        )
    except (UnicodeDecodeError, ValueError):
        return {}
    # A field sent twice is not something our form does: keep none of its values.
    return {name: values[0] for name, values in parsed.items() if len(values) == 1}


def _ranking(fields: Mapping[str, str]) -> tuple[str, ...]:
    """rank1, rank2, … in order, up to the first missing place (the core checks the count)."""
    ranking = []
    for place in range(1, MAX_RANKS + 1):
        value = fields.get(f"rank{place}")
        if value is None:
            break
        ranking.append(value.strip())
    return tuple(ranking)
