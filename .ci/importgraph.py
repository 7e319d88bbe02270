"""The import graph of prefect_sora: every module-level import between its modules, and any cycle.

``python .ci/importgraph.py`` prints each module with the modules it imports and
exits 1 if any import cycle exists (tests/core/test_import_graph.py runs the same
check). Imports inside functions and under ``if TYPE_CHECKING:`` are not edges:
they run later or never, so they cannot make a module see a half-imported one.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import importlib.util
import pkgutil
import sys
from pathlib import Path

ROOT = "prefect_sora"


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name, with its source file (found as installed).

    An editable install maps ``prefect_sora.flows`` to ``flows/`` and so on, which a
    walk of ``prefect_sora``'s own folder does not see, so each package is walked
    from its own ``__path__``.
    """
    found: dict[str, Path] = {}
    packages = [ROOT]
    while packages:
        package = importlib.import_module(packages.pop())
        found[package.__name__] = Path(package.__file__ or "")
        for info in pkgutil.iter_modules(package.__path__, f"{package.__name__}."):
            if info.ispkg:
                packages.append(info.name)
                continue
            spec = importlib.util.find_spec(info.name)
            if spec is not None and spec.origin and spec.origin.endswith(".py"):
                found[info.name] = Path(spec.origin)
        for mapped in ("blocks", "flows", "tasks"):  # mapped folders of an editable install
            name = f"{package.__name__}.{mapped}"
            if package.__name__ == ROOT and name not in found and name not in packages:
                with contextlib.suppress(ImportError):
                    importlib.import_module(name)
                    packages.append(name)
    return found


def _top_level(body: list[ast.stmt]) -> list[ast.Import | ast.ImportFrom]:
    imports: list[ast.Import | ast.ImportFrom] = []
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            imports.append(node)
        elif isinstance(node, ast.If):
            test = ast.unparse(node.test)
            if "TYPE_CHECKING" not in test:
                imports += _top_level(node.body) + _top_level(node.orelse)
            else:
                imports += _top_level(node.orelse)
        elif isinstance(node, ast.Try):
            imports += _top_level(node.body)
            for handler in node.handlers:
                imports += _top_level(handler.body)
            imports += _top_level(node.orelse) + _top_level(node.finalbody)
    return imports


def graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports at import time."""
    known = modules()
    edges: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        is_package = path.name == "__init__.py"
        for node in _top_level(ast.parse(path.read_text(), str(path)).body):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    parts = name.split(".")
                    anchor = parts if is_package else parts[:-1]
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                # `from a import b` imports module a.b when there is one, else a.
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
            for target in targets:
                while target and target not in known and "." in target:
                    target = target.rsplit(".", 1)[0]
                if target in known and target != name:
                    edges[name].add(target)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(edges[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def main() -> int:
    edges = graph()
    for name in sorted(edges):
        print(f"{name} -> {', '.join(sorted(edges[name])) or '-'}")
    found = cycles(edges)
    print(f"\n{len(edges)} modules, {sum(map(len, edges.values()))} imports, {len(found)} cycles")
    for component in found:
        print("cycle:", " <-> ".join(component))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
