"""A deliberately broken Sora API on loopback, for the cases the emulator will not produce.

The emulator plays a correct service (plus the faults a correct service shows
under load); a gateway that is buggy or hostile answers with things no correct
service would: ids that try to escape a folder, HTML where a video should be,
bodies longer or shorter than announced, progress of 250 %, statuses nobody
documented, JSON of many megabytes. This is a real HTTP server on a thread
(asyncio streams), so the client meets them over a real socket.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Reply:
    """One canned answer: status, headers, body; ``cut`` closes the socket after that many body bytes."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    cut: int | None = None
    extra: bytes = b""


def video(**fields: Any) -> Reply:
    """A JSON video object with ``fields`` over sane defaults."""
    body = {
        "id": "video_ok",
        "object": "video",
        "model": "sora-2",
        "status": "completed",
        "progress": 100,
        "created_at": int(time.time()),
        "size": "720x1280",
        "seconds": "4",
        "prompt": "p",
    }
    body.update(fields)
    return Reply(body=json.dumps(body).encode(), headers={"content-type": "application/json"})


class HostileServer:
    """Answers each (method, path) with the Reply set for it; records the requests it saw.

    Speaks HTTP/1.1 by hand over asyncio streams (one request per connection),
    because a real ASGI server would refuse to send what this one must: more
    bytes than its Content-Length announces.
    """

    def __init__(self) -> None:
        self.replies: dict[tuple[str, str], Reply] = {}
        self.seen: list[dict[str, Any]] = []
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def on(self, method: str, path: str, reply: Reply) -> None:
        self.replies[(method, path)] = reply

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *lines = head.decode("latin-1").split("\r\n")
            method, target, _ = request_line.split(" ", 2)
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines if line)}
            body = b""
            if int(headers.get("content-length", "0")):
                body = await reader.readexactly(int(headers["content-length"]))
            path = target.split("?", 1)[0]
            self.seen.append({"method": method, "path": path, "headers": headers, "body": body})
            reply = self.replies.get((method, path), Reply(404, b'{"error": {"message": "nope"}}'))
            fields = {**reply.headers, "content-length": reply.headers.get("content-length", str(len(reply.body)))}
            fields["connection"] = "close"
            status = f"HTTP/1.1 {reply.status} X\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items())
            writer.write(status.encode("latin-1") + b"\r\n")
            body = reply.body if reply.cut is None else reply.body[: reply.cut]
            writer.write(body + reply.extra)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@contextmanager
def serve(app: HostileServer) -> Iterator[HostileServer]:
    """Run ``app`` on a free loopback port for the duration of the block."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    servers: list[asyncio.Server] = []

    def run() -> None:
        # The server starts on its own thread's loop: the caller may be inside a loop already.
        servers.append(loop.run_until_complete(asyncio.start_server(app.handle, "127.0.0.1", 0)))
        app.port = servers[0].sockets[0].getsockname()[1]
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield app
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        servers[0].close()
        loop.close()
