"""The outermost ASGI layer: what a gateway does before and after the API answers.

For every request it stamps `x-request-id`; for `/v1` requests it also:

1. maps the profile's base path onto the routes (Azure's ``/openai/v1/...``; ``/v1`` keeps
   working) and keeps percent-encoded slashes inside a path segment, which Starlette
   would otherwise decode before routing (LiteLLM's base64 ids may hold ``/``): such a
   segment reaches the route still encoded, and the route decodes it (`path_param`);
2. finds the request's key (bearer or ``api-key``) and takes a token from its rpm bucket,
   answering 429 at once when there is none;
3. draws the request's fault and acts it out (`prefect_sora.emulator._faults`);
4. adds `x-ratelimit-*-requests` to every answer when `rpm` is set (fault answers
   included), drops `retry-after` / `retry-after-ms` when `retry_after_headers` is off
   and `openai-poll-after-ms` when `poll_after_header` is off, and counts the status for
   the stats.

The request id goes out under `request_id_header`: ``x-request-id`` (``req_`` + hex), or
LiteLLM's ``x-litellm-call-id`` (a UUID), which its proxy leaves off downloads.
"""

from __future__ import annotations

import math
import os
import uuid
from urllib.parse import parse_qs, unquote

from prefect_sora.emulator._asgi import ASGIApp, Message, Receive, Scope, Send
from prefect_sora.emulator._auth import request_key
from prefect_sora.emulator._errors import render_error
from prefect_sora.emulator._faults import classify, play_fault
from prefect_sora.emulator._limits import Admission, go_duration
from prefect_sora.emulator._state import EmulatorState

_RETRY_HEADERS = (b"retry-after", b"retry-after-ms")
_POLL_AFTER_HEADER = b"openai-poll-after-ms"
KEY_LABEL = "prefect_sora.key_label"
"""Where the gateway leaves the request's key label in the ASGI scope, for the routes."""


def path_param(value: str) -> str:
    """A path parameter as the client meant it (see step 1 of the module docstring)."""
    return unquote(value) if "%" in value else value


def _route_path(scope: Scope, api_prefix: str) -> str:
    path: str = scope["path"]
    raw: bytes | None = scope.get("raw_path")
    if raw is not None and b"%" in raw:
        # Decode each segment on its own, then re-escape only what would change the
        # route: '/' inside a segment, and '%' so that the route's decode is exact.
        segments = (unquote(part) for part in raw.decode("latin-1").split("/"))
        path = "/".join(part.replace("%", "%25").replace("/", "%2F") for part in segments)
    if api_prefix != "/v1" and path.startswith(api_prefix) and path[len(api_prefix) : len(api_prefix) + 1] in ("", "/"):
        path = "/v1" + path[len(api_prefix) :]
    return path


def _api_version(scope: Scope) -> str | None:
    query: bytes = scope.get("query_string", b"")
    if b"api-version" not in query:
        return None
    values = parse_qs(query.decode("latin-1")).get("api-version")
    return values[0] if values else None


class Gateway:
    """Request ids, base paths, per-key rpm limits, faults and counters around the API app."""

    def __init__(self, app: ASGIApp, state: EmulatorState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = self.state
        profile = state.profile
        path = _route_path(scope, profile.api_prefix)
        if path != scope["path"]:
            scope["path"] = path
        config = state.config
        id_header = config.request_id_header.encode()
        if id_header == b"x-request-id":
            request_id = b"req_" + os.urandom(16).hex().encode()
        else:
            request_id = str(uuid.uuid4()).encode()
        if not (path.startswith("/v1/") or path == "/v1"):

            async def stamp_id(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = [*message.get("headers", ()), (id_header, request_id)]
                await send(message)

            await self.app(scope, receive, stamp_id)
            return

        key = request_key(scope["headers"], profile.auth)
        endpoint = classify(scope["method"], path)
        ticket = state.begin_request(endpoint, key, _api_version(scope))
        scope[KEY_LABEL] = ticket.label
        extra = []
        if id_header == b"x-request-id" or endpoint != "content":
            extra.append((id_header, request_id))
        if ticket.admission is not None:
            extra.extend(ticket.admission.headers())
        dropped = () if config.retry_after_headers else _RETRY_HEADERS
        if not config.poll_after_header:
            dropped = (*dropped, _POLL_AFTER_HEADER)

        async def stamped_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", ())
                if dropped:
                    headers = [(name, value) for name, value in headers if name.lower() not in dropped]
                message["headers"] = [*headers, *extra]
                state.count_response(message["status"], ticket.label)
            await send(message)

        if ticket.refused and ticket.admission is not None:
            await self._rate_limited(ticket.label, ticket.admission, stamped_send)
        elif ticket.fault is None:
            await self.app(scope, receive, stamped_send)
        else:
            await play_fault(ticket.fault, state.config, self.app, scope, receive, send, stamped_send)

    async def _rate_limited(self, label: str, admission: Admission, send: Send) -> None:
        wait = admission.retry_after_seconds
        message = (
            f"Rate limit reached for requests per min (RPM) on {label}: Limit {admission.limit}, "
            f"Requested 1. Please try again in {go_duration(wait)}."
        )
        content_type, body = render_error(
            429, message, type="requests", code="rate_limit_exceeded", envelope=self.state.config.error_envelope
        )
        headers = [
            (b"content-type", content_type),
            (b"content-length", str(len(body)).encode()),
            # Whole seconds rounded up, and the precise wait until the bucket has a token.
            (b"retry-after", str(max(1, math.ceil(wait))).encode()),
            (b"retry-after-ms", str(max(1, math.ceil(wait * 1000))).encode()),
        ]
        await send({"type": "http.response.start", "status": 429, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})
