"""The layout's rules hold (the checks of ``python .ci/importgraph.py``): direction, no cycles."""

from __future__ import annotations

import functools
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]
SCRIPT = REPOSITORY / ".ci" / "importgraph.py"


@functools.cache  # one load, one walk of the package
def _importgraph() -> ModuleType:
    spec = importlib.util.spec_from_file_location("importgraph", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("importgraph", module)  # its dataclasses look their module up there
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


def test_no_import_anywhere_goes_against_the_direction() -> None:
    importgraph = _importgraph()
    every = importgraph.graph(every_import=True)

    # Late imports are edges here: the CLI imports the client inside a function.
    assert every["prefect_sora.cli._video"] - importgraph.graph()["prefect_sora.cli._video"]
    assert importgraph.violations(every) == []


def test_each_rule_reports_an_edge_that_breaks_it_and_passes_the_allowed_ones() -> None:
    importgraph = _importgraph()
    edges = {
        "prefect_sora._transport.client": {"prefect_sora.flows._steps", "prefect_sora._models"},
        "prefect_sora._errors": {"prefect_sora.emulator"},
        "prefect_sora.emulator._app": {"prefect_sora._transport.retries", "prefect_sora._images"},
        "prefect_sora.tasks._submit": {"prefect_sora.flows", "prefect_sora.blocks._credentials"},
        "prefect_sora.blocks._credentials": {"prefect_sora.tasks._dispatch", "prefect_sora._transport.client"},
        "prefect_sora.flows._steps": {"prefect_sora.tasks", "prefect_sora.blocks"},  # flows may use both
        "prefect_sora.cli._run": {"prefect_sora.flows", "prefect_sora.emulator"},  # so may the CLI
    }

    assert importgraph.violations(edges) == [
        "prefect_sora._errors -> prefect_sora.emulator (prefect_sora._* never imports prefect_sora.emulator)",
        "prefect_sora._transport.client -> prefect_sora.flows._steps "
        "(prefect_sora._* never imports prefect_sora.flows._steps)",
        "prefect_sora.blocks._credentials -> prefect_sora.tasks._dispatch "
        "(prefect_sora.blocks never imports prefect_sora.tasks._dispatch)",
        "prefect_sora.emulator._app -> prefect_sora._transport.retries "
        "(prefect_sora.emulator never imports prefect_sora._transport.retries)",
        "prefect_sora.tasks._submit -> prefect_sora.flows (prefect_sora.tasks never imports prefect_sora.flows)",
    ]


def test_the_script_prints_the_rules_and_exits_1_on_a_violation(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    importgraph = _importgraph()
    assert importgraph.main() == 0
    passing = capsys.readouterr().out
    assert "prefect_sora._* never imports prefect_sora.tasks, prefect_sora.flows" in passing
    assert "prefect_sora.emulator never imports prefect_sora._transport" in passing

    real = importgraph.graph

    def with_a_bad_edge(*, every_import: bool = False) -> dict[str, set[str]]:
        return {**real(every_import=every_import), "prefect_sora._pricing": {"prefect_sora.tasks._estimate"}}

    monkeypatch.setattr(importgraph, "graph", with_a_bad_edge)
    assert importgraph.main() == 1
    assert "against the direction: prefect_sora._pricing -> prefect_sora.tasks._estimate" in capsys.readouterr().out
