"""Logging for the server: plain or JSON lines, a request id per HTTP request, no secrets.

``configure_logging`` sets up the root logger once at start-up (``alignment serve``):

* one line per record, either plain text or one JSON object
  (``ts``, ``level``, ``logger``, ``message``, ``request_id`` when set, ``exception``);
* every record carries the id of the HTTP request it belongs to: ``request_id_middleware``
  binds a fresh id per request (or takes a well-formed ``X-Request-Id``) and echoes it in the
  response; background work started inside a request inherits it (asyncio copies contextvars);
* secrets are redacted from the message, its arguments, the exception text and the stack:
  the configured secret values (the bot token, signing secret, app password …) and anything
  shaped like a credential (Slack tokens, ``Bearer``/``Basic`` authorization values, JWTs,
  ``password=``/``secret=``/``token=`` fields, passwords in URLs).

Redaction happens when a record is created (a LogRecord factory), so every handler sees the
cleaned record, including handlers installed by others; ``RedactingFilter`` does the same for
records that reach our handler some other way. Standard library and aiohttp only.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Final, Protocol, TextIO
from urllib.parse import quote, quote_plus

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

REQUEST_ID_HEADER: Final = "X-Request-Id"
REDACTED: Final = "[REDACTED]"
MIN_SECRET_LENGTH: Final = 4  # shorter configured "secrets" would blank out ordinary words

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "alignment_request_id", default=None
)
# Ids we accept from a caller: short and made of characters that cannot break a log line.
_VALID_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_http_log = logging.getLogger("bot.http")


class SupportsSecret(Protocol):
    """Anything with pydantic's ``SecretStr`` interface."""

    def get_secret_value(self) -> str: ...


SecretValue = str | SupportsSecret | None


# --- request ids ------------------------------------------------------------------------------


def current_request_id() -> str | None:
    return _request_id.get()


def bind_request_id(value: str | None = None) -> str:
    """Make ``value`` (or a fresh id when it is missing or malformed) the current request id.

    Returns the id bound. It stays bound in this context (and tasks created from it) until
    the next bind or ``reset_request_id``.
    """
    request_id = _clean_id(value) or uuid.uuid4().hex
    _request_id.set(request_id)
    return request_id


def reset_request_id() -> None:
    _request_id.set(None)


