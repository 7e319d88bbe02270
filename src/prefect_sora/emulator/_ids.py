"""Video and character ids as each gateway spells them: plain hex, or LiteLLM's base64 envelopes.

A LiteLLM proxy wraps the upstream id, with the provider and model it routed to, in
standard base64 (``A-Z a-z 0-9 + /`` with ``=`` padding) behind a ``video_`` prefix, so it
can route a later poll without a lookup table (``litellm/types/videos/utils.py``):

    video_ + b64("litellm:custom_llm_provider:openai;model_id:sora-2;video_id:video_<hex>")

Character ids get the same treatment behind ``character_``. With the emulator's upstream ids
(hex) and model names, the text is plain ASCII without ``>``, ``?`` or ``~``, so the base64
never holds ``+`` or ``/``, but it often ends in ``=``; the routes accept any of the three
percent-encoded all the same.
"""

from __future__ import annotations

import base64
import secrets

from prefect_sora.emulator._profiles import IdStyle

_LITELLM_VIDEO = "litellm:custom_llm_provider:{};model_id:{};video_id:{}"
_LITELLM_CHARACTER = "litellm:custom_llm_provider:{};model_id:{};character_id:{}"
_PROVIDER = "openai"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def new_video_id(style: IdStyle, model: str) -> str:
    """A fresh video id in `style` for a job of `model`."""
    upstream = f"video_{secrets.token_hex(16)}"
    if style == "litellm":
        return "video_" + _b64(_LITELLM_VIDEO.format(_PROVIDER, model, upstream))
    return upstream


def new_character_id(style: IdStyle) -> str:
    """A fresh character id in `style`."""
    upstream = f"char_{secrets.token_hex(12)}"
    if style == "litellm":
        return "character_" + _b64(_LITELLM_CHARACTER.format(_PROVIDER, "", upstream))
    return upstream


def decode_litellm_id(value: str) -> dict[str, str] | None:
    """The parts of a LiteLLM video id (provider, model_id, video_id), None for another id."""
    if not value.startswith("video_"):
        return None
    payload = value[len("video_") :]
    try:
        text = base64.b64decode(payload + "=" * (-len(payload) % 4), validate=True).decode()
    except ValueError:
        return None
    parts = dict(part.split(":", 1) for part in text.removeprefix("litellm:").split(";") if ":" in part)
    if set(parts) != {"custom_llm_provider", "model_id", "video_id"}:
        return None
    return {"provider": parts["custom_llm_provider"], "model_id": parts["model_id"], "video_id": parts["video_id"]}
