"""Fixtures for the tasks: the Prefect test server, credentials for the emulator, S3 on moto, a rogue server."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

#: What a rogue server answers: (status, headers, body) for a method and path.
Answer = tuple[int, dict[str, str], bytes]
Responder = Callable[[str, str, dict[str, str]], Answer]


@pytest.fixture(autouse=True)
def _prefect_test_server(prefect_server: None) -> Iterator[None]:
    """Every task test runs against the session's real Prefect server.

    Flow heartbeats are off: on exit a sync flow joins the heartbeat thread, which
    sleeps in one-second steps, so each flow would take a second longer.
    """
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


@pytest.fixture
def rogue_server() -> Iterator[Callable[[Responder], str]]:
    """Start a loopback HTTP server that answers whatever ``responder`` says; returns its ``/v1`` URL.

    For the cases the emulator, which follows the API, cannot produce: a JSON body served
    as a video, an unsafe id, a key echoed back in an error.
    """
    servers: list[ThreadingHTTPServer] = []

    def start(responder: Responder) -> str:
        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if length:
                    self.rfile.read(length)
                status, headers, body = responder(self.command, self.path, dict(self.headers.items()))
                self.send_response(status)
                for name, value in {"content-length": str(len(body)), **headers}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_DELETE = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/v1"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def log_records(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every log record at DEBUG and up; Prefect's run loggers propagate to the root, where caplog listens."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="prefect")
    return caplog


@pytest.fixture
def prefect_client() -> Iterator[Any]:
    """A sync client of the test server, to read task runs, artifacts and logs back."""
    from prefect import get_client

    with get_client(sync_client=True) as client:
        yield client


@pytest.fixture
def final_task_run(prefect_client: Any) -> Callable[[Any], Any]:
    """The task run as the server recorded it, once the server has its final state.

    Task run states reach the server as events, processed a moment later, so a read
    right after the flow returns may still show ``Retrying``.
    """

    def read(task_run_id: Any, timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            run = prefect_client.read_task_run(task_run_id)
            if run.state is not None and run.state.is_final():
                return run
            if time.monotonic() > deadline:
                raise AssertionError(f"task run {task_run_id} still {run.state!r} after {timeout}s")
            time.sleep(0.05)

    return read
