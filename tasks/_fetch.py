"""The fetch_video task: stream a completed video's content to any fsspec URL."""

from __future__ import annotations

from typing import Any

from prefect import Task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State, TaskRun

from prefect_sora._durable.download import download
from prefect_sora._errors import TransientError
from prefect_sora._models import StoredVideo, Video, VideoVariant
from prefect_sora._transport.retries import budget_spent
from prefect_sora.blocks._credentials import SoraCredentials
from prefect_sora.tasks._common import run_logger
from prefect_sora.tasks._dispatch import dual_task


def retry_cut_short(task: Task[..., Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Retry a download whose body was cut short; never a wrong body, an expired one, or a refused request.

    A request the gateway refused or could not answer (5xx, reset, timeout) was
    already retried by the client within its budget; asking again here would
    multiply that budget. A body cut off after its headers arrived never went
    through the client's retries, so it is this task's to retry.
    """
    return isinstance(state.data, TransientError) and not budget_spent(state.data)


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
) -> StoredVideo:
    """Stream a video's content to ``destination`` atomically, in constant memory.

    ``destination`` is any fsspec URL: a folder (ending in ``/`` or existing),
    where the file is named from the id (``video_123.mp4``,
    ``video_123.thumbnail.webp``), or a full file URL. Bytes go to a hidden
    partial file and are moved into place only once the Content-Type, the
    length and the leading bytes check out; on any failure nothing is left
    behind. A JSON or HTML body is never saved as a video.

    Args:
        credentials: The API key and base URL.
        video: The completed job, or its id.
        destination: Where to store it: a local path, ``s3://``, ``memory://`` ...
        variant: ``video`` (MP4), ``thumbnail`` or ``spritesheet``.
        storage_options: Passed to fsspec (e.g. S3 credentials and endpoint).

    Returns:
        The final URL, the byte count and the SHA-256 of what was stored.

    Raises:
        ContentExpired: the download window is over.
        ContentNotReady: the job has not completed.
        InvalidContent: the body is not the variant asked for, or is cut short.
        TransientError: the gateway kept failing after the client's retries (bounded by
            the block's ``max_retries`` and ``retry_budget_seconds``); a body cut short
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
    async with credentials.get_client() as client:
        result = await download(client, video_id, destination, variant=variant, storage_options=storage_options)
    run_logger(__name__).info("Stored %s of video %s at %s (%d bytes)", variant, video_id, result.url, result.bytes)
    return result
