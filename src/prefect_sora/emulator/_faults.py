"""Request-level fault injection: 429s, 5xx bursts, TCP resets, slow answers, cut bodies, lost answers.

Two sources decide a request's fault, in this order:

1. Scripted faults (`POST /_emulator/faults`, `Emulator.inject`): "the next N requests to
   endpoint E get fault F", for tests that need one precise failure.
2. Random faults: one draw per request from a generator seeded with the config's `seed`,
   so the same seed and the same request sequence give the same faults. A drawn 5xx starts
   a burst: the next `error_burst_length - 1` requests get the same status too.

`FaultPlanner` decides (pure bookkeeping); `play_fault` acts it out on the connection. It
runs in the outermost ASGI layer (`prefect_sora.emulator._gateway`), around the whole
FastAPI app, because two faults need the socket itself: a *reset* aborts the TCP
connection with no response at all (SO_LINGER 0, so the peer sees RST), and a *truncate*
announces the full Content-Length, sends part of the body and closes the connection.
"""

from __future__ import annotations

import asyncio
import math
import random
import socket
import struct
from dataclasses import dataclass

from prefect_sora.emulator._asgi import ASGIApp, Message, Receive, Scope, Send
from prefect_sora.emulator._config import EmulatorConfig, Endpoint, FaultKind
from prefect_sora.emulator._errors import render_error


@dataclass(slots=True)
class ScriptedFault:
    """A scripted fault: the next `remaining` requests to `endpoint` (None: any) get `fault`."""

    fault: FaultKind
    remaining: int
    endpoint: Endpoint | None


_SUBRESOURCES: dict[tuple[str, str], Endpoint] = {
    ("POST", "extensions"): "extend",
    ("POST", "edits"): "edit",
    ("POST", "characters"): "character_create",
}


def classify(method: str, path: str) -> Endpoint | None:
    """The `/v1` operation a request addresses, or None for anything else."""
    if not path.startswith("/v1/videos"):
        return None
    parts = [part for part in path[len("/v1/videos") :].split("/") if part]
    if not parts:
        return "create" if method == "POST" else "list" if method == "GET" else None
    if len(parts) == 1:
        named = _SUBRESOURCES.get((method, parts[0]))
        if named is not None:
            return named
        return "retrieve" if method == "GET" else "delete" if method == "DELETE" else None
    if len(parts) == 2 and parts[0] == "characters" and method == "GET":
        return "character_retrieve"
    if len(parts) == 2 and parts[1] == "content" and method == "GET":
        return "content"
    if len(parts) == 2 and parts[1] == "remix" and method == "POST":
        return "remix"
    return None


_STATUS_FAULTS: dict[int, FaultKind] = {500: "500", 502: "502", 503: "503"}


class FaultPlanner:
    """Decides each request's fault; pure bookkeeping, no I/O."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(f"{seed}/faults")
        self._burst_left = 0
        self._burst_status: FaultKind = "500"
        self._scripted: list[ScriptedFault] = []

    def inject(self, fault: FaultKind, *, count: int = 1, endpoint: Endpoint | None = None) -> None:
        """Script `fault` for the next `count` requests to `endpoint` (None: any endpoint)."""
        self._scripted.append(ScriptedFault(fault=fault, remaining=count, endpoint=endpoint))

    def pending(self) -> list[dict[str, object]]:
        """The scripted faults not yet spent."""
        return [
            {"fault": item.fault, "remaining": item.remaining, "endpoint": item.endpoint} for item in self._scripted
        ]

    def draw(self, endpoint: Endpoint | None, config: EmulatorConfig) -> FaultKind | None:
        """The fault for the next request to `endpoint`, if any."""
        if endpoint is None:
            return None
        for item in self._scripted:
            if item.endpoint is None or item.endpoint == endpoint:
                item.remaining -= 1
                if item.remaining <= 0:
                    self._scripted.remove(item)
                return item.fault
        if endpoint not in config.fault_endpoints:
            return None
        if self._burst_left > 0:
            self._burst_left -= 1
            return self._burst_status
        # Two draws for every request, whatever the rates, so the sequence of faults a
        # seed gives does not depend on which kinds happen to be switched on.
        roll, pick = self._rng.random(), self._rng.random()
        threshold = config.rate_limit_rate
        if roll < threshold:
            return "429"
        threshold += config.error_burst_rate
        if roll < threshold:
            statuses = config.error_burst_statuses
            self._burst_status = _STATUS_FAULTS[statuses[int(pick * len(statuses))]]
            self._burst_left = config.error_burst_length - 1
            return self._burst_status
        threshold += config.reset_rate
        if roll < threshold:
            return "reset"
        threshold += config.slow_rate
        if roll < threshold:
            return "slow"
        threshold += config.truncate_rate
        if roll < threshold:
            return "truncate" if endpoint == "content" else None
        threshold += config.lost_rate
        if roll < threshold:
            return "lost"
        return None


# status, message, type, code of the faults answered in the API's error envelope.
_ERROR_FAULTS: dict[str, tuple[int, str, str, str]] = {
    "429": (429, "Rate limit reached for requests. Please try again later.", "requests", "rate_limit_exceeded"),
    "500": (
        500,
        "The server had an error while processing your request. Sorry!",
        "server_error",
        "internal_error",
    ),
    "503": (
        503,
        "The engine is currently overloaded, please try again later.",
        "server_error",
        "service_unavailable",
    ),
}
# Gateways answer 502 from their proxy layer with HTML, not the API's envelope; a client
# must cope with an error body that is not JSON, whatever envelope the API itself uses.
_BAD_GATEWAY = (
    b"text/html; charset=utf-8",
    b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>",
)


def _transport_of(send: Send) -> asyncio.Transport | None:
    # uvicorn's `send` is a bound method of its RequestResponseCycle, which holds the
    # connection's transport; other servers (or a wrapped send) expose nothing.
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    return transport if isinstance(transport, asyncio.Transport) else None


async def _until_disconnected(send: Send) -> None:
    # Let uvicorn's connection_lost run before the app returns, so it does not log
    # "ASGI callable returned without starting/completing response".
    cycle = getattr(send, "__self__", None)
    for _ in range(200):
        await asyncio.sleep(0)
        if getattr(cycle, "disconnected", True):
            return
        await asyncio.sleep(0.005)


async def play_fault(
    fault: FaultKind,
    config: EmulatorConfig,
    app: ASGIApp,
    scope: Scope,
    receive: Receive,
    raw_send: Send,
    send: Send,
) -> None:
    """Act out `fault` for one request; `send` stamps headers, `raw_send` is uvicorn's own."""
    if fault in _ERROR_FAULTS or fault == "502":
        await _error(fault, config, send)
    elif fault == "reset":
        await _reset(raw_send, send)
    elif fault == "lost":
        await _lose(app, scope, receive, raw_send)
    elif fault == "slow":
        await app(scope, receive, _late(send, config.slow_seconds))
    else:
        await _truncate(app, scope, receive, raw_send, send)


