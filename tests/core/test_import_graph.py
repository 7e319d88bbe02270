"""No import cycles among the package's modules (the check of ``python .ci/importgraph.py``)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

REPOSITORY = Path(__file__).resolve().parents[2]


def _importgraph() -> ModuleType:
    spec = importlib.util.spec_from_file_location("importgraph", REPOSITORY / ".ci" / "importgraph.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_package_has_no_import_cycles_and_the_graph_sees_every_module() -> None:
    importgraph = _importgraph()
    edges = importgraph.graph()
    sources = [
        p for folder in ("src/prefect_sora", "blocks", "tasks", "flows") for p in (REPOSITORY / folder).rglob("*.py")
    ]

    assert len(edges) == len(sources)  # the walk missed no module (an editable install maps four folders)
    assert (
        "prefect_sora._transport.client" in edges["prefect_sora._transport.waiting"]
    )  # edges are read, not just nodes
    assert importgraph.cycles(edges) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    importgraph = _importgraph()
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}

    assert importgraph.cycles(edges) == [["a", "b", "c"]]
