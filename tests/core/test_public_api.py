"""What users import: ``prefect_sora.__all__`` names the public face, and everything else is private."""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import prefect_sora
from prefect_sora import _errors

REPOSITORY = Path(__file__).resolve().parents[2]


@functools.cache
def _importgraph() -> ModuleType:
    spec = importlib.util.spec_from_file_location("importgraph", REPOSITORY / ".ci" / "importgraph.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("importgraph", module)  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", prefect_sora.__all__)
def test_every_name_in_all_imports_from_the_root(name: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from prefect_sora import {name}", namespace)  # the statement a user writes

    assert namespace[name] is not None
    assert name in dir(prefect_sora)


def test_every_error_class_is_exported_and_sora_error_imports_from_the_root() -> None:
    from prefect_sora import SoraError

    errors = {
        name
        for name, value in vars(_errors).items()
        if inspect.isclass(value) and issubclass(value, Exception) and not name.startswith("_")
    }

    assert SoraError is _errors.SoraError
    assert len(errors) >= 22
    assert errors <= set(prefect_sora.__all__), sorted(errors - set(prefect_sora.__all__))
    assert all(getattr(prefect_sora, name) is getattr(_errors, name) for name in errors)


def test_the_root_holds_every_block_task_flow_and_result_of_the_public_packages() -> None:
    from prefect_sora import blocks, flows, tasks

    for package in (blocks, tasks, flows):
        for name in package.__all__:
            assert name in prefect_sora.__all__, f"{package.__name__}.{name}"
            assert getattr(prefect_sora, name) is getattr(package, name)
    for name in ("SoraClient", "Emulator", "EmulatorConfig", "VideoRequest", "Video", "StoredVideo", "CostEstimate"):
        assert name in prefect_sora.__all__


def test_the_root_takes_each_name_from_the_private_module_that_defines_it() -> None:
    for name, module in prefect_sora._LAZY.items():
        assert any(part.startswith("_") for part in module.split(".")), (name, module)
        value = getattr(importlib.import_module(module), name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert value.__module__ == module, (name, value.__module__)
        elif hasattr(value, "fn"):  # a Prefect task or flow
            assert value.fn.__module__ == module, (name, value.fn.__module__)
    assert set(prefect_sora.__all__) == {*prefect_sora._LAZY, "__version__"}
    assert len(prefect_sora.__all__) == len(set(prefect_sora.__all__))


def test_only_the_public_modules_lack_an_underscore_and_no_module_re_exports_another() -> None:
    importgraph = _importgraph()
    modules = importgraph.modules()

    public = {name for name in modules if not any(part.startswith("_") for part in name.split("."))}
    assert public == set(importgraph.PUBLIC)
    assert importgraph.unexpected_public({*modules, "prefect_sora.tasks.submit"}) == ["prefect_sora.tasks.submit"]
    assert importgraph.reexports() == []


def test_the_re_export_check_finds_a_private_module_listing_a_name_it_imported(tmp_path: Path) -> None:
    importgraph = _importgraph()
    package = tmp_path / "prefect_sora"
    (package / "_inner").mkdir(parents=True)
    (package / "__init__.py").write_text("from prefect_sora._inner import thing\n__all__ = ['thing']\n")
    from_impl = "from prefect_sora._inner._impl import thing\n__all__ = ['thing']\n"
    (package / "_inner" / "__init__.py").write_text(from_impl)
    (package / "_inner" / "_impl.py").write_text("thing = 1\n")
    (package / "_other.py").write_text(from_impl)
    known = {
        "prefect_sora": package / "__init__.py",
        "prefect_sora._inner": package / "_inner" / "__init__.py",
        "prefect_sora._inner._impl": package / "_inner" / "_impl.py",
        "prefect_sora._other": package / "_other.py",
    }
    importgraph.modules.cache_clear()
    real = importgraph.modules
    try:
        importgraph.modules = lambda: known
        found = importgraph.reexports()
    finally:
        importgraph.modules = real

    # A package gathering its own private submodule's name is the pattern; the others are not.
    assert found == [
        "prefect_sora._other re-exports thing from prefect_sora._inner._impl",
    ]


def test_importing_the_root_or_an_error_loads_neither_prefect_nor_the_emulator() -> None:
    probe = (
        "import json, sys; from prefect_sora import SoraError, __version__; "
        "print(json.dumps(sorted(n for n in sys.modules if n.startswith(('prefect', 'PIL', 'httpx')))))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    loaded = set(json.loads(done.stdout))

    assert "prefect_sora._errors" in loaded  # the probe imported what it claims
    assert not {n for n in loaded if n == "prefect" or n.startswith(("prefect.", "prefect_sora.emulator", "PIL"))}
