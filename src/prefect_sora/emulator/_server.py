"""Running the emulator: in-process on a thread (`Emulator`) or in the foreground (`serve`).

`Emulator` binds its socket itself (port 0 picks a free one) before uvicorn starts, so the
bound port is known at once and nothing races to find a free port. uvicorn then runs on a
daemon thread with its own event loop, which makes the emulator equally usable from sync
tests and from async tests whose loop must not be shared with the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

import uvicorn

from prefect_sora.emulator._app import create_app
from prefect_sora.emulator._config import FAULT_KINDS, EmulatorConfig, Endpoint, FaultKind
from prefect_sora.emulator._state import EmulatorState

_STARTUP_TIMEOUT = 15.0


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted connections only when
    # the listening socket says TCP, and without it Nagle plus delayed ACKs add ~40 ms to
    # every response uvicorn writes in two parts (headers, then body).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        # Listen now: clients that connect before uvicorn is serving wait in the backlog
        # instead of being refused.
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


class _ThreadServer(uvicorn.Server):
    """uvicorn, woken at once by `request_exit` instead of noticing on its 0.1 s tick.

    A fixture starts and stops one emulator per test; the tick alone would add a tenth of
    a second to every test.
    """

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    async def main_loop(self) -> None:
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        counter = 0
        while not await self.on_tick(counter):
            # on_tick refreshes the Date header whenever counter % 10 == 0: once a second.
            counter += 10
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=1.0)

    def request_exit(self) -> None:
        """Ask the server to shut down, from any thread."""
        self.should_exit = True
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed in between
                loop.call_soon_threadsafe(wake.set)


def _uvicorn_config(state: EmulatorState) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(state),
        # Leave the host process's logging alone: uvicorn's dictConfig would
        # reconfigure every logger, flushing (and blocking on) Prefect's API
        # handler, which can deadlock an emulator started inside a flow.
        log_config=None,
        log_level="warning",
        access_log=False,  # the poll path must stay lean
        http="h11",
        loop="asyncio",
        lifespan="off",
        proxy_headers=False,
        timeout_graceful_shutdown=2,
    )


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def serve(
    config: EmulatorConfig,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve the emulator in the foreground; Ctrl-C (SIGINT) shuts it down and returns.

    SIGTERM also shuts it down gracefully, after which uvicorn re-raises the signal, so the
    process ends the conventional way for a terminated process.

    Args:
        config: How the emulator behaves.
        host: Interface to bind.
        port: Port to bind; 0 picks a free one.
        on_ready: Called with the base URL (``http://HOST:PORT/v1``; ``.../openai/v1`` for
            the azure profile) once bound.
    """
    sock = _bind(host, port)
    bound_port = sock.getsockname()[1]
    state = EmulatorState(config)
    server = uvicorn.Server(_uvicorn_config(state))
    if on_ready is not None:
        on_ready(f"{_url(host, bound_port)}{state.profile.api_prefix}")
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        # uvicorn shuts down gracefully on SIGINT, then re-raises the signal; the
        # shutdown already happened, so an interrupt here is a clean exit.
        pass
    finally:
        sock.close()


class Emulator:
    """The Sora 2 API emulator running in this process, on a free port by default.

    Example:
        ```python
        import httpx
        from prefect_sora.emulator import Emulator

        with Emulator(job_seconds=0.5) as emu:
            headers = {"Authorization": "Bearer sk-test"}
            job = httpx.post(
                f"{emu.base_url}/videos",
                json={"model": "sora-2", "prompt": "a red fox"},
                headers=headers,
            ).json()
            assert emu.stats()["creates"] == 1
        ```

    With ``profile="azure"`` the API is also served under ``/openai/v1`` and `base_url`
    points there; ``with Emulator(rpm=60, max_running_jobs=2)`` limits every key.

    Args:
        config: A full config; keyword `settings` override its fields (or build one).
        host: Interface to bind.
        port: Port to bind; 0 (the default) picks a free one.
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        **settings: Any,
    ) -> None:
        if config is None:
            config = EmulatorConfig(**settings)
        elif settings:
            config = config.updated(**settings)
        self.state = EmulatorState(config)
        self.host = host
        self._requested_port = port
        self._port: int | None = None
        self._server: _ThreadServer | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> Emulator:
        """Bind, start uvicorn on a daemon thread and wait until it serves."""
        if self._thread is not None:
            return self
        sock = _bind(self.host, self._requested_port)
        self._sock = sock
        self._port = sock.getsockname()[1]
        server = _ThreadServer(_uvicorn_config(self.state))
        thread = threading.Thread(
            target=server.run,
            kwargs={"sockets": [sock]},
            name=f"sora-emulator-{self._port}",
            daemon=True,
        )
        self._server, self._thread = server, thread
        thread.start()
        deadline = time.monotonic() + _STARTUP_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the Sora emulator failed to start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        """Shut the server down and wait for its thread."""
        server, thread = self._server, self._thread
        if server is not None:
            server.request_exit()
        if thread is not None:
            thread.join(timeout=10)
        if self._sock is not None:
            self._sock.close()
        self._server = self._thread = self._sock = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Emulator:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)

    # -- addresses ------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port (the emulator must be started)."""
        if self._port is None:
            raise RuntimeError("the emulator is not started")
        return self._port

    @property
    def url(self) -> str:
        """The server root, e.g. ``http://127.0.0.1:54321`` (admin routes hang off it)."""
        return _url(self.host, self.port)

    @property
    def base_url(self) -> str:
        """The API base URL to give a client, e.g. ``http://127.0.0.1:54321/v1``.

        For the azure profile it is ``http://127.0.0.1:54321/openai/v1``, Azure's v1 base.
        """
        return f"{self.url}{self.state.profile.api_prefix}"

    # -- controls (the same as the /_emulator routes, without HTTP) -----------------

    @property
    def config(self) -> EmulatorConfig:
        """The config in force."""
        return self.state.config

    def stats(self) -> dict[str, Any]:
        """The counters (see `prefect_sora.emulator._stats`) and jobs by status."""
        return self.state.snapshot()

    def configure(self, **changes: Any) -> EmulatorConfig:
        """Change config fields from now on, e.g. ``configure(failure_rate=1.0)`` or ``configure(rpm=30)``."""
        return self.state.configure(changes)

    def reset(self) -> None:
        """No jobs, zero counters, the startup config."""
        self.state.reset()

    def inject(self, fault: FaultKind | int, count: int = 1, endpoint: Endpoint | None = None) -> None:
        """Give the next `count` requests to `endpoint` (None: any) the fault `fault`.

        Args:
            fault: 429, 500, 502, 503, "reset", "slow", "truncate" or "lost" (carried out, answer lost).
            count: How many requests get it.
            endpoint: create, retrieve, list, delete, content, remix, extend, edit,
                character_create or character_retrieve; None for any.
        """
        kind = str(fault)
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {fault!r}")
        if count < 1:
            raise ValueError("count must be at least 1")
        self.state.inject(kind, count=count, endpoint=endpoint)

    def expire(self, video_id: str) -> dict[str, Any]:
        """Make a job's content expire now; returns its plan."""
        return self.state.expire(video_id)

    def finish(self, video_id: str) -> dict[str, Any]:
        """End a held job (``[emulator:hold]`` in its prompt) now, as its other directives say; returns its plan.

        A test holds a job to decide when it ends instead of guessing a duration long
        enough for a loaded machine.
        """
        return self.state.finish(video_id)

    def plan(self, video_id: str) -> dict[str, Any]:
        """A job's plan with precise float times (`completed_at` among them)."""
        return self.state.plan(video_id)
