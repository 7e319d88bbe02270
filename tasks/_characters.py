"""The character tasks: make a character from a short video, and read one back."""

from __future__ import annotations

import asyncio
from pathlib import Path

import fsspec
from prefect.cache_policies import NO_CACHE

from prefect_sora._errors import InvalidParameter
from prefect_sora._models import Character
from prefect_sora._validation import check_character_name, check_video_id
from prefect_sora.blocks._credentials import SoraCredentials
from prefect_sora.tasks._common import run_logger
from prefect_sora.tasks._dispatch import dual_task

#: Largest video read for an upload; a character is made from a short clip.
MAX_CHARACTER_VIDEO_BYTES = 256 << 20


@dual_task(name="create-character", cache_policy=NO_CACHE, positional=("video_file", "name"))
async def create_character(
    credentials: SoraCredentials,
    *,
    video_file: bytes | str | Path,
    name: str,
    storage_options: dict[str, object] | None = None,
) -> Character:
    """Make a character from a short video (uploaded as multipart), to use in later prompts.

    ``POST /videos/characters`` (marked deprecated in OpenAI's schema, like every
    ``/videos`` endpoint). The video is bytes, a path or any fsspec URL of an
    MP4 or MOV file, checked (an ISO media file) before any request; ``name``
    is 1 to 80 characters. Not a generation: nothing is billed. Not retried
    after a failure that may have reached the service (there is no list to look
    it up in): that raises ``SubmissionUncertain``.

    Args:
        credentials: The API key and base URL.
        video_file: The video: bytes, a local path or an fsspec URL.
        name: The character's display name.
        storage_options: Passed to fsspec to read ``video_file``.

    Returns:
        The character, with its ``id``.

    Raises:
        InvalidParameter: not an MP4/MOV, unreadable, or a bad name (no request made).

    Example:
        ```python
        from prefect import flow
        from prefect_sora import Emulator
        from prefect_sora.blocks import SoraCredentials
        from prefect_sora.tasks import await_video, create_character, fetch_video, submit_video

        @flow
        def new_character() -> str:
            with Emulator(job_seconds=1) as emulator:
                credentials = SoraCredentials(api_key="sk-test", base_url=emulator.base_url)
                job = submit_video(credentials, prompt="A fox in a red scarf turns to camera")
                clip = await_video(credentials, video=job)
                stored = fetch_video(credentials, video=clip, destination="clips/")
                return create_character(credentials, video_file=stored.url, name="Scarf Fox").name  # "Scarf Fox"
        ```
    """
    check_character_name(name)
    content, filename = await _read_video(video_file, storage_options or {})
    content_type = "video/quicktime" if content[8:12] == b"qt  " else "video/mp4"
    async with credentials.get_client() as client:
        character = await client.create_character(content, name, filename=filename, content_type=content_type)
    run_logger(__name__).info("Created character %s (%s) from %d bytes", character.id, character.name, len(content))
    return character


@dual_task(name="retrieve-character", cache_policy=NO_CACHE, positional=("character_id",))
async def retrieve_character(credentials: SoraCredentials, *, character_id: str) -> Character:
    """Read a character made earlier by its id.

    ``GET /videos/characters/{id}`` (marked deprecated in OpenAI's schema, like
    every ``/videos`` endpoint). Never cached: the id may since have been deleted.

    Args:
        credentials: The API key and base URL.
        character_id: The id ``create_character`` returned.

    Returns:
        The character.

    Raises:
        VideoNotFound: the service does not know the id.

    Example:
        ```python
        from prefect import flow
        from prefect_sora import Emulator
        from prefect_sora.blocks import SoraCredentials
        from prefect_sora.tasks import await_video, create_character, fetch_video, retrieve_character, submit_video

        @flow
        def look_up_character() -> str:
            with Emulator(job_seconds=1) as emulator:
                credentials = SoraCredentials(api_key="sk-test", base_url=emulator.base_url)
                job = submit_video(credentials, prompt="An owl in round glasses blinks")
                clip = await_video(credentials, video=job)
                stored = fetch_video(credentials, video=clip, destination="clips/")
                made = create_character(credentials, video_file=stored.url, name="Professor Owl")
                return retrieve_character(credentials, character_id=made.id).name  # "Professor Owl"
        ```
    """
    check_video_id(character_id, param="character_id")
    async with credentials.get_client() as client:
        return await client.retrieve_character(character_id)


async def _read_video(video_file: bytes | str | Path, storage_options: dict[str, object]) -> tuple[bytes, str]:
    if isinstance(video_file, (bytes, bytearray)):
        content, filename = bytes(video_file), "character.mp4"
    elif isinstance(video_file, (str, Path)):
        content = await asyncio.to_thread(_read, str(video_file), storage_options)
        filename = Path(str(video_file)).name or "character.mp4"
    else:
        raise InvalidParameter("video_file", type(video_file).__name__, "give bytes, a path or an fsspec URL")
    if content[4:8] != b"ftyp":
        raise InvalidParameter("video_file", filename, "must be an MP4 or MOV video")
    return content, filename


def _read(url: str, storage_options: dict[str, object]) -> bytes:
    try:
        with fsspec.open(url, "rb", **storage_options) as handle:
            data: bytes = handle.read(MAX_CHARACTER_VIDEO_BYTES + 1)
    except (OSError, ValueError) as exc:
        raise InvalidParameter("video_file", url, f"could not be read: {type(exc).__name__}") from exc
    if len(data) > MAX_CHARACTER_VIDEO_BYTES:
        raise InvalidParameter("video_file", url, f"is larger than {MAX_CHARACTER_VIDEO_BYTES >> 20} MiB")
    return data


__all__ = ["create_character", "retrieve_character"]
