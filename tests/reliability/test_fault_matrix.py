"""A smaller fault matrix (4 videos per fault) than `python bench/fault_matrix.py` runs (20).

Four is the fewest that keeps every check meaningful: each fault is also scripted twice
(so it happens), and the fourth item of each batch carries the scenario's directive.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.slow

ITEMS = 4


def load_matrix() -> ModuleType:
    path = Path(__file__).parents[2] / "bench" / "fault_matrix.py"
    spec = importlib.util.spec_from_file_location("fault_matrix", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fault_matrix"] = module
    spec.loader.exec_module(module)
    return module


def test_every_fault_keeps_every_promise(prefect_server: None, tmp_path: Path) -> None:
    matrix = load_matrix()
    rows = asyncio.run(matrix.run_matrix(ITEMS, root=tmp_path))
    assert len(rows) == len(matrix.SCENARIOS)
    broken = [(row.scenario, row) for row in rows if not row.ok]
    assert not broken, matrix.render(rows, "pytest")
    by_name = {row.scenario: row for row in rows}
    # The job-level faults are reported, not hidden: typed, with ids.
    assert by_name["jobs that fail (moderation)"].reported == {"failed": 1}
    assert by_name["jobs stuck past the deadline"].reported == {"timed_out": 1}
    assert by_name["content expired before download"].reported == {"expired": 1}
    # Transport faults are absorbed: everything stored, nothing paid twice.
    for name in ("connection reset on create", "answer lost after the create was made", "429 with Retry-After"):
        assert by_name[name].stored == ITEMS and by_name[name].creates == ITEMS, by_name[name]
