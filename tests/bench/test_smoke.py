"""The benchmark harness runs: ``bench/run.py --quick`` end to end on the cheap benchmarks.

Benchmarks are not tests, so nothing here holds a figure to its goal (a loaded CI
machine would make that flaky); it holds the harness to producing the figures and a
BENCHMARKS.md that shows them, so that a broken harness is found before a perf run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_polling_and_import_write_their_figures_and_a_report(tmp_path: Path) -> None:
    target = tmp_path / "BENCHMARKS.md"
    options = ["--quick", "--only", "polling,import", "--results", str(tmp_path), "--report"]
    options += ["--benchmarks-md", str(target)]
    completed = subprocess.run(
        [sys.executable, "bench/run.py", *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert completed.returncode == 0, completed.stderr[-3000:]
    polling = json.loads((tmp_path / "polling.json").read_text())
    scenario = polling["figures"]["scenarios"][0]
    assert scenario["ours"]["jobs"] == scenario["sdk"]["jobs"] > 0
    assert 0 < scenario["gets_ratio"] < 1  # the SDK polls every second; ours does not
    assert polling["machine"]["cores"] and polling["command"].startswith("python bench/run.py --quick")
    imports = json.loads((tmp_path / "import.json").read_text())
    assert imports["figures"]["forbidden_after_tasks"]["prefect_sora.emulator"] is False
    report = target.read_text()
    assert "## 1. Polling" in report and "## 5. Import cost" in report and "## Summary" in report


def test_an_unknown_benchmark_is_refused() -> None:
    completed = subprocess.run(
        [sys.executable, "bench/run.py", "--only", "nonsense"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )

    assert completed.returncode == 2
    assert "unknown benchmark" in completed.stderr
