"""Every input check that runs before any HTTP request, so bad input costs nothing.

The request rules are the gateway reference's: ``seconds`` is the string "4",
"8" or "12"; ``size`` is within the model's tiers; the prompt is 1 to 32,000
characters; the model is known, or given a price by the caller. The connection
rules protect the key: no bearer over plain HTTP to another host, no
credentials in a URL. An id is any string a server may issue (LiteLLM's are
long base64 with ``/``, ``+`` and ``=``), so it is not restricted but encoded:
:func:`id_segment` makes it one URL path segment whatever it holds. Each
refusal is an :class:`~prefect_sora._errors.InvalidParameter` naming the
parameter, the value and what is allowed.
"""

from __future__ import annotations

import base64
import ipaddress
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from prefect_sora._errors import InvalidParameter, UnexpectedResponse
from prefect_sora._models import MAX_PROMPT_CHARS, VIDEO_SECONDS, Video, VideoRequest, VideoSeconds
from prefect_sora._pricing import CostEstimate, PriceTable, estimate, price_table, sizes_for


def normalize_seconds(seconds: Any) -> VideoSeconds:
    """Return ``seconds`` as the string the API requires ("4", "8" or "12").

    The ints 4, 8 and 12 are accepted; anything else (10, "10", 4.0, True) is refused.
    """
    # Convert a copy: the error must show the value as given (10, not '10').
    text = str(seconds) if isinstance(seconds, int) and not isinstance(seconds, bool) else seconds
    if isinstance(text, str) and text in VIDEO_SECONDS:
        return text
    raise InvalidParameter("seconds", seconds, 'must be "4", "8" or "12" (the ints 4, 8, 12 are accepted)')


#: Lengths of an extension segment: the schema's description lists 4 to 20 (its enum only 4, 8, 12).
EXTENSION_SECONDS = ("4", "8", "12", "16", "20")
MAX_CHARACTER_NAME = 80


def normalize_extension_seconds(seconds: Any) -> str:
    """An extension's ``seconds`` as the API's string: "4", "8", "12", "16" or "20" (ints accepted)."""
    text = str(seconds) if isinstance(seconds, int) and not isinstance(seconds, bool) else seconds
    if isinstance(text, str) and text in EXTENSION_SECONDS:
        return text
    raise InvalidParameter("seconds", seconds, 'an extension is "4", "8", "12", "16" or "20" seconds (or the ints)')


def check_character_name(name: Any) -> str:
    """A character's display name: a string of 1 to 80 characters."""
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_CHARACTER_NAME:
        raise InvalidParameter("name", name, f"must be a string of 1 to {MAX_CHARACTER_NAME} characters")
    return name


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


#: Longest id accepted; LiteLLM's base64 ids run to a few hundred characters.
MAX_ID_CHARS = 1024
#: The schema's limit on ``input_reference.image_url`` (a data URL may hold the image itself).
MAX_IMAGE_URL_CHARS = 20 * 1024 * 1024


def price_from_source(
    source: Video,
    *,
    seconds: int | None,
    model: str | None = None,
    size: str | None = None,
    table: PriceTable | None = None,
) -> CostEstimate:
    """The price of a job made from a completed ``source`` (an extension, an edit).

    It is billed at the source's model and tier for ``seconds`` (an edit: the
    source's own length). What the caller passes wins; what the gateway left
    out of the source is never guessed: the job is refused before any create.

    Raises:
        InvalidParameter: a model, size or length neither given nor reported, or
            one the price table refuses.
    """
    table = table if table is not None else price_table()
    length = seconds if seconds is not None else source.duration_seconds
    chosen: dict[str, object] = {"model": model or source.model, "size": size or source.size, "seconds": length}
    for name, value in chosen.items():
        if value is None:
            raise InvalidParameter(
                name,
                None,
                f"the gateway did not report the source video's {name}; "
                f"pass {name}= so the job is priced before it is paid for",
            )
    checked_model = check_model(chosen["model"], table)
    checked_size = check_size(chosen["size"], checked_model, table)
    if isinstance(length, bool) or not isinstance(length, int) or length <= 0:
        raise InvalidParameter("seconds", length, "must be a whole number of seconds > 0")
    return estimate(checked_model, checked_size, length, 1, table)


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


def check_video_id(video_id: Any, *, from_server: bool = False, param: str = "video_id") -> str:
    """Refuse what cannot be an id: not a string, empty, control characters, only dots, too long.

    Anything else is accepted as the server issued it; :func:`id_segment` encodes
    it for a URL path and :func:`prefect_sora._durable.storage.file_name` for a file name.
    """
    if (
        isinstance(video_id, str)
        and 0 < len(video_id) <= MAX_ID_CHARS
        and video_id.isprintable()
        and video_id.strip(". ") != ""
    ):
        return video_id
    if from_server:
        raise UnexpectedResponse(f"The server returned an unsafe video id {video_id!r:.80}")
    raise InvalidParameter(
        param,
        video_id,
        f"must be the id a server issued: 1 to {MAX_ID_CHARS} printable characters, not only dots",
    )


