"""The baseline for bench/ack.py: a bare slack-bolt AsyncApp on aiohttp that only acks.

Same signing secret and path as the bot, one ``view_submission`` listener for the poll
modal's callback id that calls ``ack()`` and nothing else, plus ``GET /healthz`` so the
benchmark knows when it is up. Outbound calls (bolt's one auth.test) go to the fake Slack API.
"""

from __future__ import annotations

import argparse
import logging

from aiohttp import web
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient


def build(signing_secret: str, api_url: str, callback_id: str) -> web.Application:
    app = AsyncApp(
        name="bare-bolt",
        signing_secret=signing_secret,
        client=AsyncWebClient(token="xoxb-test", base_url=api_url),
    )

    @app.view(callback_id)
    async def on_submit(ack: AsyncAck) -> None:
        await ack()

    web_app = app.web_app(path="/slack/events")

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    web_app.router.add_get("/healthz", healthz)
    return web_app


def main() -> None:
    parser = argparse.ArgumentParser(description="bare slack-bolt AsyncApp that only acks")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--signing-secret", required=True)
    parser.add_argument("--api-url", required=True)
    parser.add_argument("--callback-id", required=True)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args()
    # Same logging set-up as `alignment serve`, so both pay for the access log equally.
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    web.run_app(
        build(args.signing_secret, args.api_url, args.callback_id),
        host="127.0.0.1",
        port=args.port,
        print=None,
    )


if __name__ == "__main__":
    main()
