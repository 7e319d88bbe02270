"""The image_to_video flow: animate a reference image from any fsspec URL."""

from __future__ import annotations

from prefect import flow

from prefect_sora._models import VideoSeconds
from prefect_sora._validation import validate_request
from prefect_sora.blocks._credentials import SoraCredentials
from prefect_sora.blocks._storage import SoraStorage
from prefect_sora.flows._artifacts import Report
from prefect_sora.flows._common import SingleRequest, run_single
from prefect_sora.flows._forms import ModelChoice, OptionalOptions, OptionalText, SizeChoice
from prefect_sora.flows._results import VideoResult
from prefect_sora.flows._storage import check_plain_options
from prefect_sora.tasks._common import load_input_reference

#: The title and artifact keys (sora-image-to-video-costs, sora-image-to-video-summary) of its runs.
REPORT = Report("Sora image-to-video", "sora-image-to-video")


@flow(name="sora-image-to-video", log_prints=False)
async def image_to_video(
    prompt: str,
    image_url: str,
    model: ModelChoice = "sora-2",
    seconds: VideoSeconds = "4",
    size: SizeChoice = "720x1280",
    out: str = "videos/",
    max_cost_usd: float | None = None,
    credentials: SoraCredentials | str | None = None,
    idempotency_key: OptionalText = "",
    timeout_seconds: float | None = 3600.0,
    resubmit_failed: int = 0,
    regenerate_expired: bool = False,
    image_storage_options: OptionalOptions = {},  # noqa: B006  (never mutated)
    storage_options: OptionalOptions = {},  # noqa: B006  (never mutated; an empty object in the form)
    storage: SoraStorage | str | None = None,
    journal_url: OptionalText = "",
    approve_over_usd: float | None = None,
    approval_timeout_seconds: float = 3600.0,
) -> VideoResult:
    """Generate a video that starts from an image and store it.

    The image is read from any fsspec URL (local path, `s3://`, `memory://`
    ...) and must be a JPEG, PNG or WebP of exactly `size`; it is checked
    before any request and sent as the multipart `input_reference`.

    Args:
        prompt: What should happen, starting from the image.
        image_url: fsspec URL of the first frame.
        model: `sora-2` or `sora-2-pro`.
        seconds: `"4"`, `"8"` or `"12"`.
        size: `WIDTHxHEIGHT`; the image must have exactly this size.
        out: fsspec URL of a folder (ending in `/`) or of the file to write.
        max_cost_usd: Refuse if the estimate is higher.
        credentials: A `SoraCredentials` block, a saved block's name, or None for the environment.
        idempotency_key: Resume key; defaults to the flow run's id.
        timeout_seconds: Longest wait for the job.
        resubmit_failed: Times a failed job (not billed) may be resubmitted.
        regenerate_expired: If the download window closed, generate the video again (pays again).
        image_storage_options: fsspec options for `image_url`.
        storage_options: fsspec options for `out` that are not secret (endpoint, region); keys go in `storage`.
        storage: A `SoraStorage` block or a saved block's name: `out` is then a path under its
            base URL, written with its options (secrets included, never in the run's parameters).
        journal_url: Where the resume journal lives.
        approve_over_usd: If the estimate is over this, pause for a person to approve it
            in the Prefect UI before the create; denied or unanswered, the run fails.
        approval_timeout_seconds: How long to wait for that approval.

    Returns:
        The video's id, stored URL, bytes, SHA-256, estimated and actual cost.

    Example:
        ```python
        import asyncio, io
        import fsspec
        from PIL import Image
        from prefect_sora import Emulator
        from prefect_sora.blocks import SoraCredentials
        from prefect_sora.flows import image_to_video

        buffer = io.BytesIO()
        Image.new("RGB", (1280, 720), "teal").save(buffer, "PNG")
        with fsspec.open("memory://frames/first.png", "wb") as handle:
            handle.write(buffer.getvalue())
        with Emulator(job_seconds=1) as emulator:
            credentials = SoraCredentials(api_key="sk-test", base_url=emulator.base_url)
            result = asyncio.run(
                image_to_video("The sea starts to move", "memory://frames/first.png", size="1280x720",
                               credentials=credentials, out="memory://videos/")
            )
            print(result.url)  # memory:///videos/video_....mp4
        ```
    """
    # Refused before the image is read or anything is sent.
    check_plain_options(image_storage_options, param="image_storage_options")

    async def prepare(creds: SoraCredentials) -> SingleRequest:
        request = validate_request(prompt=prompt, model=model, seconds=seconds, size=size, table=creds.prices())
        reference = await load_input_reference(image_url, request.size, image_storage_options)
        return SingleRequest(request, input_reference=reference)

    return await run_single(
        REPORT,
        prepare,
        credentials=credentials,
        storage=storage,
        out=out,
        storage_options=storage_options,
        max_cost_usd=max_cost_usd,
        idempotency_key=idempotency_key,
        journal_url=journal_url,
        timeout_seconds=timeout_seconds,
        resubmit_failed=resubmit_failed,
        regenerate_expired=regenerate_expired,
        approve_over_usd=approve_over_usd,
        approval_timeout_seconds=approval_timeout_seconds,
    )
