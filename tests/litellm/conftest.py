"""A real LiteLLM proxy (``.venv-litellm``, made by ``.ci/litellm``) in front of the emulator, on loopback only.

The proxy sends some requests to its built-in default upstream (api.openai.com) whatever
its config says, so it only ever runs where nothing but loopback exists: the suite under
``bash .ci/isolated``. Elsewhere, and without its venv, these tests skip with the reason.
One proxy serves the session (it takes ~15 s to start); each test gets the emulator behind
it reset, so counters start at zero.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from litellm_helpers import Proxied
from servers import free_port, stop_server, wait_healthy

from prefect_sora.blocks import SoraCredentials
from prefect_sora.emulator import Emulator, EmulatorConfig

ROOT = Path(__file__).resolve().parents[2]
LITELLM = ROOT / ".venv-litellm" / "bin" / "litellm"
UPSTREAM_KEY = "sk-upstream-LEAKCANARY-litellm-5e1a"
MASTER_KEY = "sk-master-LEAKCANARY-litellm-77c0"
STARTUP_SECONDS = 90.0


def interfaces() -> list[str]:
    """The network interfaces of this process's namespace (/sys/class/net may show the host's)."""
    lines = Path("/proc/net/dev").read_text().splitlines()[2:]
    return [line.split(":", 1)[0].strip() for line in lines if ":" in line]


def why_not() -> str | None:
    """Why the real proxy cannot run here, or None when it can."""
    found = interfaces()
    if found != ["lo"]:
        return (
            f"not in a loopback-only network namespace (interfaces: {', '.join(found)}); "
            "run the suite as `bash .ci/isolated .venv/bin/python -m pytest` (needs root)"
        )
    if not LITELLM.exists():
        return f"no LiteLLM proxy at {LITELLM}; run `bash .ci/litellm` first"
    return None


def proxy_config(upstream: str) -> str:
    """The proxy's YAML: both models at the emulator with the upstream key, a master key, no database."""
    models = "".join(
        f"  - model_name: {model}\n"
        f"    litellm_params:\n"
        f"      model: openai/{model}\n"
        f"      api_base: {upstream}\n"
        f"      api_key: {UPSTREAM_KEY}\n"
        for model in ("sora-2", "sora-2-pro")
    )
    return (
        f"model_list:\n{models}general_settings:\n  master_key: {MASTER_KEY}\nlitellm_settings:\n  telemetry: false\n"
    )


@pytest.fixture(scope="session")
def litellm_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxied]:
    """A LiteLLM proxy on a free loopback port in front of an `openai`-profile emulator."""
    reason = why_not()
    if reason is not None:
        if os.environ.get("CI"):  # CI runs as root under .ci/isolated: a skip there would hide a broken harness
            pytest.fail(f"tests/litellm must run in CI: {reason}")
        pytest.skip(reason)
    home = tmp_path_factory.mktemp("litellm")
    emulator = Emulator(EmulatorConfig(profile="openai", api_key=UPSTREAM_KEY, job_seconds=0.3), port=free_port())
    emulator.start()
    (home / "config.yaml").write_text(proxy_config(emulator.base_url))
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("OPENAI_", "LITELLM_", "PREFECT_"))}
    env.update(
        LITELLM_LOCAL_MODEL_COST_MAP="True",  # no download of the price list at start
        LITELLM_LOG="ERROR",
        LITELLM_TELEMETRY="False",
        DISABLE_SCHEMA_UPDATE="true",
        NO_DOCS="True",
        HOME=str(home),
    )
    log = (home / "proxy.log").open("w")
    command = [str(LITELLM), "--config", str(home / "config.yaml"), "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(command, env=env, cwd=home, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(f"{base}/health/liveliness", home / "proxy.log", STARTUP_SECONDS, process=process)
        credentials = SoraCredentials(api_key=MASTER_KEY, base_url=f"{base}/v1")
        yield Proxied(emulator=emulator, base_url=f"{base}/v1", credentials=credentials)
    finally:
        stop_server(process)
        log.close()
        emulator.stop()


@pytest.fixture
def proxied(litellm_proxy: Proxied, prefect_server: None) -> Iterator[Proxied]:
    """The session's proxy, the emulator behind it serving afresh: no jobs, zero counters, its startup config."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    litellm_proxy.start_upstream()
    litellm_proxy.emulator.reset()
    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield litellm_proxy
    litellm_proxy.start_upstream()
