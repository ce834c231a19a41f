"""The only module that touches the Bot Framework SDK (botbuilder / botframework / msrest).

The SDK is being retired in favour of the Microsoft 365 Agents SDK; everything else in the
adapter works on plain activity JSON through ``BotBridge`` and ``Turn``, so a move replaces
this file only. Nothing imports it before the SDK is first needed (``bridge.LazyBridge``). The SDK has no type hints: its objects stay inside, typed ``Any``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, TypeVar

from botbuilder.core import InvokeResponse, TurnContext
from botbuilder.integration.aiohttp import (
    CloudAdapter,
    ConfigurationBotFrameworkAuthentication,
)
from botbuilder.schema import (
    Activity,
    ChannelAccount,
    ConversationParameters,
    ConversationReference,
)
from botframework.connector.auth import AuthenticationConstants
from msrest.exceptions import ClientRequestError, HttpOperationError

from adapters.teams.bridge import BadActivity, Json, Unauthorized
from adapters.teams.settings import TeamsSettings
from bot.model.ports import DeliveryError

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 4
    max_wait: float = 30.0


@dataclass(frozen=True, slots=True)
class Inbound:
    """An authenticated inbound activity, ready to be processed."""

    activity: Any
    auth: Any
    body: Json


def _sdk_configuration(settings: TeamsSettings) -> Any:
    """The attribute bag ConfigurationBotFrameworkAuthentication reads."""
    config = SimpleNamespace(
        APP_ID=settings.app_id or None,
        APP_PASSWORD=settings.app_password.get_secret_value() or None,
        APP_TYPE=settings.app_type,
        APP_TENANTID=settings.app_tenant_id or None,
    )
    if settings.openid_metadata_url:
        # Setting any endpoint switches the SDK to its "parameterized" mode, which then needs
        # every endpoint: the public cloud's, except where the signing keys are published.
        config.TO_CHANNEL_FROM_BOT_LOGIN_URL = (
            AuthenticationConstants.TO_CHANNEL_FROM_BOT_LOGIN_URL_PREFIX
        )
        config.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE = (
            AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE
        )
        config.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER = (
            AuthenticationConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER
        )
        config.OAUTH_URL = AuthenticationConstants.OAUTH_URL
        config.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL = settings.openid_metadata_url
        config.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL = (
            AuthenticationConstants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL
        )
        config.CALLER_ID = "urn:botframework:azure"
    return config


def _http_failure(exc: BaseException) -> tuple[int | None, float | None]:
    """Status and Retry-After (seconds) of a failed connector call."""
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    headers = getattr(response, "headers", None) or {}
    retry_after: float | None = None
    raw = headers.get("Retry-After") if hasattr(headers, "get") else None
    if raw is not None:
        try:
            retry_after = max(0.0, float(raw))
        except ValueError:
            retry_after = None
    return (int(status) if status is not None else None), retry_after


def _delivery_error(exc: BaseException, what: str) -> DeliveryError:
    status, retry_after = _http_failure(exc)
    if status is None:  # no answer at all: connection refused, timeout
        return DeliveryError(f"Teams {what} failed: {exc}", retryable=True)
    retryable = status in (408, 429) or status >= 500
    return DeliveryError(
        f"Teams {what} failed with HTTP {status}", retryable=retryable, retry_after=retry_after
    )


async def with_retries(policy: RetryPolicy, what: str, call: Callable[[], Awaitable[T]]) -> T:
    """Run a connector call, waiting out 429s.

    A 429 means the connector did not accept the request, so sending again cannot duplicate
    it. Other failures are not retried here (a 5xx may have been delivered); they become a
    DeliveryError the caller's outbox can act on.
    """
    for attempt in range(1, policy.attempts + 1):
        try:
            return await call()
        except (HttpOperationError, ClientRequestError) as exc:
            status, retry_after = _http_failure(exc)
            wait = retry_after if retry_after is not None else float(2 ** (attempt - 1))
            if status != 429 or attempt == policy.attempts or wait > policy.max_wait:
                raise _delivery_error(exc, what) from exc
            log.info("Teams throttled %s; retrying in %.1fs (attempt %d)", what, wait, attempt)
            await asyncio.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


class Turn:
    """One bot turn (inbound or proactive), reduced to the few operations we use."""

    def __init__(self, context: Any, policy: RetryPolicy, body: Json | None = None) -> None:
        self._context = context
        self._policy = policy
        self.activity: Json = body if body is not None else context.activity.serialize()
        client = context.turn_state.get(context.adapter.BOT_CONNECTOR_CLIENT_KEY)
        if client is not None:
            # The SDK's HTTP layer retries 5xx on POST by itself, which can post twice; we
            # retry only what is safe (see with_retries).
            client.config.retry_policy.retries = 0

    def reference(self) -> Json:
        """The conversation reference to store, without the activity id (proactive posts
        must start a new message, not reply to whatever came last)."""
        reference = TurnContext.get_conversation_reference(self._context.activity)
        reference.activity_id = None
        result: Json = reference.serialize()
        return result

    async def send(self, activity: Json) -> str:
        outgoing = Activity().deserialize({"type": "message", **activity})

        async def call() -> Any:
            return await self._context.send_activity(outgoing)

        response = await with_retries(self._policy, "send", call)
        return str(getattr(response, "id", "") or "")

    async def update(self, activity_id: str, activity: Json) -> None:
        outgoing = Activity().deserialize({"type": "message", **activity, "id": activity_id})

        async def call() -> Any:
            return await self._context.update_activity(outgoing)

        await with_retries(self._policy, "update", call)

    async def invoke_response(self, status: int, body: Json | None) -> None:
        await self._context.send_activity(
            Activity(type="invokeResponse", value=InvokeResponse(status=status, body=body))
        )

    def _client(self) -> Any:
        return self._context.turn_state.get(self._context.adapter.BOT_CONNECTOR_CLIENT_KEY)

    async def member(self, member_id: str) -> Json:
        """One member of this conversation. (TeamsInfo.get_member needs the channelData of an
        inbound activity, which a proactive turn does not have, so the connector is asked.)"""
        conversation_id = self._context.activity.conversation.id

        async def call() -> Any:
            return await self._client().conversations.get_conversation_member(
                conversation_id, member_id
            )

        account = await with_retries(self._policy, "member lookup", call)
        result: Json = account.serialize()
        return result

    async def paged_members(
        self, conversation_id: str, token: str | None
    ) -> tuple[list[Json], str | None]:
        async def call() -> Any:
            return await self._client().conversations.get_teams_conversation_paged_members(
                conversation_id, None, token
            )

        page = await with_retries(self._policy, "member list", call)
        members = [m.serialize() for m in page.members or []]
        return members, page.continuation_token or None


class BotBridge:
    """CloudAdapter plus the configured authentication."""

    def __init__(self, settings: TeamsSettings) -> None:
        self._auth = ConfigurationBotFrameworkAuthentication(_sdk_configuration(settings))
        self._adapter = CloudAdapter(self._auth)
        self._app_id = settings.app_id
        self._policy = RetryPolicy(settings.max_send_attempts, settings.max_retry_wait)

    async def authenticate(self, body: Json, auth_header: str) -> Inbound:
        try:
            activity = Activity().deserialize(body)
        except Exception as exc:  # msrest raises its own DeserializationError and others
            raise BadActivity(str(exc)) from exc
        try:
            result = await self._auth.authenticate_request(activity, auth_header)
        except Exception as exc:
            # The SDK signals a bad token with PermissionError, but a malformed one surfaces as
            # a PyJWT or KeyError: every failure to authenticate is a 401, never a 500.
            raise Unauthorized(str(exc)) from exc
        return Inbound(activity, result, body)

    async def process(
        self, inbound: Inbound, handler: Callable[[Turn], Awaitable[None]]
    ) -> tuple[int, Any] | None:
        async def logic(context: Any) -> None:
            await handler(Turn(context, self._policy, inbound.body))

        response = await self._adapter.process_activity(inbound.auth, inbound.activity, logic)
        if response is None:
            return None
        return int(response.status), response.body

    async def continue_conversation(
        self, reference: Json, work: Callable[[Turn], Awaitable[T]]
    ) -> T:
        results: list[T] = []

        async def logic(context: Any) -> None:
            # The SDK gives the continuation event a random id and would then send every
            # message as a reply to it; without an id, messages are posted as new ones.
            context.activity.id = None
            results.append(await work(Turn(context, self._policy)))

        await self._adapter.continue_conversation(
            ConversationReference().deserialize(reference), logic, self._app_id
        )
        return results[0]

    async def create_personal_conversation(
        self, *, service_url: str, tenant_id: str, bot_id: str, member_id: str
    ) -> Json:
        """Open a 1:1 with a member the bot has not talked to yet; returns its reference."""
        parameters = ConversationParameters(
            is_group=False,
            bot=ChannelAccount(id=bot_id),
            members=[ChannelAccount(id=member_id)],
            tenant_id=tenant_id,
            channel_data={"tenant": {"id": tenant_id}},
        )
        references: list[Json] = []

        async def logic(context: Any) -> None:
            reference = TurnContext.get_conversation_reference(context.activity)
            reference.activity_id = None
            reference.user = ChannelAccount(id=member_id)
            references.append(reference.serialize())

        async def call() -> None:
            await self._adapter.create_conversation(
                self._app_id, logic, parameters, "msteams", service_url
            )

        await with_retries(self._policy, "create conversation", call)
        return references[0]
