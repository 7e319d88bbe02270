"""Gateway profiles: which service the emulator impersonates, as config defaults plus fixed traits.

The same Videos API is served by OpenAI (until 2026-09), by relays such as APIYI, by Azure
OpenAI and by LiteLLM proxies, and they differ in small ways a client must survive. A
profile names one of them:

==========  ==============================================================================
profile     traits
==========  ==============================================================================
openai      the official schema: bearer auth; sora-2 720x1280/1280x720, sora-2-pro adds
            1024x1792/1792x1024 (no 1080p); ``model`` defaults to sora-2
apiyi       the gateway reference page (the default, and the emulator's behaviour before
            profiles existed): as openai plus sora-2-pro 1080x1920/1920x1080; ``model``
            required
azure       Azure OpenAI v1 (``{url}/openai/v1``): the ``api-key`` header (a bearer alone
            is a 401), ``model`` is a deployment name (``deployments``, default
            ``{"sora-2": "sora-2"}``; unknown: 404 ``DeploymentNotFound``), 720x1280 and
            1280x720 only, ``max_running_jobs`` 2, content kept 24 h, ``api-version``
            accepted and ignored
litellm     a LiteLLM proxy (1.81.12, as ``tests/litellm/OBSERVED.md`` records it): ids
            ``video_`` + base64 of
            ``litellm:custom_llm_provider:openai;model_id:MODEL;video_id:UPSTREAM_ID``,
            re-encoded with the model part empty in status answers (``echo_id``); no
            listing, delete or remix (``unserved_routes``); a refused retrieve is a 500,
            a refused download a 200 ``video/mp4`` carrying the JSON error, ``variant``
            ignored; ``x-litellm-call-id``, no ``openai-poll-after-ms``
==========  ==============================================================================

Defaults apply to config fields the caller left out; an explicit field always wins
(``EmulatorConfig(profile="azure", max_running_jobs=5)``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

ProfileName = Literal["openai", "apiyi", "azure", "litellm"]
"""The gateways the emulator can impersonate."""

PROFILE_NAMES: tuple[ProfileName, ...] = ("openai", "apiyi", "azure", "litellm")

Auth = Literal["bearer", "api-key"]
IdStyle = Literal["plain", "litellm"]

SORA_2_SIZES = ("720x1280", "1280x720")
SCHEMA_PRO_SIZES = (*SORA_2_SIZES, "1024x1792", "1792x1024")
GATEWAY_PRO_SIZES = (*SCHEMA_PRO_SIZES, "1080x1920", "1920x1080")


def _sizes(pro: tuple[str, ...], *, standard: tuple[str, ...] = SORA_2_SIZES) -> dict[str, tuple[str, ...]]:
    # The dated snapshots of the official schema share their family's sizes.
    return {
        "sora-2": standard,
        "sora-2-2025-10-06": standard,
        "sora-2-2025-12-08": standard,
        "sora-2-pro": pro,
        "sora-2-pro-2025-10-06": pro,
    }


@dataclass(frozen=True, slots=True)
class Profile:
    """What is fixed about one gateway (`defaults` are the config fields it changes)."""

    name: ProfileName
    auth: Auth
    model_sizes: Mapping[str, tuple[str, ...]]
    model_required: bool
    id_style: IdStyle
    api_prefix: str
    defaults: Mapping[str, Any] = field(default_factory=dict)


PROFILES: dict[ProfileName, Profile] = {
    "openai": Profile(
        name="openai",
        auth="bearer",
        model_sizes=_sizes(SCHEMA_PRO_SIZES),
        model_required=False,
        id_style="plain",
        api_prefix="/v1",
    ),
    "apiyi": Profile(
        name="apiyi",
        auth="bearer",
        model_sizes=_sizes(GATEWAY_PRO_SIZES),
        model_required=True,
        id_style="plain",
        api_prefix="/v1",
    ),
    "azure": Profile(
        name="azure",
        auth="api-key",
        model_sizes=_sizes(SORA_2_SIZES, standard=SORA_2_SIZES),
        model_required=True,
        id_style="plain",
        api_prefix="/openai/v1",
        defaults={
            "deployments": {"sora-2": "sora-2"},
            "max_running_jobs": 2,
            "content_ttl_seconds": 86_400.0,
        },
    ),
    "litellm": Profile(
        name="litellm",
        auth="bearer",
        model_sizes=_sizes(SCHEMA_PRO_SIZES),
        model_required=False,
        id_style="litellm",
        api_prefix="/v1",
        defaults={
            "echo_id": "reencoded",
            "unserved_routes": ["list", "delete", "remix"],
            "read_errors_as_500": True,
            "content_errors_as_video": True,
            "ignore_variant": True,
            "request_id_header": "x-litellm-call-id",
            "poll_after_header": False,
        },
    ),
}

DEFAULT_PROFILE: ProfileName = "apiyi"

# Every field some profile sets, with the value it has when no profile sets it.
BASE_DEFAULTS: dict[str, Any] = {
    "deployments": None,
    "max_running_jobs": None,
    "content_ttl_seconds": 3600.0,
    "echo_id": "same",
    "unserved_routes": [],
    "read_errors_as_500": False,
    "content_errors_as_video": False,
    "ignore_variant": False,
    "request_id_header": "x-request-id",
    "poll_after_header": True,
}


def profile_defaults(name: ProfileName) -> dict[str, Any]:
    """The config values profile `name` gives the fields it governs."""
    return {**BASE_DEFAULTS, **PROFILES[name].defaults}