def litellm_route(video_id: str) -> dict[str, str] | None:
    """The routing fields a LiteLLM proxy packs into its ids, or None for any other id.

    LiteLLM names a job ``video_`` + base64 of
    ``litellm:custom_llm_provider:P;model_id:M;video_id:UPSTREAM``.
    """
    if not video_id.startswith("video_"):
        return None
    encoded = video_id.removeprefix("video_")
    try:
        text = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    if not text.startswith("litellm:"):
        return None
    fields = dict(part.split(":", 1) for part in text.removeprefix("litellm:").split(";") if ":" in part)
    return fields if "video_id" in fields else None


def check_remix_source(video_id: str) -> str:
    """Refuse, before any request, a remix a LiteLLM proxy cannot carry out.

    Seen with litellm[proxy] 1.81.12: the proxy sends a remix upstream with its own
    environment key instead of the deployment's (a 500 here) and the new job's id
    names no model, so it could not be polled. Paying for a job that cannot be
    collected is worse than refusing.
    """
    if litellm_route(video_id) is not None:
        raise InvalidParameter(
            "video_id",
            video_id,
            "is a LiteLLM proxy's video, and the gateway does not support remix "
            "(LiteLLM sends it with the proxy's own key and cannot route the new job); "
            "remix it at the upstream service directly",
        )
    return video_id


def id_segment(video_id: Any, *, param: str = "video_id") -> str:
    """``video_id`` checked and percent-encoded as one URL path segment (``/`` becomes ``%2F``)."""
    return quote(check_video_id(video_id, param=param), safe="")


_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,100}")
#: Headers the client sets itself: the credentials (``api_key`` + ``auth_header``) and the framing.
RESERVED_HEADERS = frozenset(
    {"authorization", "api-key", "host", "content-length", "content-type", "transfer-encoding", "connection"}
)


def check_gateway_headers(headers: Mapping[str, Any]) -> dict[str, str]:
    """Refuse extra headers that are not valid HTTP or that would replace the client's own.

    Values are never shown in a refusal: they may be secrets.
    """
    checked: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            raise InvalidParameter("extra_headers", name, "a header name is letters, digits and -_.!#$%&'*+^`|~")
        if name.lower() in RESERVED_HEADERS:
            raise InvalidParameter(
                "extra_headers", name, "is set by the client; put the key in api_key and choose auth_header"
            )
        if not isinstance(value, str) or any(ch in value for ch in "\r\n\x00"):
            raise InvalidParameter("extra_headers", name, "its value must be a string on one line")
        checked[name] = value
    return checked


def check_image_reference(image_url: Any, file_id: Any) -> None:
    """An ``input_reference`` given as JSON: exactly one of an http(s) or data: URL, or a file id."""
    if (image_url is None) == (file_id is None):
        raise InvalidParameter("input_reference", "<ImageReference>", "give exactly one of image_url or file_id")
    if image_url is not None:
        if not isinstance(image_url, str) or len(image_url) > MAX_IMAGE_URL_CHARS:
            raise InvalidParameter("input_reference.image_url", image_url, "must be a URL of at most 20 MiB")
        if image_url.startswith("data:"):
            if not re.match(r"data:image/(png|jpeg|webp);base64,", image_url):
                raise InvalidParameter(
                    "input_reference.image_url", image_url, "a data URL must be a base64 PNG, JPEG or WebP image"
                )
        else:
            url = httpx.URL(image_url) if image_url.isprintable() else None
            if url is None or url.scheme not in ("http", "https") or not url.host or url.userinfo:
                raise InvalidParameter(
                    "input_reference.image_url", image_url, "must be an http(s) URL without credentials, or a data: URL"
                )
    if file_id is not None and (not isinstance(file_id, str) or not file_id.strip() or not file_id.isprintable()):
        raise InvalidParameter("input_reference.file_id", file_id, "must be the id of an uploaded file, e.g. file-123")


_IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}")


def check_idempotency_key(key: str) -> str:
    """Refuse an idempotency key that could not be a folder name (the journal's)."""
    if not isinstance(key, str) or not _IDEMPOTENCY_KEY.fullmatch(key):
        raise InvalidParameter("idempotency_key", key, "use 1-128 letters, digits, '.', '_' or '-'")
    return key


def check_pacing(*, requests_per_minute: int | None, max_running_jobs: int | None, rate_limit_name: str | None) -> None:
    """Refuse a non-positive rate or cap, or an unusable limit name, before any request.

    Raises:
        InvalidParameter: naming the setting, the value and what is allowed.
    """
    for name, value in (("requests_per_minute", requests_per_minute), ("max_running_jobs", max_running_jobs)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise InvalidParameter(name, value, "must be a whole number of at least 1, or None for no limit")
    if rate_limit_name is not None and (
        not rate_limit_name.strip() or len(rate_limit_name) > 200 or set(rate_limit_name) & set("/%&><")
    ):
        raise InvalidParameter(
            "rate_limit_name",
            rate_limit_name,
            "must be the name of a Prefect global concurrency limit (not empty, none of / % & > <)",
        )
