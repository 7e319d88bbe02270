"""Typed models of the Sora 2 Videos API objects, tolerant of what gateways add.

Responses are parsed leniently, because the gateways in front of the service
differ from the schema: unknown fields are kept; any status string is kept (its
meaning is :mod:`prefect_sora._transport.statuses`'); timestamps may be ints, floats,
numeric strings or ISO 8601; ``seconds``, ``size``, ``quality`` and ``progress``
may be null or missing; a ``progress`` outside 0-100 is clamped; a job's
``error`` may be an object with a numeric code, or a bare string. Nothing that
costs money is read from a response: prices come from the request. Requests
are strict: see :mod:`prefect_sora._validation`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from prefect_sora._transport.statuses import StatusCategory, status_category

VideoModel = Literal["sora-2", "sora-2-pro"]
VideoSeconds = Literal["4", "8", "12"]
VideoSize = Literal["720x1280", "1280x720", "1024x1792", "1792x1024", "1080x1920", "1920x1080"]
VideoStatus = Literal["queued", "in_progress", "completed", "failed"]
VideoVariant = Literal["video", "thumbnail", "spritesheet"]

VIDEO_SECONDS: tuple[VideoSeconds, ...] = ("4", "8", "12")
MAX_PROMPT_CHARS = 32_000
#: The schema's statuses; others are categorized by :func:`prefect_sora._transport.statuses.status_category`.
TERMINAL_STATUSES = frozenset({"completed", "failed"})
PENDING_STATUSES = frozenset({"queued", "in_progress"})


def unix_seconds(value: Any) -> int | None:
    """A timestamp as whole Unix seconds, from an int, a float, a numeric string or ISO 8601.

    Gateways send all four; anything unreadable becomes None rather than refusing
    the whole answer (no decision rests on a timestamp alone).
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            try:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
            except ValueError:
                return None
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=timezone.utc)
            number = parsed.timestamp()
    else:
        return None
    if not math.isfinite(number):
        return None
    if number > 1e11:  # milliseconds, as some relays send
        number /= 1000
    return int(number)


Timestamp = Annotated[int | None, BeforeValidator(unix_seconds)]


def _optional_text(value: Any) -> Any:
    # A number where the schema has a string (a numeric error code, seconds as 8.0).
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value


Text = Annotated[str | None, BeforeValidator(_optional_text)]


def _seconds_from_int(value: Any) -> Any:
    # The API wants the string enum; accept the ints 4, 8, 12 as a convenience.
    if isinstance(value, int) and not isinstance(value, bool) and str(value) in VIDEO_SECONDS:
        return str(value)
    return value


