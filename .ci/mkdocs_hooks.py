"""MkDocs hook: lay out the package as it is installed, so mkdocstrings finds every layer.

pyproject maps ``prefect_sora.blocks``, ``.tasks`` and ``.flows`` onto top-level folders.
Griffe (mkdocstrings' loader) reads packages from the filesystem and cannot follow that
mapping through the editable install, so, as ``.ci/typecheck`` does for mypy, this builds
a tree of symlinks with the installed shape under ``build/docs-api`` (git-ignored) before
any page is rendered; ``mkdocs.yml`` points mkdocstrings at it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mkdocs.plugins import event_priority

TREE = Path("build") / "docs-api"
LAYERS = ("blocks", "tasks", "flows")


# Before mkdocstrings' own on_config, which sets up its loader with the paths that exist then.
@event_priority(100)
def on_config(config: Any, **kwargs: Any) -> Any:
    root = Path(config.config_file_path).resolve().parent
    package = root / TREE / "prefect_sora"
    package.mkdir(parents=True, exist_ok=True)
    wanted = {entry.name: entry for entry in (root / "src" / "prefect_sora").iterdir()}
    wanted.update({layer: root / layer for layer in LAYERS})
    for link in package.iterdir():
        # A module renamed or removed since the last build must not linger.
        if link.name not in wanted or os.readlink(link) != str(wanted[link.name]):
            link.unlink()
    for name, target in wanted.items():
        if not (package / name).is_symlink():
            (package / name).symlink_to(target)
    return config
