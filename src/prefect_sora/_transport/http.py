"""HTTP edge rules shared by the client: redirects, error translation, bounded reads.

Kept apart from :mod:`prefect_sora._transport.client` so the rules that protect the user
at the wire (no bearer to another host or over plain HTTP on a redirect, no
unbounded bodies, no key in a message) read in one place. The checks of a
caller's own input (base URL, ids) are in :mod:`prefect_sora._validation`.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx

from prefect_sora._errors import (
    AuthenticationFailed,
    ContentExpired,
    ContentNotReady,
    InvalidRequest,
    JobFailed,
    RateLimited,
    ServerError,
    SoraError,
    TransportError,
    UnexpectedResponse,
    VideoNotFound,
)
from prefect_sora._transport.retries import retry_after_seconds
from prefect_sora._validation import is_loopback

#: Largest JSON body read from the API; a status object is a few hundred bytes.
MAX_JSON_BYTES = 4 << 20


#: Longest gateway message kept on an error.
MAX_MESSAGE_CHARS = 500
#: Headers a request id may come in: OpenAI's and relays', LiteLLM's call id, then Azure's
#: (API Management, then the service).
REQUEST_ID_HEADERS = ("x-request-id", "x-litellm-call-id", "apim-request-id", "x-ms-request-id")


class Redactor:
    """Replaces the API key (and any other secret, such as extra header values) wherever a server echoes it."""

    def __init__(self, secret: str, *others: str) -> None:
        # Longest first, so a secret that contains another is replaced whole.
        self._secrets = sorted({s for s in (secret, *others) if s and len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


def request_id(headers: httpx.Headers) -> str | None:
    """The request id a server or the gateway in front of it sent, for support."""
    for name in REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return str(value)[:200]
    return None


#: Answers that send the request elsewhere (followed by hand, see :func:`next_hop`).
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
#: The httpx request arguments that carry a body, dropped when a redirect turns a request into a GET.
BODY_ARGUMENTS = ("content", "data", "files", "json")
#: Headers that describe a body, dropped with it (lower case).
CONTENT_HEADERS = frozenset({"content-type", "content-length", "content-encoding", "transfer-encoding"})


def redirect_method(method: str, status: int) -> str:
    """The method a redirect's next hop uses: HTTP's rules, as httpx and browsers apply them.

    307 and 308 repeat the request as it was (method and body). 303 means "see
    this other resource": a GET. 302, and 301 after a POST, are also turned into a
    GET, as every browser and HTTP library does despite the letter of RFC 9110.
    HEAD stays HEAD.
    """
    method = method.upper()
    if method == "HEAD" or status in (307, 308):
        return method
    if status in (302, 303) or (status == 301 and method == "POST"):
        return "GET"
    return method


def next_hop(response: httpx.Response, *, allow_insecure_http: bool) -> tuple[str, bool]:
    """Where a redirect points, and whether it stays on the same origin as the request."""
    location = response.headers.get("location")
    if not location:
        raise UnexpectedResponse("A redirect without a Location header", status_code=response.status_code)
    target = response.request.url.join(location)
    if target.scheme == "http" and not allow_insecure_http and not is_loopback(target.host):
        raise UnexpectedResponse("Refusing a redirect to plain http", status_code=response.status_code)
    if target.scheme not in ("http", "https"):
        raise UnexpectedResponse("Refusing a redirect to a non-http URL", status_code=response.status_code)
    source = response.request.url
    same = (target.scheme, target.host, target.port) == (source.scheme, source.host, source.port)
    return str(target), same


async def read_capped(response: httpx.Response, limit: int = MAX_JSON_BYTES) -> bytes:
    """Read a body of at most ``limit`` bytes, refusing more (a hostile or broken server)."""
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise UnexpectedResponse(
            f"Response body of {declared} bytes is larger than {limit}",
            status_code=response.status_code,
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise UnexpectedResponse(f"Response body is larger than {limit} bytes", status_code=response.status_code)
        chunks.append(chunk)
    return b"".join(chunks)


def transport_error(
    exc: httpx.TransportError, method: str, url: str, *, video_id: str | None, redact: Redactor
) -> TransportError:
    """Translate an httpx transport failure; the message names the endpoint, not the headers."""
    path = httpx.URL(url).path
    detail = redact(str(exc)) or type(exc).__name__
    return TransportError(f"{method} {path}: {type(exc).__name__}: {detail}", video_id=video_id)


async def error_from_response(response: httpx.Response, *, video_id: str | None, redact: Redactor) -> SoraError:
    """Translate an HTTP error answer into the error class that says what to do next."""
    status = response.status_code
    try:
        raw = await read_capped(response, 64 << 10)
    except (httpx.HTTPError, UnexpectedResponse):
        raw = b""
    message, param, code = envelope(raw, response.headers.get("content-type", ""))
    text = _shorten(redact(message or f"HTTP {status}"))
    code = redact(code)[:100] if code else None
    param = redact(param)[:100] if param else None
    context: dict[str, Any] = {
        "video_id": video_id,
        "status_code": status,
        "request_id": request_id(response.headers),
    }
    if status == 429:
        return RateLimited(
            f"Rate limited: {text}", retry_after=retry_after_seconds(response.headers), code=code, **context
        )
    if status >= 500:
        return ServerError(f"Server error: {text}", **context)
    if status == 410 or "expired" in (code or "").lower():
        return ContentExpired(f"Content expired: {text}", **context)
    if status in (401, 403):
        return AuthenticationFailed(f"Authentication failed: {text}", **context)
    if status == 404:
        return VideoNotFound(f"Not found: {text}", **context)
    if status == 409 and "failed" in (code or "").lower():
        return JobFailed(f"Job failed, it has no content: {text}", code=code, **context)
    if status == 409:
        return ContentNotReady(f"Not ready: {text}", param=param, code=code, **context)
    if status in (400, 422):
        return InvalidRequest(f"Invalid request: {text}", param=param, code=code, **context)
    return UnexpectedResponse(f"Unexpected HTTP {status}: {text}", **context)


_MESSAGE_KEYS = ("message", "msg", "detail", "error_description", "error")
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def envelope(raw: bytes, content_type: str = "") -> tuple[str | None, str | None, str | None]:
    """message, param and code of an error body, whatever envelope the gateway uses.

    Reads OpenAI's ``{"error": {"message", "param", "code"}}``, ``{"error": "..."}``,
    ``{"message": ...}``, ``{"code": 400, "msg": ...}``, ``{"detail": ...}``
    (FastAPI's, also as a list of problems), a JSON string, a short text body, and
    of an HTML page only its ``<title>``. Not yet redacted nor shortened.
    """
    try:
        body: Any = json.loads(raw)
    except ValueError:
        return _text_body(raw, content_type), None, None
    if isinstance(body, str):
        return body.strip() or None, None, None
    if not isinstance(body, dict):
        return None, None, None
    # The nested error object first, then the top level, for each field.
    scopes = [scope for scope in (body.get("error"), body) if isinstance(scope, dict)]
    message = next((m for scope in scopes for key in _MESSAGE_KEYS if (m := _message(scope.get(key)))), None)

    def field(key: str) -> str | None:
        value = next((scope[key] for scope in scopes if isinstance(scope.get(key), (str, int))), None)
        return str(value) if value is not None and not isinstance(value, bool) else None

    return message, field("param"), field("code")


def _message(value: Any) -> str | None:
    """Text from an envelope's message field: a string, or FastAPI's list of ``{loc, msg}``."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, dict):
        return next((m for key in _MESSAGE_KEYS if (m := _message(value.get(key)))), None)
    if isinstance(value, list) and value:
        parts = []
        for item in value[:3]:
            if isinstance(item, dict) and isinstance(item.get("msg"), str):
                loc = ".".join(str(part) for part in item.get("loc", []) if part != "body")
                parts.append(f"{loc}: {item['msg']}" if loc else item["msg"])
            elif isinstance(item, str):
                parts.append(item)
        return "; ".join(parts) or None
    return None


def _text_body(raw: bytes, content_type: str) -> str | None:
    """A plain-text error body as the message; of an HTML page, its title at most."""
    if not raw.strip():
        return None
    head = raw[:1024].lstrip().lower()
    if "html" in content_type.lower() or head.startswith((b"<!doctype", b"<html", b"<")):
        title = _TITLE.search(raw[:16384])
        return " ".join(title.group(1).decode("utf-8", "replace").split()) or None if title else None
    text = raw[:4096].decode("utf-8", "replace")
    if any(not ch.isprintable() and not ch.isspace() for ch in text):
        return None  # binary, not a message
    return " ".join(text.split()) or None


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE_CHARS else f"{text[: MAX_MESSAGE_CHARS - 1]}…"


async def read_json(response: httpx.Response, *, video_id: str | None, redact: Redactor) -> Any:
    """Read a JSON body of bounded size, or raise UnexpectedResponse."""
    try:
        raw = await read_capped(response)
    finally:
        await response.aclose()
    try:
        return json.loads(raw)
    except ValueError as exc:
        kind = response.headers.get("content-type", "no content type")
        raise UnexpectedResponse(
            f"Expected JSON from the API, got {kind}: {redact(raw[:80].decode('utf-8', 'replace'))!r}",
            video_id=video_id,
            status_code=response.status_code,
            request_id=request_id(response.headers),
        ) from exc


class GatedTransport(httpx.AsyncBaseTransport):
    """At most ``limit`` requests in flight; the rest wait in asyncio, not in httpx's pool.

    httpx's pool rescans its whole queue of waiting requests on every request,
    so a thousand requests queued in one client cost quadratic time (profiled
    in BENCHMARKS.md, "Fan-out") and can run into the pool timeout. A streamed
    response holds its slot until it is closed.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport, limit: int) -> None:
        self._inner = inner
        self._gate = asyncio.Semaphore(limit)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await self._gate.acquire()
        try:
            response = await self._inner.handle_async_request(request)
        except BaseException:
            self._gate.release()
            raise
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_Releasing(response.stream, self._gate),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


class _Releasing(httpx.AsyncByteStream):
    """A response body that frees its request's slot when closed (once)."""

    def __init__(self, stream: httpx.AsyncByteStream | httpx.SyncByteStream, gate: asyncio.Semaphore) -> None:
        self._stream = stream
        self._gate: asyncio.Semaphore | None = gate

    async def __aiter__(self) -> AsyncIterator[bytes]:
        assert isinstance(self._stream, httpx.AsyncByteStream)
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            if isinstance(self._stream, httpx.AsyncByteStream):
                await self._stream.aclose()
        finally:
            if self._gate is not None:
                self._gate.release()
                self._gate = None
