"""Serve the emulator with a config given as JSON (tuples included); print the root URL, then serve.

``python bench/_emulator_server.py '{"job_seconds_range": [8, 30], "seed": 1}'``. Unlike
``python -m prefect_sora.emulator`` this takes every `EmulatorConfig` field and does not
default to fixed 5 s jobs.
"""

from __future__ import annotations

import json
import sys

from prefect_sora.emulator._config import EmulatorConfig
from prefect_sora.emulator._server import serve


def main() -> int:
    config = EmulatorConfig(**json.loads(sys.argv[1] if len(sys.argv) > 1 else "{}"))
    serve(config, port=0, on_ready=lambda base_url: print(base_url.removesuffix("/v1"), flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
