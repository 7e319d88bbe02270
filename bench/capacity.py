"""Emulator capacity: run ``bench/emulator_capacity.py`` and keep its figures for BENCHMARKS.md.

The capacity script starts ``python -m prefect_sora.emulator`` itself, creates the jobs
concurrently and polls them round-robin. Run here twice, with the pollers in this
process and spread over two processes, since on a small machine the client side can be
the bottleneck rather than the emulator.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import _common
import emulator_capacity


def run(*, quick: bool = False) -> dict[str, Any]:
    jobs, duration = (100, 3.0) if quick else (1000, 10.0)
    runs = []
    for processes in (1,) if quick else (1, 2):
        load_before = _common.load()
        figures = emulator_capacity.run(jobs=jobs, clients=16, processes=processes, duration=duration)
        runs.append({"load_before": load_before, **figures})
    return {"jobs": jobs, "duration_s": duration, "runs": runs}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true")
    print(json.dumps(run(quick=parser.parse_args().quick)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
