"""Import cost: what ``import prefect_sora.tasks`` adds to ``import prefect``, in fresh processes.

Each measurement is a new interpreter timing its own imports (``perf_counter`` around
them), so nothing is cached in ``sys.modules``; the OS file cache is warm after the first
round, as it is for a user. The median of several rounds is reported. The same children
list what ends up in ``sys.modules``: the emulator and media libraries must not be there,
and what Prefect alone already imports (FastAPI among it) is told apart from what we add.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from typing import Any

import _common

FORBIDDEN = ("prefect_sora.emulator", "PIL", "av", "fastapi", "uvicorn", "openai", "numpy")

_CHILD = """
import json, sys, time
started = time.perf_counter()
import prefect
after_prefect = time.perf_counter()
prefect_modules = set(sys.modules)
if {ours}:
    import prefect_sora.tasks
done = time.perf_counter()
print(json.dumps({{
    "prefect_s": after_prefect - started,
    "ours_s": done - after_prefect,
    "prefect_modules": sorted(prefect_modules),
    "all_modules": sorted(sys.modules),
}}))
"""


def _child(ours: bool) -> dict[str, Any]:
    return _common.run_child(["-c", _CHILD.format(ours=ours)])


def _slowest_added(prefect_modules: set[str], count: int = 8) -> list[tuple[str, float]]:
    """The modules `prefect_sora.tasks` adds that take longest to import themselves (-X importtime)."""
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import prefect, prefect_sora.tasks"],
        capture_output=True,
        text=True,
        check=True,
        cwd=_common.ROOT,
    )
    self_times = []
    for line in completed.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, _, name = line.removeprefix("import time:").split("|")
        name = name.strip()
        if name not in prefect_modules:
            self_times.append((name, round(int(own) / 1000, 1)))
    return sorted(self_times, key=lambda item: -item[1])[:count]


def run(*, quick: bool = False) -> dict[str, Any]:
    rounds = 1 if quick else 9
    if not quick:  # a smoke run's one round needs no warm file cache
        _child(True)  # warm the file cache and any bytecode
    prefect_alone, with_ours, ours_only = [], [], []
    last: dict[str, Any] = {}
    for _ in range(rounds):
        alone = _child(False)
        both = _child(True)
        prefect_alone.append(alone["prefect_s"])
        with_ours.append(both["prefect_s"] + both["ours_s"])
        ours_only.append(both["ours_s"])
        last = both
    prefect_modules, all_modules = set(last["prefect_modules"]), set(last["all_modules"])
    added = sorted(all_modules - prefect_modules)

    def top(names: set[str] | list[str]) -> list[str]:
        return sorted({name.split(".")[0] for name in names})

    def present(names: set[str], prefix: str) -> bool:
        return any(name == prefix or name.startswith(prefix + ".") for name in names)

    return {
        "rounds": rounds,
        "import_prefect_ms_median": round(_common.median(prefect_alone) * 1000, 1),
        "import_prefect_then_tasks_ms_median": round(_common.median(with_ours) * 1000, 1),
        "tasks_beyond_prefect_ms_median": round(_common.median(ours_only) * 1000, 1),
        "tasks_beyond_prefect_ms": [round(x * 1000, 1) for x in ours_only],
        "forbidden_after_tasks": {name: present(all_modules, name) for name in FORBIDDEN},
        "already_imported_by_prefect": {name: present(prefect_modules, name) for name in FORBIDDEN},
        "modules_added_by_tasks": len(added),
        "top_level_packages_added_by_tasks": [name for name in top(added) if not present(prefect_modules, name)],
        "prefect_sora_modules_loaded": sorted(name for name in added if name.startswith("prefect_sora")),
        "prefect_modules_added_by_tasks": sorted(name for name in added if name.startswith("prefect.")),
        "slowest_added_ms_self": _slowest_added(prefect_modules),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true")
    print(json.dumps(run(quick=parser.parse_args().quick)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
