"""The server's own validation of a create request, written from the gateway reference and nothing else.

It plays the server, so it shares no code with the project's client-side checks: if the
client's validation drifts from the contract, tests against the emulator catch it. The
rules (all answered with 400 and the error envelope):

- `prompt` is required, 1 to 32,000 characters; `model` is required (the apiyi and azure
  profiles) or defaults to sora-2 (openai, litellm), and is sora-2 or sora-2-pro (or one
  of their dated snapshots from the official schema). With `deployments` (Azure), `model`
  names a deployment instead: an unknown one is a 404 `DeploymentNotFound`.
- `seconds` is the *string* "4", "8" or "12" (default "4"); the JSON integer 4 is refused.
- `size` is one of the model's tiers in the profile (default 720x1280): sora-2 has 720x1280
  and 1280x720, sora-2-pro adds 1024x1792 and 1792x1024, and on the apiyi profile
  1080x1920 and 1920x1080 (Azure: 720x1280 and 1280x720 only).
- `input_reference` is an uploaded JPEG/PNG/WebP image (multipart) or an object with
  exactly one of `image_url` / `file_id` (JSON, bracketed multipart fields as the SDK sends
  them, or a JSON object string); images (uploaded or `data:` URLs) must match `size`;
  http(s) URLs are accepted unfetched.
- Unknown body fields are refused, as the real API does, so a misspelt field is not
  silently dropped.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from prefect_sora.emulator._errors import APIError, invalid
from prefect_sora.emulator._multipart import UploadedFile
from prefect_sora.emulator._profiles import PROFILES

MODEL_SIZES = PROFILES["apiyi"].model_sizes
SECONDS = ("4", "8", "12")
DEFAULT_SECONDS = "4"
DEFAULT_SIZE = "720x1280"
MAX_PROMPT_CHARS = 32_000
IMAGE_FORMATS = ("png", "jpeg", "webp")

CREATE_FIELDS = frozenset({"model", "prompt", "seconds", "size", "input_reference"})

ImageInspector = Callable[[bytes], tuple[str, int, int] | None]
"""Reads an image's (format, width, height), or None when the bytes are not an image."""

ReferenceKind = Literal["upload", "image_url", "file_id"]


@dataclass(frozen=True, slots=True)
class ModelRules:
    """What a profile (and the config's `deployments`) allows as `model` and `size`."""

    sizes: Mapping[str, tuple[str, ...]]
    model_required: bool = True
    deployments: Mapping[str, str] | None = None


DEPLOYMENT_NOT_FOUND = (
    "The API deployment for this resource does not exist. If you created the deployment "
    "within the last 5 minutes, please wait a moment and try again."
)


@dataclass(frozen=True, slots=True)
class CreateRequest:
    """A create request that passed validation."""

    model: str
    prompt: str
    seconds: str
    size: str
    quality: str
    reference: ReferenceKind | None = None


def quality_of(model: str) -> str:
    """The quality tier the API reports: "high" for the pro family, else "standard"."""
    return "high" if model.startswith("sora-2-pro") else "standard"


