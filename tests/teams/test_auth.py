"""With an app id, /api/messages accepts only Bot Framework tokens.

The SDK fetches the signing keys with the synchronous `requests` library, so the OpenID
metadata is served from a thread (an aiohttp fake on the test's own loop would deadlock).
Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import aiohttp
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from adapters.teams import TeamsAdapter, TeamsSettings
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.records import MemoryRecords
from tests.teams.conftest import ALICE, BOB, FakeCore, Harness, serve

APP_ID = "11111111-2222-3333-4444-555555555555"
ISSUER = "https://api.botframework.com"
KEY_ID = "test-key"

SIGNING_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _handler(base: list[str]) -> type[BaseHTTPRequestHandler]:
    jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(SIGNING_KEY.public_key()))
    jwk.update(kid=KEY_ID, endorsements=["msteams"])

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/openid":
                payload: dict[str, Any] = {"issuer": ISSUER, "jwks_uri": base[0] + "/keys"}
            else:
                payload = {"keys": [jwk]}
            data = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture(scope="module")
def openid_url() -> Iterator[str]:
    base: list[str] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(base))
    base.append(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield base[0] + "/openid"
    server.shutdown()


@pytest.fixture
async def secured(
    connector: FakeBotConnector, core: FakeCore, records: MemoryRecords, openid_url: str
) -> AsyncIterator[Harness]:
    settings = TeamsSettings(
        _env_file=None,
        MicrosoftAppId=APP_ID,
        MicrosoftAppPassword="not-used-here",
        TEAMS_OPENID_METADATA_URL=openid_url,
    )
    adapter = TeamsAdapter(settings=settings, core=core, records=records)
    runner, url = await serve(adapter)
    async with aiohttp.ClientSession() as session:
        yield Harness(url, connector, core, records, adapter, session)
    await runner.cleanup()


def token(
    service_url: str, *, key: Any = SIGNING_KEY, audience: str = APP_ID, **claims: Any
) -> str:
    now = int(time.time())
    payload = {
        "iss": ISSUER,
        "aud": audience,
        "iat": now,
        "nbf": now - 10,
        "exp": now + 600,
        "serviceurl": service_url,
        **claims,
    }
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": KEY_ID})


def member_joined(h: Harness) -> dict[str, Any]:
    # A member joining needs no outbound call (which would fetch a real token for the bot).
    return h.activity("conversationUpdate", channel="19:c", team="19:c", membersAdded=[BOB])


async def test_valid_token_is_accepted(secured: Harness) -> None:
    auth = {"Authorization": f"Bearer {token(secured.connector.url)}"}
    response = await secured.post(member_joined(secured), auth)
    assert response.status == 200
    assert [s.user.user_id for s in secured.core.seen] == ["aad-bob"]


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer not-a-jwt",
        "Basic dXNlcjpwYXNz",
        "wrongly-signed",
        "wrong-audience",
        "expired",
        "other-service-url",
    ],
)
async def test_missing_or_invalid_token_is_401_and_core_untouched(
    secured: Harness, header: str | None
) -> None:
    url = secured.connector.url
    forged = {
        "wrongly-signed": token(url, key=OTHER_KEY),
        "wrong-audience": token(url, audience="99999999-2222-3333-4444-555555555555"),
        "expired": token(url, exp=int(time.time()) - 3600, nbf=int(time.time()) - 7200),
        "other-service-url": token("http://127.0.0.1:1/elsewhere/"),
    }
    headers = {}
    if header is not None:
        headers["Authorization"] = f"Bearer {forged[header]}" if header in forged else header
    response = await secured.post(secured.activity("message", text="report", sender=ALICE), headers)
    assert response.status == 401
    assert not secured.core.touched
    assert secured.connector.calls == []
