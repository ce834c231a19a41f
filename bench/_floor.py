"""The floor for bench/ack.py: the least a server can do to take a poll answer from Slack.

A plain aiohttp handler, no bolt and no core: it checks the request's Slack signature with
slack_sdk's ``SignatureVerifier``, parses the ``view_submission`` (the modal's
``private_metadata`` and picks, with the adapter's own parsers), and inserts the answer
through the bot's group-commit writer (``storage.answer_batch.AnswerBatcher``: one
transaction per batch of answers, the invitation check, the event-id claim) into the same
database. It acks with an empty 200 once the answer is committed, as the bot does. It does
not edit the poll DM afterwards (the bot's chat.update), log each request, or look the round
and attributes up first: whatever the bot spends above this is its own overhead.

With ``--reuse-port`` several copies share one port, as ``alignment serve --workers`` does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
from datetime import UTC, datetime
from urllib.parse import parse_qs

from aiohttp import web
from slack_sdk.signature import SignatureVerifier

from adapters.slack import parse
from bot.model.records import AnswerWrite
from storage.answer_batch import AnswerBatcher, AnswerRequest
from storage.database import create_engine


def build(database_url: str, signing_secret: str, workspace_id: int, team: str) -> web.Application:
    verifier = SignatureVerifier(signing_secret)
    engine = create_engine(database_url)
    batcher = AnswerBatcher(engine)

    async def events(request: web.Request) -> web.Response:
        body = await request.read()
        if not verifier.is_valid(
            body,
            request.headers.get("X-Slack-Request-Timestamp", ""),
            request.headers.get("X-Slack-Signature", ""),
        ):
            return web.Response(status=401)
        try:
            payload = json.loads(parse_qs(body.decode())["payload"][0])
            view = payload["view"]
            meta = parse.PollMeta.decode(str(view.get("private_metadata") or ""))
            user = str(payload["user"]["id"])
        except (ValueError, KeyError, TypeError):
            return web.Response(status=400)
        if meta is None:
            return web.Response(status=400)
        ranking, errors = parse.read_ranking(view["state"]["values"], meta.k)
        if errors:
            return web.json_response({"response_action": "errors", "errors": errors})
        write = await batcher.submit(
            AnswerRequest(
                workspace_id,
                user,
                meta.round_id,
                tuple(int(value) for value in ranking),
                datetime.now(UTC),
                f"answer:slack:{team}:{parse.answer_event_id(view, ranking)}",
            )
        )
        if write in (AnswerWrite.RECORDED, AnswerWrite.REPLACED, AnswerWrite.DUPLICATE):
            return web.Response(status=200)
        return web.json_response({"response_action": "errors", "errors": {"x": write.name}})

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def close(_app: web.Application) -> None:
        await batcher.flush()
        await engine.dispose()

    app = web.Application()
    app.router.add_post("/slack/events", events)
    app.router.add_get("/healthz", healthz)
    app.on_cleanup.append(close)
    return app


async def serve(args: argparse.Namespace) -> None:
    app = build(args.database_url, args.signing_secret, args.workspace_id, args.team)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", args.port, reuse_port=args.reuse_port or None)
    await site.start()
    try:
        await asyncio.Event().wait()  # until the benchmark stops the process
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description="the ack floor: signature, parse, insert")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--signing-secret", required=True)
    parser.add_argument("--workspace-id", type=int, required=True)
    parser.add_argument("--team", required=True)
    parser.add_argument("--reuse-port", action="store_true")
    parser.add_argument("--workers", type=int, default=1, help="processes sharing the port")
    args = parser.parse_args()
    # Copies in this process group, so the benchmark's CPU reading and its stop cover them.
    copies = [
        subprocess.Popen(
            [
                sys.executable,
                *[a for a in sys.argv if a != "--reuse-port"],
                "--reuse-port",
                "--workers",
                "1",
            ]
        )
        for _ in range(args.workers - 1)
    ]
    if copies:
        args.reuse_port = True
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        pass
    finally:
        for copy in copies:
            copy.terminate()


if __name__ == "__main__":
    main()
