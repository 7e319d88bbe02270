"""Importing the tasks brings in neither the emulator nor any media library (a fresh interpreter)."""

from __future__ import annotations

import json
import subprocess
import sys


def test_importing_the_tasks_pulls_in_no_emulator_media_library_or_sdk() -> None:
    probe = (
        "import json, sys; import prefect_sora.tasks, prefect_sora.flows, prefect_sora.blocks; "
        "print(json.dumps(sorted(sys.modules)))"
    )
    loaded = set(
        json.loads(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout)
    )
    assert "prefect_sora.tasks" in loaded  # the probe imported what it claims
    unwanted = {"PIL", "av", "openai"} | {name for name in loaded if name.startswith("prefect_sora.emulator")}
    assert not (loaded & unwanted), sorted(loaded & unwanted)
