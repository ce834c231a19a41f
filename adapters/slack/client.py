"""Every outbound Web API call, with rate-limit retries and one error type for the core."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final
from urllib.parse import urlsplit

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.scopes import METHOD_SCOPES
from bot.model.ports import DeliveryError

# A 429 carries Retry-After; waiting it out a few times is cheaper than failing the send and
# letting the outbox retry later. After that the core's outbox owns the retry.
RATE_LIMIT_RETRIES: Final = 5
CONNECTION_RETRIES: Final = 2
# Slack errors that mean "try again later" rather than "this request is wrong".
RETRYABLE_ERRORS: Final = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)

TokenLookup = Callable[[str], Awaitable[str]]


def retry_handlers() -> list[AsyncRetryHandler]:
    return [
        AsyncConnectionErrorRetryHandler(max_retry_count=CONNECTION_RETRIES),
        AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
    ]


def make_client(
    base_url: str, token: str | None = None, session: aiohttp.ClientSession | None = None
) -> AsyncWebClient:
    return AsyncWebClient(
        token=token,
        base_url=base_url,
        retry_handlers=retry_handlers(),
        session=session,
        logger=sdk_logger(SDK_CLIENT_LOGGER),
    )


SDK_CLIENT_LOGGER: Final = "slack_sdk.web.async_base_client"  # the client's own default


def sdk_logger(name: str) -> logging.Logger:
    """The logger ``name`` with its own level set to the level it inherits now.

    slack_sdk and bolt guard their debug output with ``logger.level <= DEBUG``: the logger's
    own level, which is 0 (NOTSET) unless someone sets it, so an unset logger always passes.
    Every Web API call then formatted its request and the whole response (headers, body)
    into debug strings that were thrown away: about 5 % of a fan-out's CPU. Call this after
    logging is configured (``alignment serve`` does so before it builds the adapters); a
    logger already given a level keeps it.
    """
    logger = logging.getLogger(name)
    if logger.level == logging.NOTSET:
        logger.setLevel(logger.getEffectiveLevel())
    return logger


def require_method(method: str) -> None:
    """Refuse calls the scope table does not know, so the manifest cannot drift from the code."""
    if method not in METHOD_SCOPES:
        raise ValueError(f"{method} is not in adapters.slack.scopes.METHOD_SCOPES")


def delivery_error(method: str, error: Exception) -> DeliveryError:
    """Map an SDK or transport failure to the core's single error type."""
    if isinstance(error, SlackApiError):
        status = int(getattr(error.response, "status_code", 0) or 0)
        code = str(error.response.get("error", "")) if error.response is not None else ""
        retry_after = _retry_after(getattr(error.response, "headers", None))
        retryable = status == 429 or status >= 500 or code in RETRYABLE_ERRORS
        return DeliveryError(
            f"{method} failed: {code or status}",
            retryable=retryable,
            retry_after=retry_after,
            code=code,
        )
    if isinstance(error, aiohttp.ClientError | asyncio.TimeoutError):
        return DeliveryError(f"{method} failed: {type(error).__name__}", retryable=True)
    return DeliveryError(f"{method} failed: {error}", retryable=False)


def _retry_after(headers: Any) -> float | None:
    if not headers:
        return None
    for name, value in dict(headers).items():
        if str(name).lower() == "retry-after":
            raw = value[0] if isinstance(value, list) else value
            try:
                return float(raw)
            except (TypeError, ValueError):
                return None
    return None


DOWNLOAD_TIMEOUT_SECONDS: Final = 10.0
SLACK_FILE_HOST: Final = "files.slack.com"


