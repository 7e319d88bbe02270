"""A local emulator of the Sora 2 Videos API, shipped with prefect-sora the way moto ships AWS.

Every part of prefect-sora is tested against it over real loopback HTTP, and users can put
it in their own CI: it speaks the API well enough for the official `openai` SDK, produces
real playable MP4s, and misbehaves on demand (failed and stuck jobs, 429s, 5xx bursts,
TCP resets, slow answers, truncated downloads), deterministically for a given seed. It
never imports Prefect.

Example:
    ```python
    from openai import OpenAI
    from prefect_sora.emulator import Emulator

    with Emulator(job_seconds=0.5, poll_after_ms=50) as emu:
        client = OpenAI(base_url=emu.base_url, api_key="sk-test")
        video = client.videos.create_and_poll(model="sora-2", prompt="a red fox")
        assert video.status == "completed"
        assert emu.stats()["creates"] == 1
    ```

It can also impersonate a particular gateway (``profile="openai" | "apiyi" | "azure" |
"litellm"``, see `prefect_sora.emulator._profiles`), enforce per-key limits the way gateways
do (``rpm=``, ``max_running_jobs=``, see `prefect_sora.emulator._limits`), and show the
deviations compatible gateways are known for (renamed statuses, string timestamps, null
fields, other error envelopes; see `EmulatorConfig`).

From the shell: ``prefect-sora emulator --port 8000 --job-seconds 5`` (or
``python -m prefect_sora.emulator``). In pytest: ``pytest_plugins =
["prefect_sora.emulator.pytest_plugin"]`` and the ``sora_emulator`` fixture.

Without Pillow everything works; thumbnails and spritesheets are then PNG instead of WebP
and JPEG.
"""

from __future__ import annotations

from prefect_sora.emulator._config import (
    ALL_ENDPOINTS,
    FAULT_KINDS,
    EmulatorConfig,
    Endpoint,
    FaultKind,
)
from prefect_sora.emulator._directives import Directives, parse_directives
from prefect_sora.emulator._server import Emulator, serve

__all__ = [
    "ALL_ENDPOINTS",
    "FAULT_KINDS",
    "Directives",
    "Emulator",
    "EmulatorConfig",
    "Endpoint",
    "FaultKind",
    "parse_directives",
    "serve",
]
