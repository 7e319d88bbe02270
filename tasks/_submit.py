"""The submit tasks: POST a text-to-video (or image-to-video) job, or a remix."""

from __future__ import annotations

from decimal import Decimal

from prefect.cache_policies import NO_CACHE

from prefect_sora._models import Video
from prefect_sora._pricing import estimate
from prefect_sora._validation import check_prompt, check_video_id, price_from_source, validate_request
from prefect_sora.blocks._credentials import SoraCredentials
from prefect_sora.tasks import _events as events
from prefect_sora.tasks._common import InputReference, load_input_reference, run_logger
from prefect_sora.tasks._dispatch import dual_task
from prefect_sora.tasks._spend import reserved_create


# Never cached: a cache hit would hand back another run's job, and a miss would
# pay again. Resuming without paying twice is the flows' idempotency_key's job.
@dual_task(
    name="submit-video", cache_policy=NO_CACHE, positional=("prompt", "model", "seconds", "size", "input_reference")
)
async def submit_video(
    credentials: SoraCredentials,
    *,
    prompt: str,
    model: str = "sora-2",
    seconds: str | int = "4",
    size: str = "720x1280",
    input_reference: InputReference | None = None,
    idempotency_key: str | None = None,
    exclude_ids: frozenset[str] = frozenset(),
) -> Video:
    """Submit one video job and return it (status ``queued``).

    Every parameter is checked before any HTTP request. The body is JSON, or
    multipart/form-data when ``input_reference`` is an image (bytes, a path or
    any fsspec URL), which must be a JPEG, PNG or WebP of exactly ``size``.
    An ambiguous failure (a 5xx, a reset or a timeout after sending) is looked
    up in ``GET /videos`` before the create is sent again, so it never pays twice.

    Args:
        credentials: The API key and base URL.
        prompt: What to generate (1 to 32,000 characters).
        model: ``sora-2`` or ``sora-2-pro``.
        seconds: ``"4"``, ``"8"`` or ``"12"`` (the ints are accepted and sent as strings).
        size: ``WIDTHxHEIGHT`` within the model's tiers.
        input_reference: An image to start from, or an ``ImageReference`` by URL or file id.
        idempotency_key: Sent as ``Idempotency-Key`` for gateways that honour it.
        exclude_ids: Jobs that belong to other requests; never adopted by the lookup.

    Returns:
        The job as the service created it.

    Raises:
        InvalidParameter: a parameter breaks the API's rules (no request was made).
        InvalidRequest, AuthenticationFailed, RateLimited: as the service answers.
        SubmissionUncertain: the create failed ambiguously and the lookup could not settle it.

    Example:
        ```python
        from prefect import flow
        from prefect_sora import Emulator
        from prefect_sora.blocks import SoraCredentials
        from prefect_sora.tasks import submit_video

        @flow
        def submit() -> str:
            with Emulator(job_seconds=1) as emulator:
                credentials = SoraCredentials(api_key="sk-test", base_url=emulator.base_url)
                video = submit_video(credentials, prompt="A koi pond at dawn, slow dolly in", seconds=4)
                return video.id
        ```
    """
    table = credentials.prices()
    request = validate_request(prompt=prompt, model=model, seconds=seconds, size=size, table=table)
    reference = await load_input_reference(input_reference, request.size)
    logger = run_logger(__name__)
    price = estimate(request.model, request.size, int(request.seconds), table=table).total_usd
    async with (
        reserved_create(credentials, price, what=f"video {request.prompt[:40]!r}"),
        credentials.get_client() as client,
    ):
        video = await client.create_video(
            request, input_reference=reference, idempotency_key=idempotency_key, exclude_ids=exclude_ids
        )
    events.submitted(
        video,
        credentials=credentials,
        prompt=request.prompt,
        model=request.model,
        size=request.size,
        seconds=request.seconds,
    )
    logger.info(
        "Submitted video %s (%s, %s, %ss%s): %s",
        video.id,
        request.model,
        request.size,
        request.seconds,
        ", image-to-video" if reference else "",
        video.status,
    )
    return video


@dual_task(name="submit-remix", cache_policy=NO_CACHE, positional=("video", "prompt"))
async def submit_remix(
    credentials: SoraCredentials,
    *,
    video: Video | str,
    prompt: str,
    idempotency_key: str | None = None,
    exclude_ids: frozenset[str] = frozenset(),
) -> Video:
    """Submit a remix of a completed video with a new prompt; returns the new job.

    The new job keeps the source's model, size and length and carries
    ``remixed_from_video_id``.

    Args:
        credentials: The API key and base URL.
        video: The completed source video, or its id.
        prompt: The change to make (1 to 32,000 characters).
        idempotency_key: Sent as ``Idempotency-Key`` for gateways that honour it.
        exclude_ids: Jobs that belong to other requests; never adopted by the lookup.

    Returns:
        The new job.

    Example:
        ```python
        from prefect import flow
        from prefect_sora import Emulator
        from prefect_sora.blocks import SoraCredentials
        from prefect_sora.tasks import await_video, submit_remix, submit_video

        @flow
        def remix() -> str:
            with Emulator(job_seconds=1) as emulator:
                credentials = SoraCredentials(api_key="sk-test", base_url=emulator.base_url)
                source = await_video(credentials, video=submit_video(credentials, prompt="A red kite over hills"))
                return submit_remix(credentials, video=source, prompt="Make the kite blue").remixed_from_video_id
        ```
    """
    source_id = check_video_id(video if isinstance(video, str) else video.id)
    check_prompt(prompt)
    async with credentials.get_client() as client:
        if credentials.spend_limit_name and not isinstance(video, Video):
            video = await client.retrieve_video(source_id)  # a remix costs what its source did
        price = price_from_source(video, seconds=None, table=credentials.prices()) if isinstance(video, Video) else None
        async with reserved_create(credentials, price.total_usd if price else Decimal(0), what=f"remix of {source_id}"):
            remix = await client.remix_video(
                source_id, prompt, idempotency_key=idempotency_key, exclude_ids=exclude_ids
            )
    events.submitted(remix, credentials=credentials, prompt=prompt, source_id=source_id)
    run_logger(__name__).info("Submitted remix %s of %s: %s", remix.id, source_id, remix.status)
    return remix


__all__ = ["submit_remix", "submit_video"]