def _clean_id(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value if _VALID_ID.fullmatch(value) else None


def request_id_middleware(*, access_log: bool = True) -> Middleware:
    """An aiohttp middleware: one request id per request, echoed as ``X-Request-Id``.

    With ``access_log`` it also logs one line per request (method, the route's pattern
    rather than the path, status, milliseconds) under ``bot.http``, inside the request's context so the line
    carries the id; turn aiohttp's own access log off (``AppRunner(app, access_log=None)``),
    which is written after the request's context is gone.
    """

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        request_id = _clean_id(request.headers.get(REQUEST_ID_HEADER)) or uuid.uuid4().hex
        token = _request_id.set(request_id)
        started = time.perf_counter()
        status = 500
        try:
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                status = exc.status
                exc.headers[REQUEST_ID_HEADER] = request_id
                raise
            except Exception:
                _http_log.exception("unhandled error in %s %s", request.method, _route(request))
                response = web.json_response(
                    {"error": "internal error", "request_id": request_id}, status=500
                )
            status = response.status
            if not response.prepared:
                response.headers[REQUEST_ID_HEADER] = request_id
            return response
        finally:
            if access_log:
                elapsed = (time.perf_counter() - started) * 1000
                _http_log.info("%s %s %s %.0fms", request.method, _route(request), status, elapsed)
            _request_id.reset(token)

    return middleware


def _route(request: web.Request) -> str:
    """The path as the route declares it: ``/m/{token}``, never the token in it. A mirror
    survey link's token answers the survey, and whoever reads a log must not be able to."""
    resource = request.match_info.route.resource
    if resource is not None:
        return resource.canonical
    return "(no route)"  # an unknown path may still carry a token: it is not logged either


# --- redaction --------------------------------------------------------------------------------

_KEYS: Final = r"[\w.-]*(?:password|passwd|pwd|secret|token|api[_-]?key)[\w.-]*"
_PATTERNS: Final[tuple[tuple[re.Pattern[str], str], ...]] = (
    # Slack tokens: bot/user/app/refresh/config tokens, incl. rotating "xoxe.xoxp-…".
    (re.compile(r"\bxox[a-z](?:\.xox[a-z])?-[A-Za-z0-9-]+"), REDACTED),
    (re.compile(r"\bxapp-[A-Za-z0-9-]+"), REDACTED),
    # JSON Web Tokens (Bot Framework, Microsoft identity) wherever they appear.
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), REDACTED),
    # Authorization values: "Authorization: <scheme> <credentials>", and any Bearer token.
    (
        re.compile(
            r"(?i)\b(authorization[\"']?\s*[:=]\s*[\"']?)"
            r"(?:(?:bearer|basic|digest|negotiate|ntlm|token)\s+)?[^\s\"',;}]+"
        ),
        rf"\1{REDACTED}",
    ),
    (re.compile(r"(?i)\b(bearer\s+)(?!\[REDACTED\])[A-Za-z0-9._~+/=-]+"), rf"\1{REDACTED}"),
    # password=…, client_secret: "…", SLACK_SIGNING_SECRET=…, token=… (forms, queries, JSON).
    (
        re.compile(rf"(?i)\b({_KEYS})([\"']?\s*[=:]\s*[\"']?)(?!\[REDACTED\])[^\s&\"',;}}]+"),
        rf"\1\2{REDACTED}",
    ),
    # The same in URL-encoded JSON (a Slack interaction's payload=%7B%22token%22%3A%22…).
    (
        re.compile(rf"(?i)({_KEYS}%22%3A(?:%20|\+)*%22)[^%&\s]+"),
        rf"\1{REDACTED}",
    ),
    # A password in a URL: scheme://user:password@host.
    (re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/\s@]*:)[^@\s/]+(@)"), rf"\1{REDACTED}\2"),
    # An OAuth authorization code in a query string.
    (re.compile(r"([?&]code=)[^&\s\"']+"), rf"\1{REDACTED}"),
)


class Redactor:
    """Replaces configured secret values and credential-shaped text with ``[REDACTED]``."""

    def __init__(self, secrets: Iterable[SecretValue] = ()) -> None:
        values: set[str] = set()
        for secret in secrets:
            plain = _plain(secret)
            if len(plain) < MIN_SECRET_LENGTH:
                continue
            # As written, and as it appears in a form body, a query string or JSON.
            values.update(
                {plain, quote(plain, safe=""), quote_plus(plain), json.dumps(plain)[1:-1]}
            )
        ordered = sorted(values, key=len, reverse=True)  # longest first: no partial leftovers
        self._literal = re.compile("|".join(re.escape(v) for v in ordered)) if ordered else None

    def __call__(self, text: str) -> str:
        if self._literal is not None:
            text = self._literal.sub(REDACTED, text)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text


def _plain(secret: SecretValue) -> str:
    if secret is None:
        return ""
    if isinstance(secret, str):
        return secret
    return secret.get_secret_value()


_redactor = Redactor()
_MARK: Final = "_alignment_redacted"


def redact(text: str) -> str:
    """``text`` with every configured secret and credential-shaped value replaced."""
    return _redactor(text)


def clean_record(record: logging.LogRecord) -> logging.LogRecord:
    """Redact a record in place (message with its arguments, exception, stack) and stamp the
    current request id on it; doing it twice changes nothing."""
    if not hasattr(record, "request_id"):
        record.request_id = _request_id.get()
    if getattr(record, _MARK, False):
        return record
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: keep both parts, never the raw arguments
        message = f"{record.msg} {record.args!r}"
    record.msg = redact(message)
    record.args = ()
    if record.exc_info and not record.exc_text:
        record.exc_text = _EXCEPTION_FORMATTER.formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    setattr(record, _MARK, True)
    return record


