"""The import graph of prefect_sora, and the rules its layout keeps: direction, no cycles, a curated face.

``python .ci/importgraph.py`` prints the rules, each module with the modules it
imports, and every breach; it exits 1 on any (tests/core/test_import_graph.py and
tests/core/test_public_api.py run the same checks). The checks:

* **Direction** (:data:`RULES`): the core (``prefect_sora._*``: client, pacing,
  durable storage, errors, models, prices) never imports what a Prefect user
  touches (tasks, flows, blocks, the CLI) nor the emulator; the emulator never
  imports the client it stands in front of, nor tasks, flows, blocks or the CLI;
  tasks never import flows or the CLI; blocks never import tasks, flows or the
  CLI. Every import counts here, also one inside a function or under
  ``if TYPE_CHECKING:``: a late import is still a dependency.
* **No cycles** among module-level imports. Imports inside functions and under
  ``if TYPE_CHECKING:`` are not edges for this one: they run later or never, so
  they cannot make a module see a half-imported one.
* **Private insides** (:data:`PUBLIC`): every other module has a leading
  underscore in its dotted name, and a module's ``__all__`` re-exports only what a
  public package gathers from its own private submodules.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import importlib
import importlib.util
import pkgutil
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = "prefect_sora"

#: The modules a user may import; every other one is private.
PUBLIC = frozenset(
    {
        ROOT,
        f"{ROOT}.blocks",
        f"{ROOT}.tasks",
        f"{ROOT}.flows",
        f"{ROOT}.emulator",
        f"{ROOT}.emulator.pytest_plugin",
        f"{ROOT}.cli",
    }
)


@dataclass(frozen=True)
class Rule:
    """Modules under ``source`` never import a module under any of ``forbidden``."""

    source: str
    forbidden: tuple[str, ...]
    why: str

    def covers(self, module: str) -> bool:
        if self.source == f"{ROOT}._*":  # the core: every private top-level module or package
            parts = module.split(".")
            return len(parts) > 1 and parts[0] == ROOT and parts[1].startswith("_")
        return _under(module, self.source)

    def breaks(self, target: str) -> bool:
        return any(_under(target, prefix) for prefix in self.forbidden)

    def __str__(self) -> str:
        return f"{self.source} never imports {', '.join(self.forbidden)}: {self.why}"


_USER_FACING = (f"{ROOT}.tasks", f"{ROOT}.flows", f"{ROOT}.blocks", f"{ROOT}.cli")
RULES = (
    Rule(
        f"{ROOT}._*",
        (*_USER_FACING, f"{ROOT}.emulator"),
        "the API layer sits beneath what a Prefect user touches, and runs without the emulator",
    ),
    Rule(
        f"{ROOT}.emulator",
        (f"{ROOT}._transport", *_USER_FACING),
        "it stands in for the service, so it shares no code with the client it tests",
    ),
    Rule(f"{ROOT}.tasks", (f"{ROOT}.flows", f"{ROOT}.cli"), "flows are composed of tasks, not the other way"),
    Rule(f"{ROOT}.blocks", (f"{ROOT}.tasks", f"{ROOT}.flows", f"{ROOT}.cli"), "a block only builds a client"),
)


def _under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(f"{prefix}.")


@functools.cache  # one walk per process: every check reads the same package
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


@functools.cache
def _body(path: Path) -> list[ast.stmt]:
    return ast.parse(path.read_text(), str(path)).body


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


def _every_import(body: list[ast.stmt]) -> list[ast.Import | ast.ImportFrom]:
    return [node for statement in body for node in ast.walk(statement) if isinstance(node, ast.Import | ast.ImportFrom)]


def graph(*, every_import: bool = False) -> dict[str, set[str]]:
    """Module -> the package's modules it imports at import time (or anywhere, with ``every_import``)."""
    known = modules()
    edges: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        is_package = path.name == "__init__.py"
        body = _body(path)
        for node in _every_import(body) if every_import else _top_level(body):
            edges[name].update(_targets(node, name, is_package, known))
    return edges


def _targets(node: ast.Import | ast.ImportFrom, name: str, is_package: bool, known: dict[str, Path]) -> set[str]:
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
    found = set()
    for target in targets:
        while target and target not in known and "." in target:
            target = target.rsplit(".", 1)[0]
        if target in known and target != name:
            found.add(target)
    return found


def violations(edges: dict[str, set[str]], rules: tuple[Rule, ...] = RULES) -> list[str]:
    """Every import that goes against a rule, as ``importer -> imported (rule)``."""
    return [
        f"{name} -> {target} ({rule.source} never imports {target})"
        for name in sorted(edges)
        for target in sorted(edges[name])
        for rule in rules
        if rule.covers(name) and rule.breaks(target)
    ]


def unexpected_public(names: set[str] | dict[str, Path]) -> list[str]:
    """Modules outside :data:`PUBLIC` whose dotted name has no leading-underscore part."""
    return sorted(n for n in names if n not in PUBLIC and not any(p.startswith("_") for p in n.split(".")))


def reexports() -> list[str]:
    """Names a module's ``__all__`` takes from another module, except a package's own insides.

    ``prefect_sora.tasks`` gathering ``submit_video`` from ``prefect_sora.tasks._submit``
    is the pattern; a module listing a name it imported from anywhere else gives
    one object two homes.
    """
    known = modules()
    found = []
    for name, path in sorted(known.items()):
        is_package = path.name == "__init__.py"
        body = _body(path)
        exported = _dunder_all(body)
        for node in _top_level(body):
            if not isinstance(node, ast.ImportFrom):
                continue
            for alias in node.names:
                local = alias.asname or alias.name
                if local not in exported:
                    continue
                for source in _targets(node, name, is_package, known) or {node.module or "?"}:
                    # Only a package may gather names, and only from its own private submodules.
                    if not (is_package and _own_private(source, name)):
                        found.append(f"{name} re-exports {local} from {source}")
    return found


def _own_private(source: str, package: str) -> bool:
    return source.startswith(f"{package}.") and source[len(package) + 1 :].startswith("_")


def _dunder_all(body: list[ast.stmt]) -> set[str]:
    for node in body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            with contextlib.suppress(ValueError):
                return set(ast.literal_eval(node.value))
    return set()


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
    print("Rules:")
    for rule in RULES:
        print(f"  {rule}")
    print(f"  public modules are only {', '.join(sorted(PUBLIC))}; every other name has a leading underscore")
    print("  no module re-exports another's names (a package gathers its own private submodules')")
    print("  no import cycles among module-level imports\n")
    edges = graph()
    for name in sorted(edges):
        print(f"{name} -> {', '.join(sorted(edges[name])) or '-'}")
    found = cycles(edges)
    broken = violations(graph(every_import=True))
    public = unexpected_public(edges.keys())
    doubled = reexports()
    print(
        f"\n{len(edges)} modules, {sum(map(len, edges.values()))} imports, {len(found)} cycles, "
        f"{len(broken)} imports against the direction, {len(public)} unexpected public modules, "
        f"{len(doubled)} re-exports"
    )
    for component in found:
        print("cycle:", " <-> ".join(component))
    for line in broken:
        print("against the direction:", line)
    for module in public:
        print("public but not meant to be:", module)
    for line in doubled:
        print("re-export:", line)
    return 1 if found or broken or public or doubled else 0


if __name__ == "__main__":
    sys.exit(main())
