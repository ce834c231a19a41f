"""HTTP routes of the managers' dashboard on the shared aiohttp app.

GET /dashboard/open?token=…   a signed link from `/alignment dashboard`: sets the session cookie
                              and moves on to /dashboard, so the token leaves the address bar
GET /dashboard                overview: score and agreement per closed round and segment
GET /dashboard/heatmap        teams x attributes: staff share minus customers' share
GET /dashboard/round          one round's report, as in chat, with the surprises' intervals
GET /dashboard/customers      the studies per segment and their age
GET /dashboard/<page>.csv     what the page shows, as CSV

Every request re-checks the session (signature, time, person, role) in the core; the pages
show only what the core hands over, which comes from frozen, disclosure-controlled figures.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from adapters.web import dashboard_csv as csv_of
from adapters.web.dashboard_svg import heat_colour, heat_text, score_chart
from adapters.web.security import page_templates, secure
from bot.model.dashboard import DashboardAccess, DashboardApi, DashboardNotFound, Viewer
from bot.reports.render_text import joined, percent, q_text, score_meaning, trend_line

HERE = Path(__file__).parent
SESSION_COOKIE = "dashboard_session"
SEGMENT_SHAPE = re.compile(r"^[^\x00-\x1f\x7f]{0,80}$")
ROUND_SHAPE = re.compile(r"^[0-9]{1,9}$")
DENIED = {
    DashboardAccess.EXPIRED: (
        "Link expired",
        "This dashboard link has expired. Ask the bot for a new one with '/alignment dashboard'.",
        401,
    ),
    DashboardAccess.INVALID: (
        "Link not valid",
        "This dashboard link is not valid (it may have been changed or cut short). Ask the "
        "bot for a new one with '/alignment dashboard'.",
        401,
    ),
    DashboardAccess.REVOKED: (
        "No access",
        "This link no longer gives access: the dashboard is for managers and admins, and "
        "your role has changed (or you asked to be forgotten).",
        403,
    ),
    DashboardAccess.SIGNED_OUT: (
        "Open the dashboard from chat",
        "The dashboard opens through a personal link: ask the bot with '/alignment dashboard'.",
        401,
    ),
}
NOT_FOUND = "Not found"

Page = Callable[[web.Request, Viewer], Awaitable[web.StreamResponse]]


class DashboardSite:
    def __init__(self, *, api: DashboardApi) -> None:
        self._api = api
        self._templates = page_templates()
        self._templates.globals.update(
            heat_colour=heat_colour,
            heat_text=heat_text,
            pct=_pct,
            signed=_signed,
            percent=percent,
            q_text=q_text,
            score_meaning=score_meaning,
            trend_line=trend_line,
            joined=joined,
        )

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/dashboard/open", self._open)
        app.router.add_get("/dashboard/static/dashboard.css", self._stylesheet)
        for path, page in (
            ("/dashboard", self._overview),
            ("/dashboard/heatmap", self._heatmap),
            ("/dashboard/round", self._round),
            ("/dashboard/customers", self._customers),
            ("/dashboard/overview.csv", self._overview_csv),
            ("/dashboard/heatmap.csv", self._heatmap_csv),
            ("/dashboard/round.csv", self._round_csv),
            ("/dashboard/customers.csv", self._customers_csv),
        ):
            app.router.add_get(path, self._guarded(page))

    # -- entering -------------------------------------------------------------------------

    async def _open(self, request: web.Request) -> web.StreamResponse:
        entry = await self._api.enter(request.query.get("token", ""))
        if entry.access is not DashboardAccess.OK or entry.session is None:
            return self._denied(request, entry.access)
        body = self._render("dashboard/opened.html")
        response = web.Response(text=body, content_type="text/html")
        response.set_cookie(
            SESSION_COOKIE,
            entry.session,
            path="/dashboard",
            httponly=True,
            samesite="Strict",
            secure=request.secure,
            max_age=entry.max_age,
        )
        # The page moves on by itself (meta refresh) rather than by a redirect: a link
        # followed from a chat app is a cross-site navigation, and a browser withholds a
        # SameSite=Strict cookie on a redirect that is part of it.
        return secure(response, request)

    def _guarded(self, page: Page) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handler(request: web.Request) -> web.StreamResponse:
            check = await self._api.check(request.cookies.get(SESSION_COOKIE))
            if check.access is not DashboardAccess.OK or check.viewer is None:
                return self._denied(request, check.access)
            try:
                return await page(request, check.viewer)
            except (DashboardNotFound, BadQuery) as exc:
                return self._message(request, NOT_FOUND, f"Not found: {exc}. No data shown.", 404)

        return handler

    # -- pages ----------------------------------------------------------------------------

    async def _overview(self, request: web.Request, viewer: Viewer) -> web.StreamResponse:
        page = await self._api.overview(viewer, _segment(request))
        chart = score_chart(page.rows, page.segment)
        return self._html(
            request, "dashboard/overview.html", page=page, chart=chart, nav="overview"
        )

    async def _heatmap(self, request: web.Request, viewer: Viewer) -> web.StreamResponse:
        page = await self._api.heatmap(viewer, _round(request), _segment(request))
        return self._html(request, "dashboard/heatmap.html", page=page, nav="heatmap")

    async def _round(self, request: web.Request, viewer: Viewer) -> web.StreamResponse:
        page = await self._api.round_page(
            viewer, _round(request), _segment(request), _text(request, "team")
        )
        return self._html(request, "dashboard/round.html", page=page, nav="round")

    async def _customers(self, request: web.Request, viewer: Viewer) -> web.StreamResponse:
        page = await self._api.customers(viewer)
        return self._html(request, "dashboard/customers.html", page=page, nav="customers")

    async def _overview_csv(self, request: web.Request, viewer: Viewer) -> web.StreamResponse:
        page = await self._api.overview(viewer, _segment(request))
        return _csv(request, "overview.csv", csv_of.overview(page))

    async def _heatmap_csv(self, request: web.Request, viewer: Viewer) -> web.StreamResponse:
        page = await self._api.heatmap(viewer, _round(request), _segment(request))
        return _csv(request, f"heatmap-round-{page.round_id}.csv", csv_of.heatmap(page))

    async def _round_csv(self, request: web.Request, viewer: Viewer) -> web.StreamResponse:
        page = await self._api.round_page(
            viewer, _round(request), _segment(request), _text(request, "team")
        )
        return _csv(request, f"round-{page.round_id}.csv", csv_of.round_page(page))

    async def _customers_csv(self, request: web.Request, viewer: Viewer) -> web.StreamResponse:
        return _csv(request, "customers.csv", csv_of.customers(await self._api.customers(viewer)))

    async def _stylesheet(self, request: web.Request) -> web.StreamResponse:
        css = (HERE / "static" / "dashboard.css").read_text(encoding="utf-8")
        response = web.Response(text=css, content_type="text/css")
        secure(response, request)
        response.headers["Cache-Control"] = "private, max-age=3600"
        return response

    # -- rendering ------------------------------------------------------------------------

    def _html(self, request: web.Request, template: str, **values: Any) -> web.StreamResponse:
        body = self._render(template, query=dict(request.query), **values)
        return secure(web.Response(text=body, content_type="text/html"), request)

    def _denied(self, request: web.Request, access: DashboardAccess) -> web.StreamResponse:
        title, text, status = DENIED.get(access, DENIED[DashboardAccess.INVALID])
        response = self._message(request, title, text, status)
        if access is not DashboardAccess.OK:
            response.del_cookie(SESSION_COOKIE, path="/dashboard")
        return response

    def _message(
        self, request: web.Request, title: str, text: str, status: int
    ) -> web.StreamResponse:
        body = self._render("dashboard/message.html", title=title, text=text)
        return secure(web.Response(text=body, content_type="text/html", status=status), request)

    def _render(self, name: str, **values: Any) -> str:
        return self._templates.get_template(name).render(**values)


class BadQuery(ValueError):
    """A query parameter that cannot name anything (handled as "not found")."""


def _text(request: web.Request, name: str) -> str:
    value = request.query.get(name, "").strip()
    if not SEGMENT_SHAPE.match(value):
        raise BadQuery(f"no such {name}")
    return value


def _segment(request: web.Request) -> str:
    return _text(request, "segment")


def _round(request: web.Request) -> int | None:
    value = request.query.get("round", "").strip()
    if not value:
        return None
    if not ROUND_SHAPE.match(value):
        raise BadQuery("no such round")
    return int(value)


def _csv(request: web.Request, filename: str, text: str) -> web.StreamResponse:
    response = web.Response(
        text=text,
        content_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
    return secure(response, request)


def _pct(share: float | None) -> str:
    return "–" if share is None else percent(share)  # the chat report's own rounding


def _signed(points: float) -> str:
    return f"{points:+.0f}"