class FileRefusedError(DeliveryError):
    """A file URL the bot will not fetch."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


def is_workspace_file(url: str, *, team_id: str, api_url: str) -> bool:
    """True for ``https://files.slack.com/files-pri/<team_id>-…`` (Slack's private file URL
    for this workspace) and for any URL on the configured Web API origin."""
    try:
        target, api = urlsplit(url), urlsplit(api_url)
        target_port, api_port = target.port, api.port
    except ValueError:
        return False
    if (target.scheme, target.hostname, target_port) == (api.scheme, api.hostname, api_port):
        return bool(target.hostname)
    return (
        target.scheme == "https"
        and target.hostname == SLACK_FILE_HOST
        and target_port is None
        and bool(team_id)
        and target.path.startswith(f"/files-pri/{team_id}-")
    )


class SlackApi:
    """Web API access for any workspace; a client per token, each with retry handlers."""

    def __init__(self, *, base_url: str, token_for: TokenLookup) -> None:
        self._base_url = base_url
        self._token_for = token_for
        self._clients: dict[str, AsyncWebClient] = {}
        self._session: aiohttp.ClientSession | None = None

    async def client_for(self, team_id: str) -> AsyncWebClient:
        token = await self._token_for(team_id)
        if token not in self._clients:
            # One pooled session for every call: without it the SDK opens a new connection
            # per request, which dominates a burst of poll updates.
            if self._session is None or self._session.closed:
                self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
            self._clients[token] = make_client(self._base_url, token, self._session)
        return self._clients[token]

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        self._clients.clear()

    async def call(self, team_id: str, method: str, **params: Any) -> dict[str, Any]:
        require_method(method)
        client = await self.client_for(team_id)
        # The SDK's own method knows whether Slack wants JSON, a form or a query string.
        bound = getattr(client, method.replace(".", "_"))
        try:
            response = await bound(**params)
        except (TimeoutError, SlackClientError, aiohttp.ClientError) as error:
            raise delivery_error(method, error) from error
        return dict(response.data) if isinstance(response.data, dict) else {}

    async def upload_file(
        self,
        team_id: str,
        *,
        channel: str,
        thread_ts: str | None,
        data: bytes,
        filename: str,
        title: str,
    ) -> None:
        """files_upload_v2: getUploadURLExternal, POST to the upload URL, completeUploadExternal."""
        for method in ("files.getUploadURLExternal", "files.completeUploadExternal"):
            require_method(method)
        client = await self.client_for(team_id)
        try:
            await client.files_upload_v2(
                channel=channel, thread_ts=thread_ts, file=data, filename=filename, title=title
            )
        except (TimeoutError, SlackClientError, aiohttp.ClientError) as error:
            raise delivery_error("files_upload_v2", error) from error

    async def download(self, team_id: str, url: str, *, max_bytes: int) -> bytes:
        """Fetch a private file (url_private_download), which needs the bot token as bearer.

        The URL comes from a form a person submitted, so the bot token goes only to the
        workspace's own files on Slack's file host (or the configured API host, which is
        where tests serve files): never to an address the person picked."""
        if not is_workspace_file(url, team_id=team_id, api_url=self._base_url):
            raise FileRefusedError("the file is not one of this Slack workspace's files")
        token = await self._token_for(team_id)
        headers = {"Authorization": f"Bearer {token}"}
        timeout = aiohttp.ClientTimeout(total=DOWNLOAD_TIMEOUT_SECONDS)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                # A redirect could lead the token anywhere: Slack serves files directly.
                session.get(url, headers=headers, allow_redirects=False) as response,
            ):
                if response.status != 200:
                    raise FileRefusedError(
                        f"the file could not be fetched (HTTP {response.status})"
                    )
                return await _read_capped(response, max_bytes)
        except (TimeoutError, aiohttp.ClientError) as error:
            raise delivery_error("url_private_download", error) from error


async def _read_capped(response: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    """The body, or FileRefusedError as soon as it passes ``max_bytes`` (not after reading
    all of it: the size a server announces is not to be trusted either)."""
    if (response.content_length or 0) > max_bytes:
        raise FileRefusedError(f"the file is larger than {max_bytes // 1000} kB")
    body = bytearray()
    async for chunk in response.content.iter_chunked(64 * 1024):
        body.extend(chunk)
        if len(body) > max_bytes:
            raise FileRefusedError(f"the file is larger than {max_bytes // 1000} kB")
    return bytes(body)