_EXCEPTION_FORMATTER = logging.Formatter()


class RedactingFilter(logging.Filter):
    """A filter that never drops a record, only cleans it (see ``clean_record``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        clean_record(record)
        return True


# The factory in place before ours, so configuring twice never wraps twice.
_base_factory: Any = None


def _install_record_factory() -> None:
    global _base_factory
    if _base_factory is None:
        _base_factory = logging.getLogRecordFactory()
    base = _base_factory

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = base(*args, **kwargs)
        return clean_record(record)

    logging.setLogRecordFactory(factory)


# --- formatters -------------------------------------------------------------------------------


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, request_id, exception, stack."""

    def format(self, record: logging.LogRecord) -> str:
        clean_record(record)
        payload: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            payload["request_id"] = request_id
        if record.exc_text:
            payload["exception"] = record.exc_text
        if record.stack_info:
            payload["stack"] = record.stack_info
        return json.dumps(payload, ensure_ascii=False, default=str)


class PlainFormatter(logging.Formatter):
    """``2026-03-02T09:00:00.000+00:00 INFO bot.runtime.core [request-id] message`` and the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        clean_record(record)
        request_id = getattr(record, "request_id", None)
        where = f" [{request_id}]" if request_id else ""
        line = f"{_timestamp(record)} {record.levelname} {record.name}{where} {record.getMessage()}"
        if record.exc_text:
            line += "\n" + record.exc_text
        if record.stack_info:
            line += "\n" + record.stack_info
        return line


# --- set-up -----------------------------------------------------------------------------------


class _OurHandler(logging.StreamHandler[TextIO]):
    """The handler configure_logging installs (so a second call replaces only it).

    Without an explicit stream it writes to whatever ``sys.stderr`` is at the time of each
    record, like logging's last-resort handler, so a swapped stderr (a test's capture, a
    daemoniser) never leaves it writing to a closed file."""

    def __init__(self, stream: TextIO | None) -> None:
        super().__init__(stream if stream is not None else sys.stderr)
        self._fixed = stream

    @property
    def stream(self) -> TextIO:
        return self._fixed if self._fixed is not None else sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        self._fixed = value


def parse_level(level: str) -> int:
    """``"info"``, ``"DEBUG"``, ``"20"`` → a logging level; ValueError naming LOG_LEVEL."""
    text = level.strip().upper()
    if text.isdigit():
        return int(text)
    value = logging.getLevelNamesMapping().get(text)
    if value is None:
        raise ValueError(
            f"bad setting LOG_LEVEL: '{level}' is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL"
        )
    return value


def configure_logging(
    level: str,
    json_format: bool,
    *,
    secrets: Iterable[SecretValue] = (),
    stream: TextIO | None = None,
) -> None:
    """Set up the root logger: one handler on ``stream`` (default stderr), JSON or plain,
    redacting ``secrets`` and credential-shaped text everywhere.

    Safe to call again (e.g. in tests): it replaces only the handler it installed before and
    keeps handlers others added (pytest's caplog, an error tracker).
    """
    global _redactor
    numeric = parse_level(level)
    _redactor = Redactor(secrets)
    _install_record_factory()
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _OurHandler)]:
        root.removeHandler(old)
        old.close()
    handler = _OurHandler(stream)
    handler.setFormatter(JsonFormatter() if json_format else PlainFormatter())
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    root.setLevel(numeric)


def unconfigure_logging() -> None:
    """Undo ``configure_logging`` (tests): our handler, record factory and secrets go."""
    global _base_factory, _redactor
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _OurHandler)]:
        root.removeHandler(old)
        old.close()
    if _base_factory is not None:
        logging.setLogRecordFactory(_base_factory)
        _base_factory = None
    _redactor = Redactor()
