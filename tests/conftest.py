"""Shared test setup: the emulator fixtures users get, the Prefect servers of the run, and the common fixtures.

Every fixture more than one test folder needs is defined here, once: the key to look
for, credentials for this test's emulator, S3 on moto, the anyio backend.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from prefect_sora.blocks import SoraCredentials
    from prefect_sora.emulator import Emulator

# Quiet, offline Prefect for tests; set before Prefect is imported anywhere.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
# The clients of a loaded session server retry its 503s longer (Prefect's default is 5 tries).
os.environ.setdefault("PREFECT_CLIENT_MAX_RETRIES", "10")
# Some machines (this project's CI among them) set PYTHONDONTWRITEBYTECODE. Then every fresh
# interpreter the suite starts (flow runs, workers, scripts, about 150 of them) compiles the
# package's modules again, and every xdist worker rewrites the tests' asserts again on each
# run. Written once, read by all: pytest_configure compiles the package before any worker starts.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False


def _one_certificate_bundle() -> str:
    """A CA file holding one certificate (the first of certifi's), written once per machine.

    Every Prefect client builds an SSL context from ``PREFECT_API_SSL_CERT_FILE`` (certifi's
    bundle by default): about 40 ms of CPU to load 150 certificates, for each task called
    outside a flow, each flow run and each process. The tests' Prefect servers are plain
    HTTP on loopback, so no certificate is ever checked; a one-certificate file makes the
    same context in under a millisecond (about 13 % of the test processes' CPU before).
    """
    import re
    import tempfile

    import certifi

    path = Path(tempfile.gettempdir()) / "prefect-sora-tests-one-ca.pem"
    if not path.exists():
        bundle = Path(certifi.where()).read_text()
        first = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n", bundle, re.DOTALL)
        assert first is not None, certifi.where()
        partial = path.with_name(f"{path.name}.{os.getpid()}")
        partial.write_text(first.group(0))
        partial.replace(path)  # atomic: xdist workers may race to write it
    return str(path)


os.environ.setdefault("PREFECT_API_SSL_CERT_FILE", _one_certificate_bundle())

# The same fixtures users enable in their own suites (dogfooding the public plugin).
pytest_plugins = ["prefect_sora.emulator.pytest_plugin"]

SLOW_TESTS = Path(__file__).with_name("slow-tests.txt")


#: The longest files (minutes each: workers, kills, reruns, the browser), longest first, so
#: that with ``-n 2 --dist loadfile --no-loadscope-reorder`` they start at once and overlap
#: the many short ones instead of making a tail where one worker runs while the other idles.
#: (Without ``--no-loadscope-reorder`` xdist sends files with the most tests first, so these
#: one-test files of minutes came last.) Order from a run's ``--durations``, per file.
LONGEST_FIRST = (
    "tests/deploy/test_sharded_batch.py",
    "tests/suspend/test_suspend_watcher.py",
    "tests/suspend/test_suspend.py",
    "tests/reliability/test_secrets.py",
    "tests/ui/test_ui.py",
    "tests/litellm/",
    "tests/deploy/test_results_anywhere.py",
    "tests/reliability/test_fault_matrix.py",
    "tests/reliability/test_crash_resume.py",
    "tests/core/test_pacing.py",
    "tests/deploy/",
    "tests/core/test_gateway_deviations.py",
    "tests/core/test_identity.py",
    "tests/money/test_spend_race.py",
    "tests/tasks/test_task_identity.py",
    "tests/money/",
    "tests/ui/",
    "tests/events/",
    "tests/suspend/",
    "tests/reliability/",
)


#: The key under which xdist's controller hands a worker the Prefect server it shares.
SHARED_SERVER = "prefect_sora_server"
#: Workers started with the server's environment look for runs every 2 seconds instead of every ten
#: (BENCHMARKS section 9: a worker and its server spend 1.6 CPU-s a minute at every second, 0.7 at 5 s).
SERVER_SETTINGS = {"PREFECT_WORKER_QUERY_SECONDS": "2"}
#: How many xdist workers share one server. Two: at four to a server (one for the run) its SQLite
#: database, the one writer for every worker's flow runs, events and deployments, kept requests
#: waiting for minutes on a loaded machine (a `prefect deploy` past 180 s); at one to a server
#: each worker paid 8-15 CPU-seconds to start its own and 1.5 a minute to keep it.
WORKERS_A_SERVER = int(os.environ.get("PREFECT_SORA_TESTS_WORKERS_A_SERVER", "2"))
#: The controller's server: its process and its clients' environment.
_server = pytest.StashKey[Any]()


@pytest.hookimpl(trylast=True)  # after pytest's own, which makes the temporary folders
def pytest_configure(config: pytest.Config) -> None:
    """In the first process only (not in an xdist worker): compile the package, and start the run's Prefect servers.

    Under xdist (``-n``) the servers are started here, one for every
    ``WORKERS_A_SERVER`` workers, and the workers share them. They start while the
    workers do; the first test that needs one waits for its health check.
    """
    if hasattr(config, "workerinput"):
        return
    import compileall
    from importlib.util import find_spec

    # The editable install maps the top-level blocks/, tasks/ and flows/ into the package.
    for name in ("prefect_sora", "prefect_sora.blocks", "prefect_sora.tasks", "prefect_sora.flows"):
        spec = find_spec(name)
        for folder in (spec.submodule_search_locations or []) if spec else []:
            compileall.compile_dir(folder, quiet=2)
    # xdist's own test for "workers will run" (xdist/plugin.py: _is_distribution_mode).
    if config.getoption("dist", "no") != "no" and config.getoption("tx", None) and not config.option.collectonly:
        from servers import start_prefect_server

        workers = len(config.getoption("tx"))
        config.stash[_server] = [
            start_prefect_server(config._tmp_path_factory.mktemp("prefect-home"), **SERVER_SETTINGS)  # type: ignore[attr-defined]
            for _ in range(-(-workers // WORKERS_A_SERVER))
        ]


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist's hook, in the controller: each worker is told the server's environment."""
    if _server in node.config.stash:
        number = int(node.gateway.id.removeprefix("gw"))
        node.workerinput[SHARED_SERVER] = json.dumps(node.config.stash[_server][number // WORKERS_A_SERVER][1])


def pytest_unconfigure(config: pytest.Config) -> None:
    if _server in config.stash:
        from servers import stop_server

        for process, _ in config.stash[_server]:
            stop_server(process)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark ``slow`` the tests named in slow-tests.txt (``-m "not slow"`` stays a quick tier); longest files first."""
    lines = (line.strip() for line in SLOW_TESTS.read_text().splitlines())
    slow = {line for line in lines if line and not line.startswith("#")}
    root = config.rootpath

    def relative(item: pytest.Item) -> str:
        return item.path.relative_to(root).as_posix() if item.path.is_relative_to(root) else str(item.path)

    for item in items:
        if f"{relative(item)}::{item.nodeid.split('::', 1)[-1].split('[', 1)[0]}" in slow:
            item.add_marker(pytest.mark.slow)

    def rank(item: pytest.Item) -> int:
        path = relative(item)
        return next((i for i, prefix in enumerate(LONGEST_FIRST) if path.startswith(prefix)), len(LONGEST_FIRST))

    items.sort(key=rank)  # stable: each file keeps its own order


@pytest.fixture(scope="session")
def prefect_server_process(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """The session's real Prefect server: a ``prefect server start`` in its own process and PREFECT_HOME.

    Yields the environment a child process (a flow script, a worker, the ``prefect``
    command) needs to talk to it; its SQLite database is ``$PREFECT_HOME/prefect.db``.
    Every test that needs a server uses this one. Under xdist the controller started
    it (``pytest_configure``) and another worker shares it; without xdist it starts
    here, on first use. Tests make their own names (tests/servers.py:Names for prefect.yaml's).
    """
    from servers import prefect_ready, prefect_server

    shared = getattr(request.config, "workerinput", {}).get(SHARED_SERVER)
    if shared is not None:
        env = json.loads(shared)
        prefect_ready(env)
        _register_blocks(env["PREFECT_API_URL"])
        yield env
        return
    with prefect_server(tmp_path_factory.mktemp("prefect-home"), **SERVER_SETTINGS) as env:
        _register_blocks(env["PREFECT_API_URL"])
        yield env


def _register_blocks(api_url: str) -> None:
    """Register the package's block types once, before any test saves one.

    ``Block.save`` registers its type first when the server lacks it, by reading then
    creating: two xdist workers saving their first block at once would both create,
    and one would fail with 409. Here a worker that loses that race reads the winner's.
    """
    from prefect.exceptions import ObjectAlreadyExists
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from prefect_sora.blocks import SoraCredentials, SoraStorage

    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        for block in (SoraCredentials, SoraStorage):
            for attempt in range(3):
                try:
                    block.register_type_and_schema()
                    break
                except ObjectAlreadyExists:
                    if attempt == 2:
                        raise


@pytest.fixture(scope="session")
def prefect_server(prefect_server_process: dict[str, str]) -> Iterator[None]:
    """This process's flows, tasks and blocks talk to the session's Prefect server.

    What ``prefect_test_harness`` does, minus the second server it would start: the
    API URL in the settings and in the process-wide settings context (for code whose
    context was copied before), and the log and event workers drained before the end.
    """
    import prefect.context
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with (
        temporary_settings(updates={PREFECT_API_URL: prefect_server_process["PREFECT_API_URL"]}),
        prefect.context._temporary_global_settings_context(prefect.context.get_settings_context()),
    ):
        yield
        # Without this, logs and events still queued are sent to a server that has stopped.
        APILogWorker.drain_all(timeout=10)
        EventsWorker.drain_all(timeout=10)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def api_key() -> str:
    """Distinctive, so that a leak into a message, a log line, a state or an artifact is found by a plain search."""
    return "sk-test-LEAKCANARY-2d8e6b04a1"


@pytest.fixture
def credentials(sora_emulator: Emulator, api_key: str) -> SoraCredentials:
    """A ``SoraCredentials`` block (unsaved) for this test's emulator."""
    from prefect_sora.blocks import SoraCredentials

    return SoraCredentials(api_key=api_key, base_url=sora_emulator.base_url)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server on loopback for the session, with the bucket ``videos`` in it."""
    import logging

    import boto3
    from moto.moto_server.werkzeug_app import MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # moto's own S3 app, served as ``ThreadedMotoServer`` serves its all-services one: that
    # one works out the service of every request by trying each AWS service's URL patterns
    # under a lock, which cost a third of the S3 requests' CPU here.
    server = make_server("127.0.0.1", 0, create_backend_app("s3"), threaded=True, request_handler=MotoRequestHandler)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    host, port = server.server_address[:2]
    endpoint = f"http://{host}:{port}"
    s3 = boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id="x", aws_secret_access_key="y", region_name="us-east-1"
    )
    s3.create_bucket(Bucket="videos")
    yield endpoint
    server.shutdown()
    serving.join()


@pytest.fixture
def s3_options(s3_endpoint: str) -> dict[str, Any]:
    """``storage_options`` for s3fs against the moto server."""
    return {"client_kwargs": {"endpoint_url": s3_endpoint, "region_name": "us-east-1"}, "key": "x", "secret": "y"}
