"""prefect-sora: the Prefect integration for the Sora 2 text-to-video API.

The names below load on first use, so ``import prefect_sora.tasks`` pulls in
neither the emulator nor any media code.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from prefect_sora._version import __version__

_LAZY = {
    "SoraCredentials": "prefect_sora.blocks",
    "SoraClient": "prefect_sora._transport.client",
    "Emulator": "prefect_sora.emulator",
    "EmulatorConfig": "prefect_sora.emulator",
    "estimate_cost": "prefect_sora.tasks",
    "submit_video": "prefect_sora.tasks",
    "await_video": "prefect_sora.tasks",
    "fetch_video": "prefect_sora.tasks",
}

if TYPE_CHECKING:
    from prefect_sora._transport.client import SoraClient
    from prefect_sora.blocks import SoraCredentials
    from prefect_sora.emulator import Emulator, EmulatorConfig
    from prefect_sora.tasks import await_video, estimate_cost, fetch_video, submit_video


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'prefect_sora' has no attribute {name!r}")


__all__ = [
    "Emulator",
    "EmulatorConfig",
    "SoraClient",
    "SoraCredentials",
    "__version__",
    "await_video",
    "estimate_cost",
    "fetch_video",
    "submit_video",
]
