"""Run the prefect-sora benchmarks against the emulator and write BENCHMARKS.md.

    python bench/run.py                      # everything (about 15 minutes on 2 cores)
    python bench/run.py --only polling       # one (or several: --only polling,download)
    python bench/run.py --quick              # smoke: small sizes, seconds not minutes

Benchmarks: polling, fanout, download, capacity, import. A full run keeps each one's
figures in ``bench/results/NAME.json`` (with the exact command, date, cores and load)
and renders BENCHMARKS.md from every result there, so ``--only`` refreshes one section
and leaves the others as they were measured. ``--quick`` writes its results to a
temporary folder and leaves BENCHMARKS.md alone unless ``--report`` is given.
Benchmarks are not tests: they print figures and goals met or missed, and exit 0 unless
something broke (``--strict``: exit 1 on a missed goal).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _common
import capacity
import download
import fanout
import import_cost
import polling
import report

BENCHMARKS: dict[str, Callable[..., dict[str, Any]]] = {
    "polling": polling.run,
    "fanout": fanout.run,
    "download": download.run,
    "capacity": capacity.run,
    "import": import_cost.run,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--only",
        type=lambda text: [name.strip() for name in text.split(",") if name.strip()],
        default=list(BENCHMARKS),
        help="comma-separated: " + ", ".join(BENCHMARKS),
    )
    parser.add_argument("--quick", action="store_true", help="smoke mode: small sizes, no BENCHMARKS.md")
    parser.add_argument("--results", type=Path, help="where results go (default bench/results; --quick: a temp dir)")
    parser.add_argument("--report", action="store_true", help="render BENCHMARKS.md even with --quick")
    parser.add_argument("--benchmarks-md", type=Path, help="render to this file instead of BENCHMARKS.md")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a goal is missed")
    parser.add_argument(
        "--polling-baseline",
        metavar="REV",
        help="also run the poll schedule as it was at this git revision, side by side (before/after figures)",
    )
    options = parser.parse_args(argv)
    unknown = [name for name in options.only if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    results = options.results or (Path(tempfile.mkdtemp(prefix="bench-quick-")) if options.quick else _common.RESULTS)
    command = "python bench/run.py" + "".join(f" {shlex.quote(arg)}" for arg in (argv or sys.argv[1:]))

    missed = []
    for name in options.only:
        print(f"== {name} ...", file=sys.stderr, flush=True)
        started, load_before = time.monotonic(), _common.load()
        extra = {"before": options.polling_baseline} if name == "polling" and options.polling_baseline else {}
        figures = BENCHMARKS[name](quick=options.quick, **extra)
        result = {
            "benchmark": name,
            "command": command,
            "quick": options.quick,
            "machine": {**_common.machine(), "load_before": load_before, "load_after": _common.load()},
            "seconds": round(time.monotonic() - started, 1),
            "figures": figures,
        }
        result["goals"] = report.goals(name, figures)
        results.mkdir(parents=True, exist_ok=True)
        (results / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
        for goal in result["goals"]:
            mark = "met " if goal["met"] else "MISS"
            print(f"   [{mark}] {goal['goal']}: {goal['measured']}", file=sys.stderr, flush=True)
            if not goal["met"]:
                missed.append(f"{name}: {goal['goal']}")
    if not options.quick or options.report:
        path = report.render(results, options.benchmarks_md)
        print(f"wrote {path}", file=sys.stderr)
    print(json.dumps({"results": str(results), "missed": missed}))
    return 1 if options.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
