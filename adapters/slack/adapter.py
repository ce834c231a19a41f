"""SlackAdapter: bolt's AsyncApp behind our own request checks, on the shared aiohttp app."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Final, cast

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.request.async_request import AsyncBoltRequest

from adapters.slack import hygiene
from adapters.slack.authorize import SharedAuthorize
from adapters.slack.client import SlackApi, make_client
from adapters.slack.inbound import SlackInbound
from adapters.slack.pacing import history_limits
from adapters.slack.poll_refresh import PollRefresh, Traffic
from adapters.slack.port import SlackPort
from adapters.slack.replay import ReplayGuard
from adapters.slack.scopes import bot_scopes
from adapters.slack.settings import SlackSettings, secret
from adapters.slack.stores import RecordsInstallationStore, RecordsOAuthStateStore
from bot.model.ports import ChatPort, CoreApi, DeliveryError, PlatformRecords
from bot.rounds.recent import Recent

EVENTS_PATH: Final = "/slack/events"
INSTALL_PATH: Final = "/slack/install"
REDIRECT_PATH: Final = "/slack/oauth_redirect"
STOP_GRACE_SECONDS: Final = 10.0
INSTALLATION_TTL_SECONDS: Final = 60.0  # how stale a reinstalled workspace's token may be

_log = logging.getLogger(__name__)


class SlackSettingsError(ValueError):
    pass


class SlackAdapter:
    def __init__(self, *, settings: SlackSettings, core: CoreApi, records: PlatformRecords) -> None:
        if not settings.configured:
            raise SlackSettingsError("Slack is not configured; set " + "; ".join(settings.missing))
        self._settings = settings
        self._installations = RecordsInstallationStore(records)
        self._api = SlackApi(base_url=settings.SLACK_API_URL, token_for=self._token_for)
        self._port = SlackPort(self._api, history=history_limits(settings.distribution))
        # Socket Mode alone has no signing secret and no HTTP endpoint to verify.
        self._signing_secret = secret(settings.SLACK_SIGNING_SECRET)
        self._recent = hygiene.RecentIds()
        self._replays = ReplayGuard(records)
        # Every request and every Web API call needs its workspace's token: a read of the
        # installation each time was a database round trip per answer and per poll sent.
        self._installed_tokens: Recent[str, str | None] = Recent(
            INSTALLATION_TTL_SECONDS, keep=lambda token: token is not None
        )
        # Bolt's annotation leaves out the None that its own authorize classes return too.
        self._authorize = cast(
            Callable[..., Awaitable[AuthorizeResult]],
            SharedAuthorize(token_for=self._token_for, api=self._api),
        )
        self._app = self._build_app(records)
        self._traffic = Traffic()
        self._refresh = PollRefresh(self._port, self._traffic)
        self._inbound = SlackInbound(
            core=core, port=self._port, api=self._api, refresh=self._refresh
        )
        self._inbound.register(self._app)
        self._socket: AsyncSocketModeHandler | None = None

    @property
    def port(self) -> ChatPort:
        return self._port

    @property
    def bolt_app(self) -> AsyncApp:
        return self._app

    def _build_app(self, records: PlatformRecords) -> AsyncApp:
        s = self._settings
        if not s.oauth_enabled:
            return AsyncApp(
                name="alignment-bot",
                process_before_response=True,  # see adapters/slack/inbound.py
                client=make_client(s.SLACK_API_URL),
                authorize=self._authorize,
                signing_secret=secret(s.SLACK_SIGNING_SECRET),
                # Socket Mode envelopes are not signed; HTTP is checked in handle_events too.
                request_verification_enabled=bool(self._signing_secret),
            )
        oauth = AsyncOAuthSettings(
            client_id=s.SLACK_CLIENT_ID,
            client_secret=secret(s.SLACK_CLIENT_SECRET),
            scopes=bot_scopes(),
            install_path=INSTALL_PATH,
            redirect_uri_path=REDIRECT_PATH,
            installation_store=self._installations,
            state_store=RecordsOAuthStateStore(records),
        )
        return AsyncApp(
            name="alignment-bot",
            process_before_response=True,
            client=make_client(s.SLACK_API_URL),
            signing_secret=secret(s.SLACK_SIGNING_SECRET),
            installation_store=self._installations,
            authorize=self._authorize,
            oauth_settings=oauth,
            request_verification_enabled=bool(self._signing_secret),
        )

    async def _token_for(self, team_id: str) -> str:
        """The bot token of a workspace: its OAuth installation, else the single-workspace one."""
        if self._settings.oauth_enabled:
            token = await self._installed_tokens.get(
                team_id, lambda: self._installed_token(team_id)
            )
            if token is not None:
                return token
        if self._settings.SLACK_BOT_TOKEN is not None:
            return secret(self._settings.SLACK_BOT_TOKEN)
        raise DeliveryError(f"the Slack workspace {team_id} is not installed", retryable=False)

    async def _installed_token(self, team_id: str) -> str | None:
        bot = await self._installations.async_find_bot(enterprise_id=None, team_id=team_id)
        return bot.bot_token if bot is not None and bot.bot_token else None

    def add_routes(self, app: web.Application) -> None:
        if bool(self._signing_secret):
            app.router.add_post(EVENTS_PATH, self.handle_events)
        if self._settings.oauth_enabled:
            app.router.add_get(INSTALL_PATH, self.handle_install)
            app.router.add_get(REDIRECT_PATH, self.handle_oauth_redirect)

    async def handle_events(self, request: web.Request) -> web.StreamResponse:
        if (request.content_length or 0) > hygiene.MAX_BODY_BYTES:
            return _error(413, "request body too large")
        body = await request.read()
        if not self._signing_secret or not hygiene.check_signature(
            self._signing_secret, body, request.headers
        ):
            return _error(401, "invalid or stale signature")
        parsed = hygiene.read_body(request.content_type, body)
        if isinstance(parsed, hygiene.Problem):
            return _error(parsed.status, parsed.error)
        if isinstance(parsed, hygiene.Acknowledged):
            return _acknowledged(parsed)
        if isinstance(parsed, hygiene.Notice):
            _log_notice(parsed)
            return web.Response(status=200)
        if not await self._replays.first_time(request.headers["X-Slack-Signature"]):
            _log.info("a replayed request was acknowledged and dropped")
            return web.Response(status=200, headers={"X-Slack-No-Retry": "1"})
        event_id = hygiene.event_id_of(parsed)
        if event_id is not None and not self._recent.add(event_id):
            # A retry (X-Slack-Retry-Num) of an event we already took: ack, do not rerun.
            return web.Response(status=200, headers={"X-Slack-No-Retry": "1"})
        with self._traffic:  # poll DM edits wait while requests are being answered
            response = await to_aiohttp_response(
                await self._app.async_dispatch(_bolt_request(request, parsed))
            )
        if event_id is not None and response.status >= 300:
            self._recent.forget(event_id)  # let Slack's retry through: this one failed
        return response

    async def handle_install(self, request: web.Request) -> web.StreamResponse:
        flow = self._app.oauth_flow
        assert flow is not None  # the route exists only with OAuth
        return await to_aiohttp_response(
            await flow.handle_installation(await to_bolt_request(request))
        )

    async def handle_oauth_redirect(self, request: web.Request) -> web.StreamResponse:
        flow = self._app.oauth_flow
        assert flow is not None
        return await to_aiohttp_response(await flow.handle_callback(await to_bolt_request(request)))

    async def start(self) -> None:
        if self._settings.SLACK_APP_TOKEN is None:
            return  # HTTP mode: Slack calls the routes, nothing to start
        self._socket = AsyncSocketModeHandler(
            self._app, app_token=secret(self._settings.SLACK_APP_TOKEN)
        )
        await self._socket.connect_async()  # type: ignore[no-untyped-call]  # bolt: untyped
        _log.info("Slack Socket Mode connected")

    async def idle(self) -> None:
        """Wait for the work listeners left running after their acks."""
        await self._inbound.idle()

    async def _stop_work(self) -> None:
        self._refresh.stop_waiting()  # edits go out without waiting for quiet
        await self._inbound.idle()

    async def stop(self) -> None:
        if self._socket is not None:
            await self._socket.close_async()  # type: ignore[no-untyped-call]
            self._socket = None
        try:
            # Let answers already acked finish updating their DMs before the client closes.
            await asyncio.wait_for(self._stop_work(), STOP_GRACE_SECONDS)
        except TimeoutError:
            _log.warning("stopped with work after acks still running")
        await self._api.close()


def _log_notice(notice: hygiene.Notice) -> None:
    if notice.kind == "app_rate_limited":
        # Slack sent no events to this workspace for that minute (more than 30,000 an hour).
        _log.warning(
            "Slack rate-limited event delivery: team %s, minute %s",
            notice.data.get("team_id"),
            notice.data.get("minute_rate_limited"),
        )
    else:
        _log.info("acknowledged an Events API envelope of unknown type %r", notice.kind)


def _bolt_request(request: web.Request, body: hygiene.Body) -> AsyncBoltRequest:
    """Bolt's request, with the body as our checks parsed it.

    Given the text, bolt parses it again (a tenth of the server's CPU under a burst of
    answers), and it takes any form with the word "payload" in it for an interaction: a slash
    command such as ``/alignment attributes add payload capacity`` reached it empty. Bolt
    accepts a parsed body only for Socket Mode; marked HTTP again and given the raw text, it
    verifies the signature as for any HTTP request. (Bolt's lazy listeners would copy the
    request and parse the text again; we register none.)"""
    bolt_request = AsyncBoltRequest(
        body=body.data,
        query=request.query_string,
        headers=dict(request.headers),
        mode="socket_mode",
    )
    bolt_request.mode = "http"
    bolt_request.raw_body = body.text
    return bolt_request


def _acknowledged(ack: hygiene.Acknowledged) -> web.Response:
    if ack.body is None:
        return web.Response(status=200)
    return web.json_response(ack.body)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"ok": False, "error": message}, status=status)
