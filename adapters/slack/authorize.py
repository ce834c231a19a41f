"""Who the bot is in a workspace, for bolt: one ``auth.test`` per token, shared.

Bolt's own authorizations ask Slack on every request in multi-workspace mode (after reading
the installation), and in single-workspace mode on every request that arrives before the first
answer. Under a burst of poll answers that is hundreds of calls at once to a method Slack
rate-limits, each adding a round trip before the ack. Here the answer is kept per token: a
bot's identity does not change while its token lives, and a revoked token fails the next Web
API call anyway.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.async_authorize import AsyncAuthorize
from slack_bolt.context.async_context import AsyncBoltContext

from adapters.slack.client import SlackApi, TokenLookup
from bot.model.ports import DeliveryError
from bot.rounds.recent import Recent

_log = logging.getLogger(__name__)


class SharedAuthorize(AsyncAuthorize):
    """Bolt's authorize for any number of workspaces: the token from ``token_for``, the
    identity from one auth.test per token."""

    def __init__(self, *, token_for: TokenLookup, api: SlackApi) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # bolt: untyped
        self._token_for = token_for
        self._api = api
        self._identities: Recent[str, dict[str, Any]] = Recent(ttl=None)

    async def __call__(
        self,
        *,
        context: AsyncBoltContext,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None,
        actor_enterprise_id: str | None = None,
        actor_team_id: str | None = None,
        actor_user_id: str | None = None,
    ) -> AuthorizeResult | None:
        team = team_id or ""
        try:
            token = await self._token_for(team)
            identity = await self._identities.get(token, lambda: self._api.call(team, "auth.test"))
        except DeliveryError as error:
            # Bolt then answers with its "reinstall the app" message; the next request retries.
            _log.error("could not authorize a request from %s: %s", team or "no team", error)
            return None
        return AuthorizeResult(
            enterprise_id=identity.get("enterprise_id") or enterprise_id,
            team_id=identity.get("team_id") or team_id,
            team=identity.get("team"),
            url=identity.get("url"),
            bot_token=token,
            bot_id=identity.get("bot_id"),
            bot_user_id=identity.get("user_id"),
            user_id=user_id,
        )
