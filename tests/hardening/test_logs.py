"""bot.runtime.logs: JSON lines with a request id through the real Slack adapter, and secrets that
never reach any log output, however they are logged."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp import web

from adapters.slack import SlackAdapter
from bot.model.events import CommandInvoked, CommandResult
from bot.runtime import logs
from tests.fakes.records import MemoryRecords
from tests.fakes.slack_api import FakeSlackApi
from tests.hardening.conftest import TEAMS_PASSWORD
from tests.slack import payloads
from tests.slack.conftest import settings_for
from tests.slack.fake_core import FakeCore
from tests.teams.conftest import Harness

BOT_TOKEN = "xoxb-1111-2222-LeakyBotToken"
SIGNING_SECRET = "8f14e45fceea167a5a36dedd4bea2543"
BEARER = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJib3QifQ.c2lnbmF0dXJl"
SECRETS = (BOT_TOKEN, SIGNING_SECRET, TEAMS_PASSWORD, BEARER)


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[None]:
    capsys.readouterr()
    logs.configure_logging("INFO", True, secrets=[SIGNING_SECRET, TEAMS_PASSWORD, BOT_TOKEN])
    yield
    logs.unconfigure_logging()
    logs.reset_request_id()


def _lines(err: str) -> list[dict[str, Any]]:
    lines = [line for line in err.splitlines() if line.strip()]
    bad = [line for line in lines if not line.startswith("{")]
    assert not bad, "\n".join(lines)
    records = [json.loads(line) for line in lines]
    for record in records:
        assert {"ts", "level", "logger", "message"} <= set(record), record
    return records


def _assert_clean(*outputs: str) -> None:
    for output in outputs:
        for secret in SECRETS:
            assert secret not in output, (secret, output)


class ExplodingCore(FakeCore):
    async def handle_command(self, event: CommandInvoked) -> CommandResult:
        self.commands.append(event)
        raise RuntimeError(f"database said no; token={BOT_TOKEN} secret {SIGNING_SECRET}")


@pytest.fixture
async def slack_with_ids(fake_slack: FakeSlackApi) -> AsyncIterator[tuple[str, FakeCore]]:
    """The Slack adapter on an app that has the request-id middleware, as `serve` will."""
    fake_slack.tokens.add(BOT_TOKEN)
    core = ExplodingCore()
    settings = settings_for(
        fake_slack, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET
    )
    adapter = SlackAdapter(settings=settings, core=core, records=MemoryRecords())
    app = web.Application(middlewares=[logs.request_id_middleware()])
    adapter.add_routes(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    await adapter.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events", core
    await adapter.stop()
    await runner.cleanup()


async def test_a_slack_request_logs_json_lines_with_its_request_id(
    json_logs: None,
    slack_with_ids: tuple[str, FakeCore],
    fake_slack: FakeSlackApi,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    url, core = slack_with_ids
    body = payloads.slash_command(response_url=fake_slack.response_url("r1"), text="report")
    headers = payloads.signed_headers(body, secret=SIGNING_SECRET)
    async with aiohttp.ClientSession() as session:
        async with session.post(url, data=body, headers=headers) as response:
            assert response.status == 200
            request_id = response.headers[logs.REQUEST_ID_HEADER]
        # The core failed after the ack: the person is told, and the failure is logged.
        replies = await fake_slack.wait_for_response("r1")
        assert "did not work" in replies[0]["text"]
        async with session.post(
            url, data=b"x=1", headers={"X-Request-Id": "caller-id-42"}
        ) as forged:
            assert forged.status == 401
            assert forged.headers[logs.REQUEST_ID_HEADER] == "caller-id-42"
        async with session.post(
            url, data=b"x=1", headers={"X-Request-Id": "bad id\twith tab" * 20}
        ) as odd:
            assert odd.headers[logs.REQUEST_ID_HEADER] != "bad id\twith tab" * 20

    assert core.commands
    err = capsys.readouterr().err
    records = _lines(err)
    mine = [r for r in records if r.get("request_id") == request_id]
    access = [r for r in mine if r["logger"] == "bot.http"]
    assert access, records
    assert access[0]["message"].startswith("POST /slack/events 200"), records
    failures = [r for r in mine if r["level"] == "ERROR" and "exception" in r]
    assert failures, records  # the listener's log.exception, after the ack, same request id
    assert "RuntimeError: database said no" in failures[0]["exception"]
    assert any(
        r.get("request_id") == "caller-id-42" and r["message"].startswith("POST /slack/events 401")
        for r in records
    )
    assert all(
        r["request_id"] != request_id for r in records if r.get("request_id") and r not in mine
    )
    _assert_clean(err, caplog.text, *(r.getMessage() for r in caplog.records))


async def test_the_access_log_names_routes_never_the_link_tokens_in_paths(
    json_logs: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """A mirror survey link's token answers the survey: whoever reads the log must not see it,
    neither in a known route's path nor in a path that matches no route."""
    token = "Secret-Invitation-Token-1234567"

    async def form(request: web.Request) -> web.Response:
        return web.Response(text="form")

    app = web.Application(middlewares=[logs.request_id_middleware()])
    app.router.add_get("/m/{token}", form)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        async with aiohttp.ClientSession() as session:
            for path in (f"/m/{token}", f"/m/{token}/extra"):
                async with session.get(base + path) as response:
                    await response.read()
    finally:
        await runner.cleanup()
    messages = [r["message"] for r in _lines(capsys.readouterr().err) if r["logger"] == "bot.http"]
    assert messages[0].startswith("GET /m/{token} 200"), messages
    assert messages[1].startswith("GET (no route) 404"), messages
    assert not [m for m in messages if token in m]


