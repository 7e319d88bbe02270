"""The fetch_video task: stream a completed video's content to any fsspec URL."""

from __future__ import annotations

from typing import Any

from prefect import Task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State, TaskRun

from prefect_sora._durable.download import download
from prefect_sora._durable.verify import Expected, check_stored
from prefect_sora._errors import TransientError, VideoDefective
from prefect_sora._models import StoredVideo, Video, VideoRequest, VideoVariant
from prefect_sora._transport.retries import retries_spent
from prefect_sora.blocks._credentials import SoraCredentials
from prefect_sora.tasks import _events as events
from prefect_sora.tasks._common import run_logger
from prefect_sora.tasks._dispatch import dual_task


def retry_cut_short(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Retry a download whose body was cut short; never a wrong body, an expired one, or a refused request.

    A request the gateway refused or could not answer (5xx, reset, timeout) was
    already retried by the client within its retry window; asking again here would
    multiply that window. A body cut off after its headers arrived never went
    through the client's retries, so it is this task's to retry.
    """
    return isinstance(state.data, TransientError) and not retries_spent(state.data)


@dual_task(
    name="fetch-video",
    retries=3,
    retry_delay_seconds=[1, 4, 10],
    retry_condition_fn=retry_cut_short,
    # The same inputs may point at a file that was since moved or deleted.
    cache_policy=NO_CACHE,
    positional=("video", "destination", "variant", "storage_options"),
)
async def fetch_video(
    credentials: SoraCredentials,
    *,
    video: Video | str,
    destination: str,
    variant: VideoVariant = "video",
    storage_options: dict[str, Any] | None = None,
    paid: VideoRequest | None = None,
) -> StoredVideo:
    """Stream a video's content to ``destination`` atomically, in constant memory.

    ``destination`` is any fsspec URL: a folder (ending in ``/`` or existing),
    where the file is named from the id (``video_123.mp4``,
    ``video_123.thumbnail.webp``), or a full file URL. Bytes go to a hidden
    partial file and are moved into place only once the Content-Type, the
    length and the leading bytes check out; on any failure nothing is left
    behind. A JSON or HTML body is never saved as a video. A stored video is
    then read back (its MP4 boxes, nothing decoded) and checked against what
    was paid for: its duration (within 0.5 s), its size and a video track whose
    samples all lie inside the file.

    Args:
        credentials: The API key and base URL.
        video: The completed job, or its id.
        destination: Where to store it: a local path, ``s3://``, ``memory://`` ...
        variant: ``video`` (MP4), ``thumbnail`` or ``spritesheet``.
        storage_options: Passed to fsspec (e.g. S3 credentials and endpoint).
        paid: The request the video was paid for (its seconds and size are checked); by
            default the job as the service reports it, looked up when only an id is given.

    Returns:
        The final URL, the byte count and the SHA-256 of what was stored.

    Raises:
        ContentExpired: the download window is over.
        ContentNotReady: the job has not completed.
        InvalidContent: the body is not the variant asked for, or is cut short.
        VideoDefective: stored, but not the video paid for; the file is kept at
            ``.result.url`` and ``.problems`` says what was expected and found.
        TransientError: the gateway kept failing after the client's retries (bounded by
            the block's ``max_retries`` and ``retry_window_seconds``); a body cut short
            is downloaded again up to 3 times first.

    Example:
        ```python
        from prefect import flow
        from prefect_sora import Emulator
        from prefect_sora.blocks import SoraCredentials
        from prefect_sora.tasks import await_video, fetch_video, submit_video

        @flow
        def generate_to_disk() -> str:
            with Emulator(job_seconds=1) as emulator:
                credentials = SoraCredentials(api_key="sk-test", base_url=emulator.base_url)
                video = await_video(credentials, video=submit_video(credentials, prompt="Fog over a pine forest"))
                return fetch_video(credentials, video=video, destination="videos/").url  # file://.../videos/video_....mp4
        ```
    """
    video_id = video if isinstance(video, str) else video.id
    known = paid if paid is not None else (None if isinstance(video, str) else video)
    expect = Expected.of(known) if known is not None else None
    async with credentials.get_client() as client:
        try:
            with events.ending(credentials=credentials):  # sora.video.expired, sora.video.defective
                result = await download(
                    client, video_id, destination, variant=variant, storage_options=storage_options, expect=expect
                )
                if variant == "video" and expect is None:
                    # Only an id: what the job was billed for is the service's own record of it.
                    await check_stored(result, Expected.of(await client.retrieve_video(video_id)), storage_options)
        except VideoDefective as exc:
            problems = "; ".join(exc.problems)
            logger = run_logger(__name__)
            logger.warning("Video %s at %s is not what was paid for (kept): %s", video_id, exc.result.url, problems)
            raise
    events.stored(result, credentials=credentials)
    run_logger(__name__).info("Stored %s of video %s at %s (%d bytes)", variant, video_id, result.url, result.bytes)
    return result