class VideoRequest(BaseModel):
    """One text-to-video request, as a flow parameter or a batch item.

    Attributes:
        prompt: What to generate: scene, camera motion, style, lighting.
        model: ``sora-2`` or ``sora-2-pro`` (or a model given a price in the credentials).
        seconds: ``"4"``, ``"8"`` or ``"12"`` (the ints 4, 8, 12 are accepted).
        size: ``WIDTHxHEIGHT`` within the model's tiers.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS)
    model: str = "sora-2"
    seconds: Annotated[VideoSeconds, BeforeValidator(_seconds_from_int)] = "4"
    size: str = "720x1280"


class VideoError(BaseModel):
    """Why a job failed, as the service reports it (a bare string becomes the message)."""

    model_config = ConfigDict(extra="allow")

    code: Text = None
    message: Text = None

    @model_validator(mode="before")
    @classmethod
    def _from_any_shape(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"message": value}
        if isinstance(value, dict) and value.get("message") is None:
            for key in ("msg", "detail", "error"):
                if isinstance(value.get(key), str):
                    return {**value, "message": value[key]}
        return value


class Video(BaseModel):
    """A video job as the service reports it (``object: "video"``).

    Attributes:
        id: The job id, for polling, downloading and support: any string the server gives.
            It is the id the create answered (or the caller asked about), whatever a
            later answer echoes: the client keeps it, see :attr:`echoed_id`.
        status: ``queued``, ``in_progress``, ``completed``, ``failed``, or another
            word a gateway uses; :attr:`category` says what it means.
        progress: Approximate percent done, clamped to 0-100 (0 when not sent).
        created_at: Unix seconds; ``completed_at`` and ``expires_at`` likewise.
        seconds: The length as the server reports it, or None; never used for a price.
        echoed_id: The id a status answer named the job by when it differs from ``id``,
            kept for support only. A LiteLLM proxy re-encodes ids in its status answers,
            and a request by the re-encoded id is routed to another upstream and fails.
    """

    model_config = ConfigDict(extra="allow")

    id: str
    echoed_id: str | None = None
    object: str = "video"
    model: str | None = None
    status: Annotated[str, BeforeValidator(_optional_text)]
    progress: float = 0
    created_at: Timestamp = None
    completed_at: Timestamp = None
    expires_at: Timestamp = None
    size: Text = None
    seconds: Text = None
    quality: Text = None
    prompt: str | None = None
    remixed_from_video_id: str | None = None
    error: VideoError | None = None

    @field_validator("progress", mode="before")
    @classmethod
    def _clamp_progress(cls, value: Any) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            return 0.0
        if number != number:  # NaN
            return 0.0
        return min(100.0, max(0.0, number))

    @field_validator("error", mode="before")
    @classmethod
    def _no_empty_error(cls, value: Any) -> Any:
        return None if value in ("", {}) else value

    @property
    def category(self) -> StatusCategory:
        """What the status means: pending, completed, failed, cancelled, expired or unknown."""
        return status_category(self.status)

    @property
    def is_terminal(self) -> bool:
        """True once the job has ended: completed, failed, cancelled or expired."""
        return self.category not in ("pending", "unknown")

    @property
    def is_completed(self) -> bool:
        """True if the job completed and its content can be downloaded."""
        return self.category == "completed"

    @property
    def is_failed(self) -> bool:
        """True if the job ended without a video: failed, rejected, cancelled (none of them billed)."""
        return self.category in ("failed", "cancelled")

    @property
    def duration_seconds(self) -> int | None:
        """``seconds`` as an int, or None if the service did not say."""
        try:
            return int(self.seconds) if self.seconds is not None else None
        except ValueError:
            return None


class VideoList(BaseModel):
    """One page of ``GET /videos``."""

    model_config = ConfigDict(extra="allow")

    object: str = "list"
    data: list[Video] = Field(default_factory=list)
    first_id: str | None = None
    last_id: str | None = None
    has_more: bool = False


class DeletedVideo(BaseModel):
    """The answer to ``DELETE /videos/{id}``."""

    model_config = ConfigDict(extra="allow")

    id: str
    object: str = "video.deleted"
    deleted: bool = True


class Character(BaseModel):
    """A character made from an uploaded video (``/videos/characters``), to appear in later prompts.

    Attributes:
        id: The character's id (the schema allows null).
        name: Its display name, 1 to 80 characters.
        created_at: Unix seconds.
    """

    model_config = ConfigDict(extra="allow")

    id: str | None = None
    object: str = "character"
    name: str | None = None
    created_at: Timestamp = None


class StoredVideo(BaseModel):
    """Where a downloaded variant of a video now lives.

    Attributes:
        video_id: The job id the content belongs to.
        variant: ``video``, ``thumbnail`` or ``spritesheet``.
        url: The final fsspec URL of the file.
        bytes: Size of the stored file.
        sha256: Hex SHA-256 of the stored bytes.
        content_type: The Content-Type the service sent.
    """

    model_config = ConfigDict(frozen=True)

    video_id: str
    variant: VideoVariant
    url: str
    bytes: int
    sha256: str
    content_type: str


class ImageReference(BaseModel):
    """An ``input_reference`` sent as JSON: exactly one of an image URL (http(s) or data:) or a file id.

    Nothing is uploaded; the gateway fetches the image. Checked before any
    request by :func:`prefect_sora._validation.check_image_reference`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    image_url: str | None = None
    file_id: str | None = None


@dataclass(frozen=True)
class ImageUpload:
    """An ``input_reference`` image sent as a multipart file."""

    content: bytes
    filename: str
    content_type: Literal["image/jpeg", "image/png", "image/webp"]
