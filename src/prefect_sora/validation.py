"""Every input check that runs before any HTTP request, so bad input costs nothing.

The request rules are the gateway reference's: ``seconds`` is the string "4",
"8" or "12"; ``size`` is within the model's tiers; the prompt is 1 to 32,000
characters; the model is known, or given a price by the caller. The connection
rules protect the key: no bearer over plain HTTP to another host, no
credentials in a URL, no id that could escape its path segment. Each refusal is
an :class:`~prefect_sora.errors.InvalidParameter` naming the parameter, the
value and what is allowed.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import httpx

from prefect_sora.errors import InvalidParameter, UnexpectedResponse
from prefect_sora.models import MAX_PROMPT_CHARS, VIDEO_SECONDS, VideoRequest, VideoSeconds
from prefect_sora.pricing import PriceTable, price_table, sizes_for


def normalize_seconds(seconds: Any) -> VideoSeconds:
    """Return ``seconds`` as the string the API requires ("4", "8" or "12").

    The ints 4, 8 and 12 are accepted; anything else (10, "10", 4.0, True) is refused.
    """
    # Convert a copy: the error must show the value as given (10, not '10').
    text = str(seconds) if isinstance(seconds, int) and not isinstance(seconds, bool) else seconds
    if isinstance(text, str) and text in VIDEO_SECONDS:
        return text
    raise InvalidParameter("seconds", seconds, 'must be "4", "8" or "12" (the ints 4, 8, 12 are accepted)')


def check_prompt(prompt: Any) -> str:
    """Refuse a prompt that is not a string of 1 to 32,000 characters."""
    if not isinstance(prompt, str):
        raise InvalidParameter("prompt", prompt, "must be a string")
    if not prompt.strip():
        raise InvalidParameter("prompt", prompt, "must not be empty")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise InvalidParameter(
            "prompt",
            prompt,
            f"must be at most {MAX_PROMPT_CHARS:,} characters, not {len(prompt):,}",
        )
    return prompt


def check_model(model: Any, table: PriceTable) -> str:
    """Refuse a model that has no price (list price or the caller's override)."""
    if not isinstance(model, str) or model not in table:
        known = ", ".join(sorted(table))
        raise InvalidParameter("model", model, f"known models are {known}; give another model a price to allow it")
    return model


def check_size(size: Any, model: str, table: PriceTable) -> str:
    """Refuse a size outside the tiers ``model`` accepts."""
    allowed = sizes_for(model, table)
    if not isinstance(size, str) or size not in allowed:
        raise InvalidParameter("size", size, f"{model} accepts {', '.join(allowed)}")
    return size


def validate_request(
    *,
    prompt: Any,
    model: Any = "sora-2",
    seconds: Any = "4",
    size: Any = "720x1280",
    table: PriceTable | None = None,
) -> VideoRequest:
    """Check every parameter of a create request and return it normalized.

    Args:
        prompt: The prompt.
        model: The model id.
        seconds: "4", "8", "12" or the ints 4, 8, 12.
        size: ``WIDTHxHEIGHT``.
        table: The effective price table (list prices when None).

    Returns:
        The request, with ``seconds`` as the API's string.

    Raises:
        InvalidParameter: the first parameter that breaks a rule.
    """
    table = table if table is not None else price_table()
    checked_model = check_model(model, table)
    return VideoRequest.model_construct(
        prompt=check_prompt(prompt),
        model=checked_model,
        seconds=normalize_seconds(seconds),
        size=check_size(size, checked_model, table),
    )


_SAFE_ID = re.compile(r"[A-Za-z0-9_\-.:]{1,256}")


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses, where plain HTTP is acceptable."""
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base_url(base_url: str, *, allow_insecure_http: bool = False) -> str:
    """Refuse base URLs that would send the bearer in clear text or nowhere sensible.

    Returns:
        The URL without a trailing slash.

    Raises:
        InvalidParameter: not http(s), no host, or ``http://`` to a non-loopback host
            without ``allow_insecure_http``.
    """
    url = httpx.URL(base_url)
    if url.scheme not in ("http", "https") or not url.host:
        raise InvalidParameter("base_url", base_url, "must be an http(s) URL such as https://api.example.com/v1")
    if url.scheme == "http" and not allow_insecure_http and not is_loopback(url.host):
        raise InvalidParameter(
            "base_url",
            base_url,
            "must use https unless the host is loopback (set allow_insecure_http to override)",
        )
    if url.userinfo:
        raise InvalidParameter("base_url", "<redacted>", "must not carry credentials; put the key in api_key")
    return base_url.rstrip("/")


def check_video_id(video_id: str, *, from_server: bool = False) -> str:
    """Refuse an id that could escape its URL path segment (``/``, ``..``, odd characters)."""
    if isinstance(video_id, str) and _SAFE_ID.fullmatch(video_id) and video_id.strip(".") != "":
        return video_id
    if from_server:
        raise UnexpectedResponse(f"The server returned an unsafe video id {video_id!r:.80}")
    raise InvalidParameter(
        "video_id",
        video_id,
        "must be letters, digits, '_', '-', '.', ':' (as the service issues them)",
    )
