"""What a public page needs: security headers on every response, and CSRF tokens.

CSRF: the form page sets a random cookie and puts HMAC(secret, cookie + link token) in a
hidden field; a post counts only when the two match. Another site can make a browser post,
but can neither read the field nor set our cookie, so it cannot produce a matching pair.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from pathlib import Path

from aiohttp import web
from jinja2 import Environment, FileSystemLoader

from bot.model.ports import PlatformRecords

CSRF_COOKIE = "mirror_csrf"
SECRET_RECORD = ("web", "secret", "csrf")

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self'",
        "style-src 'self'",
        "script-src 'none'",  # nothing on these pages needs a script
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # The page's address holds the invitation token: never send it to anyone else.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}


def page_templates() -> Environment:
    """The web channel's Jinja2 templates (the mirror survey's and the dashboard's)."""
    return Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,  # every value is escaped; templates never mark anything safe
        trim_blocks=True,
        lstrip_blocks=True,
        # Templates ship with the package and never change under a running server: no stat()
        # of every template file on every page (1 % of the form's CPU under bench/mirror.py).
        auto_reload=False,
    )


def secure(response: web.StreamResponse, request: web.Request) -> web.StreamResponse:
    response.headers.update(SECURITY_HEADERS)
    if request.secure:
        response.headers["Strict-Transport-Security"] = "max-age=31536000"
    return response


class Csrf:
    def __init__(self, records: PlatformRecords, configured: str | None) -> None:
        self._records = records
        self._key = configured.encode() if configured else None
        self._loading = asyncio.Lock()  # the first requests arrive together: one creates it

    async def issue(self, request: web.Request, response: web.StreamResponse, link: str) -> str:
        """A fresh cookie on the response; the hidden field's value is returned."""
        nonce = secrets.token_urlsafe(16)
        response.set_cookie(
            CSRF_COOKIE,
            nonce,
            path="/m/",
            httponly=True,
            samesite="Strict",
            secure=request.secure,
            max_age=24 * 3600,
        )
        return await self._sign(nonce, link)

    async def valid(self, request: web.Request, field: str, link: str) -> bool:
        nonce = request.cookies.get(CSRF_COOKIE, "")
        if not nonce or not field:
            return False
        return hmac.compare_digest(field, await self._sign(nonce, link))

    async def _sign(self, nonce: str, link: str) -> str:
        key = await self._secret()
        return hmac.new(key, f"{nonce}|{link}".encode(), hashlib.sha256).hexdigest()

    async def key(self) -> bytes:
        """The shared secret itself, for other signatures (the dashboard derives its own key)."""
        return await self._secret()

    async def load(self) -> None:
        """Read (or create) the shared secret before the first form is served."""
        await self._secret()

    async def _secret(self) -> bytes:
        if self._key is None:
            async with self._loading:
                if self._key is None:
                    self._key = await self._stored_secret()
        return self._key

    async def _stored_secret(self) -> bytes:
        # Workers starting together each propose a secret; the first stored is everyone's,
        # so a form served by one worker is accepted by the others.
        found = await self._records.put_first(*SECRET_RECORD, {"key": secrets.token_hex(32)})
        return str(found["key"]).encode()
