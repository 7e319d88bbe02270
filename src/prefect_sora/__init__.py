"""prefect-sora: the Prefect integration for the Sora 2 text-to-video API.

Everything a user imports is named here: the credentials block, every task and
flow, the request and result models, every error, the client and the emulator.
Every other module is private (a leading underscore, or inside ``_transport``,
``_pacing``, ``_durable``). The public subpackages ``prefect_sora.blocks``,
``.tasks``, ``.flows`` and ``.emulator`` hold the same objects, grouped.

The names load on first use, so ``import prefect_sora.tasks`` pulls in neither
the emulator nor any media code.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from prefect_sora import _errors
from prefect_sora._version import __version__

# Each name -> the private module that defines it: the root re-exports the
# insides, never another public module's names.
_LAZY: dict[str, str] = {
    # the block
    "SoraCredentials": "prefect_sora.blocks._credentials",
    "SoraStorage": "prefect_sora.blocks._storage",
    # tasks
    "estimate_cost": "prefect_sora.tasks._estimate",
    "submit_video": "prefect_sora.tasks._submit",
    "submit_remix": "prefect_sora.tasks._submit",
    "submit_extension": "prefect_sora.tasks._extend",
    "submit_edit": "prefect_sora.tasks._extend",
    "await_video": "prefect_sora.tasks._wait",
    "fetch_video": "prefect_sora.tasks._fetch",
    "create_character": "prefect_sora.tasks._characters",
    "retrieve_character": "prefect_sora.tasks._characters",
    # flows
    "text_to_video": "prefect_sora.flows._text_to_video",
    "batch_text_to_video": "prefect_sora.flows._batch",
    "image_to_video": "prefect_sora.flows._image_to_video",
    "remix_video": "prefect_sora.flows._remix",
    "publish_video": "prefect_sora.flows._publish",
    "sora_watcher": "prefect_sora.flows._watcher",
    # results of the flows
    "VideoResult": "prefect_sora.flows._results",
    "BatchResult": "prefect_sora.flows._results",
    "ItemStatus": "prefect_sora.flows._results",
    # the API's objects and what a request is made of
    "VideoRequest": "prefect_sora._models",
    "Video": "prefect_sora._models",
    "VideoError": "prefect_sora._models",
    "VideoList": "prefect_sora._models",
    "DeletedVideo": "prefect_sora._models",
    "StoredVideo": "prefect_sora._models",
    "Character": "prefect_sora._models",
    "ImageReference": "prefect_sora._models",
    "ImageUpload": "prefect_sora._models",
    "VideoModel": "prefect_sora._models",
    "VideoSeconds": "prefect_sora._models",
    "VideoSize": "prefect_sora._models",
    "VideoStatus": "prefect_sora._models",
    "VideoVariant": "prefect_sora._models",
    # money
    "CostEstimate": "prefect_sora._pricing",
    "PriceOverrides": "prefect_sora._pricing",
    # the client and the emulator
    "SoraClient": "prefect_sora._transport.client",
    "Emulator": "prefect_sora.emulator._server",
    "EmulatorConfig": "prefect_sora.emulator._config",
    # every error
    **dict.fromkeys(_errors.__all__, "prefect_sora._errors"),
}

if TYPE_CHECKING:
    from prefect_sora._errors import *  # noqa: F403  (every error, as listed in its __all__)
    from prefect_sora._models import (
        Character,
        DeletedVideo,
        ImageReference,
        ImageUpload,
        StoredVideo,
        Video,
        VideoError,
        VideoList,
        VideoModel,
        VideoRequest,
        VideoSeconds,
        VideoSize,
        VideoStatus,
        VideoVariant,
    )
    from prefect_sora._pricing import CostEstimate, PriceOverrides
    from prefect_sora._transport.client import SoraClient
    from prefect_sora.blocks._credentials import SoraCredentials
    from prefect_sora.blocks._storage import SoraStorage
    from prefect_sora.emulator._config import EmulatorConfig
    from prefect_sora.emulator._server import Emulator
    from prefect_sora.flows._batch import batch_text_to_video
    from prefect_sora.flows._image_to_video import image_to_video
    from prefect_sora.flows._publish import publish_video
    from prefect_sora.flows._remix import remix_video
    from prefect_sora.flows._results import BatchResult, ItemStatus, VideoResult
    from prefect_sora.flows._text_to_video import text_to_video
    from prefect_sora.flows._watcher import sora_watcher
    from prefect_sora.tasks._characters import create_character, retrieve_character
    from prefect_sora.tasks._estimate import estimate_cost
    from prefect_sora.tasks._extend import submit_edit, submit_extension
    from prefect_sora.tasks._fetch import fetch_video
    from prefect_sora.tasks._submit import submit_remix, submit_video
    from prefect_sora.tasks._wait import await_video


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value  # loaded once: later look-ups skip this hook
        return value
    raise AttributeError(f"module 'prefect_sora' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "BatchResult",
    "Character",
    "CostEstimate",
    "DeletedVideo",
    "Emulator",
    "EmulatorConfig",
    "ImageReference",
    "ImageUpload",
    "ItemStatus",
    "PriceOverrides",
    "SoraClient",
    "SoraCredentials",
    "SoraStorage",
    "StoredVideo",
    "Video",
    "VideoError",
    "VideoList",
    "VideoModel",
    "VideoRequest",
    "VideoResult",
    "VideoSeconds",
    "VideoSize",
    "VideoStatus",
    "VideoVariant",
    "__version__",
    "await_video",
    "batch_text_to_video",
    "create_character",
    "estimate_cost",
    "fetch_video",
    "image_to_video",
    "publish_video",
    "remix_video",
    "retrieve_character",
    "sora_watcher",
    "submit_edit",
    "submit_extension",
    "submit_remix",
    "submit_video",
    "text_to_video",
]
# Every error, so that a new one cannot be left out.
__all__ += _errors.__all__
