"""Real servers the tests start as processes: a `prefect server start` and free ports for them.

Importable from every test folder (pytest puts ``tests/`` on the path for the
root conftest), so the suite starts servers one way only.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import httpx

BIN = Path(sys.executable).parent
REPOSITORY = Path(__file__).parents[1]

T = TypeVar("T")


def wait_for(check: Callable[[], T | None], timeout: float, what: str = "", *, every: float = 0.5) -> T:
    """``check()``'s first truthy value, tried every ``every`` s; fails naming ``what`` after ``timeout`` s.

    The one wait of the suite. Its bounds are generous (a loaded machine is slow,
    never wrong); what a test must count exactly, it counts after the wait.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what or check}: not within {timeout} s (last {value!r})"
        time.sleep(every)


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_prefect_server(home: Path, **settings: str) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    """Start `prefect server start` on a free port with its own PREFECT_HOME; the process and its clients' environment.

    The environment is the parent's, minus any PREFECT_ and SORA_ settings, plus
    PREFECT_HOME, PREFECT_API_URL and ``settings``. The database is
    ``home/prefect.db``; the log ``home/server.log``. Returns at once: see
    :func:`prefect_ready`.
    """
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PREFECT_", "SORA_"))}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_API_URL=f"http://127.0.0.1:{port}/api",
        # Where the UI served on this port finds the API, and the links logs print.
        PREFECT_UI_API_URL=f"http://127.0.0.1:{port}/api",
        PREFECT_UI_URL=f"http://127.0.0.1:{port}",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_API_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{home}/prefect.db",
        # A loaded CI machine: SQLite statements wait their turn longer than the 10 s and
        # 5 s defaults, instead of the server answering 503 to the tests' clients.
        PREFECT_SERVER_DATABASE_TIMEOUT="60",
        PREFECT_SERVER_DATABASE_CONNECTION_TIMEOUT="30",
        PREFECT_CLIENT_MAX_RETRIES="10",
        # Workers, flow runs and scripts skip loading certifi's bundle per client (tests/conftest.py).
        **{key: os.environ[key] for key in ("PREFECT_API_SSL_CERT_FILE",) if key in os.environ},
        **settings,
    )
    with (home / "server.log").open("w") as log:
        process = subprocess.Popen(
            [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_ahead_of_the_tests,
        )
    return process, env


def _ahead_of_the_tests() -> None:
    """In the server's process before it starts: a higher priority than the tests', where allowed (root).

    Every test of the xdist workers sharing it waits on this one process; on 2 cores
    the scheduler otherwise gives it one runnable process's share, however many
    requests wait behind it.
    """
    with contextlib.suppress(OSError):
        os.nice(-10)


def wait_healthy(url: str, log: Path | None, timeout: float, *, process: subprocess.Popen[Any] | None = None) -> None:
    """Return once a server answers ``url`` with 200; fail with ``log``'s end if ``process`` exited or time ran out."""
    deadline = time.monotonic() + timeout
    tail = (lambda: log.read_text()[-2000:]) if log is not None else (lambda: "(no log)")
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited: {tail()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url}: not healthy in {timeout} s: {tail()}")
        time.sleep(0.2)


def prefect_ready(env: dict[str, str], *, process: subprocess.Popen[bytes] | None = None) -> None:
    """Return once the Prefect server of ``env`` (:func:`start_prefect_server`) answers its health check."""
    wait_healthy(f"{env['PREFECT_API_URL']}/health", Path(env["PREFECT_HOME"]) / "server.log", 120, process=process)


def stop_server(process: subprocess.Popen[Any]) -> None:
    """SIGTERM a server, then SIGKILL it if it has not ended in 20 s."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


@contextmanager
def prefect_server(home: Path, **settings: str) -> Iterator[dict[str, str]]:
    """A healthy `prefect server start` (see start_prefect_server) until the block ends; its clients' environment."""
    process, env = start_prefect_server(home, **settings)
    try:
        prefect_ready(env, process=process)
        yield env
    finally:
        stop_server(process)


#: Answers of a busy Prefect server that a client of it retries (its SQLite database was locked, ...).
BUSY = {502, 503, 504}


def prefect_api(method: str, url: str, body: object = None, *, patience: float = 60.0) -> httpx.Response:
    """``method url`` on the session's Prefect server, tried again while it answers "busy" (at most ``patience`` s).

    The test server shares 2 cores with the suite; Prefect's own client retries a
    503 the same way. Any other answer is returned checked (``raise_for_status``).
    """
    deadline = time.monotonic() + patience
    while True:
        try:
            answer = httpx.request(method, url, json=body, timeout=30)
            if answer.status_code not in BUSY or time.monotonic() > deadline:
                return answer.raise_for_status()
        except (httpx.ConnectError, httpx.TimeoutException):
            if time.monotonic() > deadline:
                raise
        time.sleep(1)


def stop_workers(*workers: subprocess.Popen[Any]) -> None:
    """SIGTERM each worker's process group, then SIGKILL what is left after a few seconds.

    A ``prefect worker`` asked to stop may wait a long while on its runs; a test's
    workers have nothing to hand over, so the grace is short (it was 20 s a worker).
    """
    for worker in workers:
        if worker.poll() is None:
            _signal_group(worker, signal.SIGTERM)
    deadline = time.monotonic() + 3
    for worker in workers:
        try:
            worker.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(worker, signal.SIGKILL)
            worker.wait(timeout=10)


def _signal_group(worker: subprocess.Popen[Any], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(worker.pid, sig)  # workers run in sessions of their own, with their flow runs


@dataclass(frozen=True)
class Names:
    """What one test module calls its things on a Prefect server that other xdist workers' modules share.

    Deployments are named by flow and deployment, and ``prefect deploy`` replaces one
    of the same name: two modules deploying prefect.yaml at once would each move the
    other's deployments to their own pool, worker and block. So each module gets
    its own: pool ``sora-pool-TAG``, deployments ``NAME-TAG``, credentials block
    ``sora-TAG``. tests/deploy/test_deployments.py alone keeps the README's names
    (``readme=True``), as it runs the README's commands.
    """

    tag: str
    readme: bool = False

    @classmethod
    def of(cls, module: ModuleType, *, readme: bool = False) -> Names:
        """A test module's names, tagged with its file's name (``test_suspend_watcher`` -> ``suspend-watcher``)."""
        return cls(module.__name__.rsplit(".", 1)[-1].removeprefix("test_").replace("_", "-"), readme)

    @property
    def pool(self) -> str:
        return f"sora-pool-{self.tag}"

    @property
    def block(self) -> str:
        """The SoraCredentials block its deployments' ``credentials`` parameter names."""
        return "sora" if self.readme else f"sora-{self.tag}"

    def deployment(self, name: str) -> str:
        """``FLOW/DEPLOYMENT`` as prefect.yaml names it -> as this module deployed it."""
        return name if self.readme else f"{name}-{self.tag}"

    def prefect_yaml(self) -> str:
        """The repository's prefect.yaml with this module's pool, deployment names and block in it."""
        text = (REPOSITORY / "prefect.yaml").read_text()
        edits = [(r"^(    name: )sora-pool$", rf"\g<1>{self.pool}")]
        if not self.readme:
            edits += [
                (r"^(  - name: [\w-]+)$", rf"\g<1>-{self.tag}"),
                (r"^(\s+credentials: )sora$", rf"\g<1>{self.block}"),
                (r"^(\s+shard_deployment: sora-batch-shard/batch-shard)\b", rf"\g<1>-{self.tag}"),
            ]
        for pattern, replacement in edits:
            text, count = re.subn(pattern, replacement, text, flags=re.MULTILINE)
            assert count, f"prefect.yaml has nothing matching {pattern!r} any more: update tests/servers.py:Names"
        return text


def drop_publish_trigger(api_url: str, names: Names) -> None:
    """Delete the automation ``deploy --all`` made for publish-video's trigger (prefect.yaml).

    Left on the session's shared server it would start a publish-video run for every
    video any later test stores: work for the server that no test asked for.
    tests/events/test_automations.py tests the trigger itself.
    """
    name = names.deployment("sora-publish-video/publish-video")
    deployment = prefect_api("GET", f"{api_url}/deployments/name/{name}").json()
    prefect_api("DELETE", f"{api_url}/automations/owned-by/prefect.deployment.{deployment['id']}")


def create_process_pool(api_url: str, name: str) -> None:
    """What ``prefect work-pool create NAME --type process --overwrite`` does, without a fresh interpreter.

    The command costs about 2 CPU-seconds of imports a call; tests/deploy/ runs the
    README's commands themselves, on pools made as the README makes them.

    One difference: the pool's ``command`` is set to ``python -m prefect.engine``. Left
    blank, Prefect 3.9's process worker starts each flow run in a workspace supervisor
    that imports Prefect, prepares the run's directory and then execs the engine, which
    imports Prefect again: two cold imports (3-4 CPU-seconds) a run, for dozens of runs
    in a session. With the command set, the engine runs the deployment's pull steps
    itself, Prefect's classic path. The README's own pools keep the default.
    """
    from prefect.workers.process import ProcessWorker

    template = ProcessWorker.get_default_base_job_template()
    template["variables"]["properties"]["command"]["default"] = f"{sys.executable} -m prefect.engine"
    try:
        prefect_api("POST", f"{api_url}/work_pools/", {"name": name, "type": "process", "base_job_template": template})
    except httpx.HTTPStatusError as exc:
        if exc.response.status_code != 409:
            raise
        prefect_api("PATCH", f"{api_url}/work_pools/{name}", {"base_job_template": template})


#: The state types a flow run does not leave.
FINAL = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")


def final_flow_run(
    api_url: str, flow_run_id: str, timeout: float, *, meanwhile: Callable[[], None] | None = None
) -> dict[str, Any]:
    """The flow run once it is in a final state (a worker took it there); ``meanwhile()`` runs each round.

    ``meanwhile`` is where a test asserts what must hold while it waits (its workers alive, ...).
    """

    def final() -> dict[str, Any] | None:
        if meanwhile is not None:
            meanwhile()
        run: dict[str, Any] = prefect_api("GET", f"{api_url}/flow_runs/{flow_run_id}").json()
        return run if (run.get("state") or {}).get("type") in FINAL else None

    return wait_for(final, timeout, f"flow run {flow_run_id} in a final state")


def deploy(api_url: str, project: Path, *args: str) -> str:
    """``prefect --no-prompt deploy ARGS`` in ``project`` against ``api_url``, inside this process; its output.

    Prefect's own in-process CLI runner (``prefect.testing.cli``, what Prefect's suite
    uses) runs the same command as the ``prefect`` executable would, without the 2-3
    CPU-seconds of a fresh interpreter importing Prefect, at the busiest moment of a
    run (every end-to-end module deploys while the others start). The README's
    commands still run as commands in tests/deploy/test_deployments.py and
    tests/reliability/test_secrets.py. Where the runner is missing (an older
    Prefect), the command runs as a process.
    """
    try:
        from prefect.testing.cli import CycloptsCliRunner
    except ImportError:
        env = {**os.environ, "PREFECT_API_URL": api_url}
        command = [str(BIN / "prefect"), "--no-prompt", "deploy", *args]
        done = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, f"prefect deploy failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout
    from prefect.settings import PREFECT_API_URL, temporary_settings

    here = Path.cwd()
    os.chdir(project)  # the command reads prefect.yaml from the working directory
    try:
        with temporary_settings(updates={PREFECT_API_URL: api_url}):
            result = CycloptsCliRunner().invoke(["--no-prompt", "deploy", *args])
    finally:
        os.chdir(here)
    assert result.exit_code == 0, f"prefect deploy failed:\n{result.output[-3000:]}\n{result.exception!r}"
    return result.output


def run_deployment_now(api_url: str, name: str, parameters: dict[str, Any] | None = None) -> str:
    """What ``prefect deployment run FLOW/DEPLOYMENT --params ...`` does: a run scheduled now; its id."""
    deployment = prefect_api("GET", f"{api_url}/deployments/name/{name}").json()
    body = {"parameters": parameters or {}}
    run: dict[str, Any] = prefect_api("POST", f"{api_url}/deployments/{deployment['id']}/create_flow_run", body).json()
    return str(run["id"])


def emulator_stats(base_url: str) -> dict[str, Any]:
    """The counters of an emulator running as a process of its own (``emulator_process``, ``prefect-sora emulator``)."""
    return dict(httpx.get(base_url.removesuffix("/v1") + "/_emulator/stats", timeout=5).json())
