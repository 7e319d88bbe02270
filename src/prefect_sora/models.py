"""Typed models of the Sora 2 Videos API objects, tolerant of what gateways add.

Responses are parsed leniently: unknown fields are kept, unknown statuses are
kept as strings (and treated as not terminal), and a ``progress`` outside 0-100
is clamped, because a relay in front of the service may differ from the schema.
Requests are strict: see :mod:`prefect_sora.validation`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

VideoModel = Literal["sora-2", "sora-2-pro"]
VideoSeconds = Literal["4", "8", "12"]
VideoSize = Literal["720x1280", "1280x720", "1024x1792", "1792x1024", "1080x1920", "1920x1080"]
VideoStatus = Literal["queued", "in_progress", "completed", "failed"]
VideoVariant = Literal["video", "thumbnail", "spritesheet"]

VIDEO_SECONDS: tuple[VideoSeconds, ...] = ("4", "8", "12")
MAX_PROMPT_CHARS = 32_000
TERMINAL_STATUSES = frozenset({"completed", "failed"})
PENDING_STATUSES = frozenset({"queued", "in_progress"})


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
    """Why a job failed, as the service reports it."""

    model_config = ConfigDict(extra="allow")

    code: str | None = None
    message: str | None = None


class Video(BaseModel):
    """A video job as the service reports it (``object: "video"``).

    Attributes:
        id: The job id, for polling, downloading and support.
        status: ``queued``, ``in_progress``, ``completed``, ``failed``; other
            strings from non-conforming gateways are kept and treated as pending.
        progress: Approximate percent done, clamped to 0-100.
    """

    model_config = ConfigDict(extra="allow")

    id: str
    object: str = "video"
    model: str | None = None
    status: str
    progress: float = 0
    created_at: int | None = None
    completed_at: int | None = None
    expires_at: int | None = None
    size: str | None = None
    seconds: str | None = None
    quality: str | None = None
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

    @field_validator("seconds", mode="before")
    @classmethod
    def _seconds_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value

    @property
    def is_terminal(self) -> bool:
        """True once the job is ``completed`` or ``failed``."""
        return self.status in TERMINAL_STATUSES

    @property
    def is_completed(self) -> bool:
        """True if the job completed and its content can be downloaded."""
        return self.status == "completed"

    @property
    def is_failed(self) -> bool:
        """True if the job failed (failed jobs are not billed)."""
        return self.status == "failed"

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
    """An ``input_reference`` given by URL or by an uploaded file id rather than as bytes."""

    model_config = ConfigDict(frozen=True)

    image_url: str | None = None
    file_id: str | None = None


@dataclass(frozen=True)
class ImageUpload:
    """An ``input_reference`` image sent as a multipart file."""

    content: bytes
    filename: str
    content_type: Literal["image/jpeg", "image/png", "image/webp"]