def type_name(value: object) -> str:
    """How a refusal names the type of a value the client sent."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, UploadedFile):
        return "a file"
    if value is None:
        return "null"
    return f"a {type(value).__name__}"


def reject_unknown(fields: Mapping[str, object], allowed: frozenset[str]) -> None:
    for name in fields:
        if name not in allowed:
            raise invalid(f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter")


def validate_prompt(fields: Mapping[str, object]) -> str:
    """The prompt, required, a string of 1 to 32,000 characters."""
    if "prompt" not in fields:
        raise invalid(
            "Missing required parameter: 'prompt'.",
            param="prompt",
            code="missing_required_parameter",
        )
    prompt = fields["prompt"]
    if not isinstance(prompt, str):
        raise invalid(
            f"Invalid type for 'prompt': expected a string, but got {type_name(prompt)}.",
            param="prompt",
            code="invalid_type",
        )
    if len(prompt) < 1:
        raise invalid(
            "Invalid 'prompt': string too short. Expected a string with minimum length 1, "
            "but got an empty string instead.",
            param="prompt",
            code="string_below_min_length",
        )
    if len(prompt) > MAX_PROMPT_CHARS:
        raise invalid(
            f"Invalid 'prompt': string too long. Expected a string with maximum length "
            f"{MAX_PROMPT_CHARS}, but got a string with length {len(prompt)} instead.",
            param="prompt",
            code="string_above_max_length",
        )
    return prompt


def _string_choice(fields: Mapping[str, object], name: str, choices: tuple[str, ...], default: str) -> str:
    value = fields.get(name, default)
    listed = ", ".join(f"'{choice}'" for choice in choices)
    if not isinstance(value, str):
        raise invalid(
            f"Invalid type for '{name}': expected one of {listed} as a string, but got {type_name(value)}.",
            param=name,
            code="invalid_type",
        )
    if value not in choices:
        raise invalid(
            f"Invalid value for '{name}': '{value}'. Supported values are: {listed}.",
            param=name,
            code="invalid_value",
        )
    return value


def _model(fields: Mapping[str, object], rules: ModelRules) -> tuple[str, str]:
    """The model as sent (a deployment name on Azure) and the model it stands for."""
    if "model" not in fields:
        if rules.model_required:
            raise invalid("Missing required parameter: 'model'.", param="model", code="missing_required_parameter")
        return "sora-2", "sora-2"
    model = fields["model"]
    if not isinstance(model, str):
        raise invalid(
            f"Invalid type for 'model': expected a string, but got {type_name(model)}.",
            param="model",
            code="invalid_type",
        )
    target = model
    if rules.deployments is not None:
        found = rules.deployments.get(model)
        if found is None:
            raise APIError(404, DEPLOYMENT_NOT_FOUND, param="model", code="DeploymentNotFound", shape="azure")
        target = found
    if target not in rules.sizes:
        raise invalid(
            f"Invalid value for 'model': '{model}'. Supported models are: 'sora-2', 'sora-2-pro'.",
            param="model",
            code="invalid_model",
        )
    return model, target


def validate_create(
    fields: Mapping[str, object], *, inspect_image: ImageInspector, rules: ModelRules | None = None
) -> CreateRequest:
    """Check a create request's fields against the contract (`rules`: the apiyi profile's by default).

    Raises:
        APIError: 400 naming the first offending parameter (404 for an unknown deployment).
    """
    rules = rules or ModelRules(sizes=MODEL_SIZES)
    reject_unknown(fields, CREATE_FIELDS)
    model, target = _model(fields, rules)
    prompt = validate_prompt(fields)
    seconds = _string_choice(fields, "seconds", SECONDS, DEFAULT_SECONDS)
    size = _string_choice(fields, "size", rules.sizes[target], DEFAULT_SIZE)
    reference = _validate_reference(fields.get("input_reference"), size, inspect_image)
    return CreateRequest(
        model=model,
        prompt=prompt,
        seconds=seconds,
        size=size,
        quality=quality_of(target),
        reference=reference,
    )


def json_object(value: object) -> object:
    """`value`, or the object a JSON object string in it holds (multipart sends objects as text)."""
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _check_image(data: bytes, size: str, inspect_image: ImageInspector) -> None:
    info = inspect_image(data)
    if info is None or info[0] not in IMAGE_FORMATS:
        raise invalid(
            "Invalid 'input_reference': the image must be a JPEG, PNG or WebP file.",
            param="input_reference",
            code="invalid_image_format",
        )
    _, width, height = info
    if f"{width}x{height}" != size:
        raise invalid(
            f"Invalid 'input_reference': the image is {width}x{height} but the requested "
            f"size is {size}; the reference image must match the requested width and height.",
            param="input_reference",
            code="invalid_image_size",
        )


def _validate_reference(value: object, size: str, inspect_image: ImageInspector) -> ReferenceKind | None:
    value = json_object(value)
    if value is None:
        return None
    if isinstance(value, UploadedFile):
        _check_image(value.data, size, inspect_image)
        return "upload"
    if not isinstance(value, dict):
        raise invalid(
            "Invalid type for 'input_reference': expected an uploaded image file or an object "
            f"with 'image_url' or 'file_id', but got {type_name(value)}.",
            param="input_reference",
            code="invalid_type",
        )
    keys = set(value)
    if len(keys) != 1 or not keys <= {"image_url", "file_id"}:
        raise invalid(
            "Invalid 'input_reference': provide exactly one of 'image_url' or 'file_id'.",
            param="input_reference",
            code="invalid_value",
        )
    (key,) = keys
    target = value[key]
    if not isinstance(target, str) or not target:
        raise invalid(
            f"Invalid 'input_reference.{key}': expected a non-empty string.",
            param=f"input_reference.{key}",
            code="invalid_type",
        )
    if key == "file_id":
        return "file_id"
    if target.startswith("data:"):
        _check_image(_decode_data_url(target), size, inspect_image)
    elif not target.startswith(("http://", "https://")):
        raise invalid(
            "Invalid 'input_reference.image_url': expected an http(s) URL or a base64 data URL.",
            param="input_reference.image_url",
            code="invalid_url",
        )
    return "image_url"


def _decode_data_url(url: str) -> bytes:
    header, _, payload = url.partition(",")
    if not header.endswith(";base64"):
        raise invalid(
            "Invalid 'input_reference.image_url': data URLs must be base64-encoded.",
            param="input_reference.image_url",
            code="invalid_url",
        )
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise invalid(
            "Invalid 'input_reference.image_url': the data URL is not valid base64.",
            param="input_reference.image_url",
            code="invalid_url",
        ) from None