async def _error(fault: FaultKind, config: EmulatorConfig, send: Send) -> None:
    if fault == "502":
        content_type, body = _BAD_GATEWAY
    else:
        status, message, kind, code = _ERROR_FAULTS[fault]
        content_type, body = render_error(status, message, type=kind, code=code, envelope=config.error_envelope)
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    if fault == "429":
        wait = config.retry_after_seconds
        # Whole seconds, rounded up: a client that honours it must not come back early.
        headers.append((b"retry-after", str(math.ceil(wait)).encode()))
        headers.append((b"retry-after-ms", str(int(wait * 1000)).encode()))
    await send({"type": "http.response.start", "status": int(fault), "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _late(send: Send, delay: float) -> Send:
    # The work is done at once and only the answer is late, as when a busy
    # service finishes a request after the client's read timeout fired.
    async def late_send(message: Message) -> None:
        if message["type"] == "http.response.start":
            await asyncio.sleep(delay)
        await send(message)

    return late_send


async def _lose(app: ASGIApp, scope: Scope, receive: Receive, raw_send: Send) -> None:
    # The work is done (and counted), but the answer never leaves: the client
    # cannot tell whether its create made a job.
    async def swallow(message: Message) -> None:
        return None

    await app(scope, receive, swallow)
    await _reset(raw_send, raw_send)


async def _reset(raw_send: Send, send: Send) -> None:
    transport = _transport_of(raw_send)
    if transport is None:
        # Fallback for servers that hide the transport: start a response and fail
        # mid-way, so the client at least sees a broken connection.
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise ConnectionResetError("emulated connection reset")
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # Linger 0: close() sends RST instead of FIN, which is what a reset looks like.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    await _until_disconnected(raw_send)


async def _truncate(app: ASGIApp, scope: Scope, receive: Receive, raw_send: Send, send: Send) -> None:
    transport = _transport_of(raw_send)
    announced = 0
    sent = 0
    cut_done = False

    async def cutting_send(message: Message) -> None:
        nonlocal announced, sent, cut_done
        if cut_done:
            return
        if message["type"] == "http.response.start":
            for name, value in message.get("headers", ()):
                if name.lower() == b"content-length":
                    announced = int(value)
            await send(message)
            return
        body: bytes = message.get("body", b"")
        keep = max(announced // 2 - sent, 0)
        if announced == 0 or len(body) < keep:
            sent += len(body)
            await send(message)
            return
        await send({"type": "http.response.body", "body": body[:keep], "more_body": True})
        cut_done = True
        if transport is None:
            # Fallback: fail mid-body; the server drops the connection.
            raise ConnectionAbortedError("emulated truncated body")
        # close(), not abort(): the part already written must reach the client first.
        transport.close()

    await app(scope, receive, cutting_send)
    if cut_done:
        await _until_disconnected(raw_send)