async def test_secrets_logged_on_purpose_are_redacted_everywhere(
    json_logs: None,
    teams: Harness,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = logging.getLogger("tests.hardening.leaky")
    logs.bind_request_id("req-1")
    log.info("the bot token is %s and the signing secret is %s", BOT_TOKEN, SIGNING_SECRET)
    log.warning("Authorization: Bearer %s", BEARER)
    log.warning("calling with headers %s", {"Authorization": f"Bearer {BEARER}"})
    log.info("settings: %r", {"MicrosoftAppPassword": TEAMS_PASSWORD, "client_secret": "abc123"})
    log.info("form body: token=%s&password=%s&secret=%s", BOT_TOKEN, "hunter22", "s3cr3t")
    log.info(f"f-string with {TEAMS_PASSWORD} inside")
    log.info("a form body %s", urlencode({"pw": TEAMS_PASSWORD, "note": SIGNING_SECRET}))
    try:
        raise PermissionError(f"bad password {TEAMS_PASSWORD} for Bearer {BEARER}")
    except PermissionError:
        log.exception("login failed for %s", BOT_TOKEN)
    try:
        try:
            raise ValueError(SIGNING_SECRET)
        except ValueError as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError:
        log.error("chained", exc_info=True, stack_info=True)
    log.info("a broken format %s %s", BOT_TOKEN)  # too few arguments: still redacted

    # The Teams adapter refusing a forged token logs the SDK's reason: no secret in it.
    await teams.post(
        teams.activity("message", text="report"), {"Authorization": f"Bearer {BEARER}"}
    )

    err = capsys.readouterr().err
    records = _lines(err)
    assert len(records) >= 10
    assert all(r["request_id"] == "req-1" for r in records if r["logger"].startswith("tests."))
    assert any("exception" in r and "PermissionError" in r["exception"] for r in records)
    assert "[REDACTED]" in err
    _assert_clean(err, caplog.text, *(r.getMessage() for r in caplog.records))
    for record in caplog.records:
        _assert_clean(record.exc_text or "", record.stack_info or "")
    for value in ("hunter22", "s3cr3t", "abc123"):
        assert value not in err
    # Configured values are matched as written and percent-encoded (the password has a "!").
    assert urlencode({"pw": TEAMS_PASSWORD}) not in err
    assert "LeakyBotToken" not in err


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("xoxb-123-456-abc xoxp-1-2 xapp-1-A0-99 xoxe.xoxp-1-abc", ""),
        ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "Authorization: "),
        ("postgresql+asyncpg://alice:pa55word@db/alignment", "postgresql+asyncpg://alice:"),
        ('{"signing_secret": "abcdef", "password": "pw"}', '"signing_secret": "'),
        ("SLACK_SIGNING_SECRET=abcdef0123", "SLACK_SIGNING_SECRET="),
        ("GET /slack/oauth_redirect?code=123.456&state=x", "state=x"),
    ],
)
def test_credential_shaped_text_is_redacted_without_configuration(text: str, kept: str) -> None:
    cleaned = logs.redact(text)
    assert "[REDACTED]" in cleaned
    assert kept in cleaned
    for secret in ("123-456", "dXNlcjpw", "pa55word", "abcdef", 'pw"', "123.456", "A0-99"):
        assert secret not in cleaned, cleaned


def test_ordinary_words_survive_and_plain_lines_carry_the_request_id(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logs.configure_logging("debug", False, secrets=["", "ab", None])
    try:
        logs.bind_request_id("plain-7")
        logging.getLogger("x").info("the token expired; basic agreement; 50% done")
        err = capsys.readouterr().err
        assert " INFO x [plain-7] the token expired; basic agreement; 50% done" in err, err
        with pytest.raises(ValueError, match="LOG_LEVEL"):
            logs.configure_logging("LOUD", False)
    finally:
        logs.unconfigure_logging()
        logs.reset_request_id()
    assert logging.getLogRecordFactory() is logging.LogRecord
