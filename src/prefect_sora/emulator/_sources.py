"""Validation of the requests that start from something that exists: remix, extension, edit, character.

Rules (400 with the error envelope unless said otherwise), from the official schema:

- remix: ``{prompt}`` only.
- extension (``POST /videos/extensions``): ``video`` (``{"id": ...}`` of a completed video:
  a JSON object, bracketed multipart fields ``video[id]``, or a JSON object string; or an
  uploaded MP4, whose size and length the new job takes, see `uploads`), ``prompt`` and
  ``seconds``, all required. The schema's ``$ref`` says
  seconds are "4", "8" or "12" but its description says 4, 8, 12, 16 or 20; the emulator
  takes the wider set, as strings. The new job's ``seconds`` is the stitched total (source
  plus extension), as the schema's Video object says of extensions.
- edit (``POST /videos/edits``): ``video`` and ``prompt``; the new job keeps the source's
  model, size and seconds.
- character (``POST /videos/characters``, multipart): ``video``, an uploaded MP4/MOV file
  (an ISO media file: ``ftyp`` at byte 4), and ``name`` of 1 to 80 characters.

Whether a referenced source exists and is completed is checked afterwards, by the state
(404, 409).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from prefect_sora.emulator._errors import APIError, invalid
from prefect_sora.emulator._multipart import UploadedFile
from prefect_sora.emulator._validation import json_object, reject_unknown, type_name, validate_prompt

REMIX_FIELDS = frozenset({"prompt"})
EXTENSION_FIELDS = frozenset({"video", "prompt", "seconds"})
EDIT_FIELDS = frozenset({"video", "prompt"})
CHARACTER_FIELDS = frozenset({"video", "name"})
EXTENSION_SECONDS = ("4", "8", "12", "16", "20")
MAX_CHARACTER_NAME = 80


@dataclass(frozen=True, slots=True)
class DerivedRequest:
    """An extension or edit that passed validation: its source is a job id or an upload."""

    video_id: str | None
    upload: bytes | None
    prompt: str
    seconds: str | None = None


def _missing(name: str) -> APIError:
    return invalid(f"Missing required parameter: '{name}'.", param=name, code="missing_required_parameter")


def validate_remix(fields: Mapping[str, object]) -> str:
    """The remix prompt, after the same prompt rules as create."""
    reject_unknown(fields, REMIX_FIELDS)
    return validate_prompt(fields)


def _video_reference(fields: Mapping[str, object]) -> str | UploadedFile:
    if "video" not in fields:
        raise _missing("video")
    value = json_object(fields["video"])
    if isinstance(value, UploadedFile):
        return value
    if not isinstance(value, dict):
        raise invalid(
            f"Invalid type for 'video': expected an object with 'id', but got {type_name(value)}.",
            param="video",
            code="invalid_type",
        )
    if set(value) != {"id"}:
        raise invalid("Invalid 'video': provide exactly one key, 'id'.", param="video", code="invalid_value")
    video_id = value["id"]
    if not isinstance(video_id, str) or not video_id:
        raise invalid("Invalid 'video.id': expected a non-empty string.", param="video.id", code="invalid_type")
    return video_id


def validate_extension(fields: Mapping[str, object]) -> DerivedRequest:
    """An extension's source, prompt and seconds."""
    reject_unknown(fields, EXTENSION_FIELDS)
    video_id = _video_reference(fields)
    prompt = validate_prompt(fields)
    if "seconds" not in fields:
        raise _missing("seconds")
    seconds = fields["seconds"]
    listed = ", ".join(f"'{choice}'" for choice in EXTENSION_SECONDS)
    if not isinstance(seconds, str):
        raise invalid(
            f"Invalid type for 'seconds': expected one of {listed} as a string, but got {type_name(seconds)}.",
            param="seconds",
            code="invalid_type",
        )
    if seconds not in EXTENSION_SECONDS:
        raise invalid(
            f"Invalid value for 'seconds': '{seconds}'. Supported values are: {listed}.",
            param="seconds",
            code="invalid_value",
        )
    return _derived(video_id, prompt, seconds)


def validate_edit(fields: Mapping[str, object]) -> DerivedRequest:
    """An edit's source and prompt."""
    reject_unknown(fields, EDIT_FIELDS)
    video_id = _video_reference(fields)
    return _derived(video_id, validate_prompt(fields), None)


def _derived(source: str | UploadedFile, prompt: str, seconds: str | None) -> DerivedRequest:
    if isinstance(source, UploadedFile):
        return DerivedRequest(video_id=None, upload=source.data, prompt=prompt, seconds=seconds)
    return DerivedRequest(video_id=source, upload=None, prompt=prompt, seconds=seconds)


def validate_character(fields: Mapping[str, object]) -> str:
    """A character upload's name (the video is checked and then dropped)."""
    reject_unknown(fields, CHARACTER_FIELDS)
    if "video" not in fields:
        raise _missing("video")
    video = fields["video"]
    if not isinstance(video, UploadedFile):
        raise invalid(
            f"Invalid type for 'video': expected an uploaded video file, but got {type_name(video)}.",
            param="video",
            code="invalid_type",
        )
    if video.data[4:8] != b"ftyp":
        raise invalid(
            "Invalid 'video': the file must be an MP4 or MOV video.",
            param="video",
            code="invalid_video_format",
        )
    if "name" not in fields:
        raise _missing("name")
    name = fields["name"]
    if not isinstance(name, str):
        raise invalid(
            f"Invalid type for 'name': expected a string, but got {type_name(name)}.",
            param="name",
            code="invalid_type",
        )
    if not 1 <= len(name) <= MAX_CHARACTER_NAME:
        raise invalid(
            f"Invalid 'name': expected 1 to {MAX_CHARACTER_NAME} characters, got {len(name)}.",
            param="name",
            code="invalid_value",
        )
    return name
