"""The tasks that make a new job from a completed video: an extension, an edit.

Both are billed like a generation at the source's model and tier, so both are
priced, and checked against ``max_cost_usd``, before the create is sent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal

from prefect.cache_policies import NO_CACHE

from prefect_sora._errors import InvalidParameter
from prefect_sora._models import Video
from prefect_sora._pricing import CostEstimate, check_budget
from prefect_sora._transport.client import SoraClient
from prefect_sora._validation import check_prompt, check_video_id, normalize_extension_seconds, price_from_source
from prefect_sora.blocks._credentials import SoraCredentials
from prefect_sora.tasks import _events as events
from prefect_sora.tasks._common import run_logger
from prefect_sora.tasks._dispatch import dual_task
from prefect_sora.tasks._spend import reserved_create


# Never cached, like submit_video: a cache hit would hand back another run's job.
@dual_task(name="submit-extension", cache_policy=NO_CACHE, positional=("video", "prompt", "seconds"))
async def submit_extension(
    credentials: SoraCredentials,
    *,
    video: Video | str,
    prompt: str,
    seconds: str | int = "4",
    model: str | None = None,
    size: str | None = None,
    max_cost_usd: Decimal | float | str | None = None,
    idempotency_key: str | None = None,
    exclude_ids: frozenset[str] = frozenset(),
) -> Video:
    """Extend a completed video by ``seconds`` more, as ``prompt`` directs; returns the new job.

    ``POST /videos/extensions`` (marked deprecated in OpenAI's schema, like
    every ``/videos`` endpoint; gateways serve it). ``seconds`` is the new
    segment's length: "4", "8", "12", "16" or "20" (the ints are accepted); the
    new job's own ``seconds`` is the stitched total. It is priced at the
    source's model and tier for the segment's seconds, before any create, and
    refused over ``max_cost_usd``. If the gateway did not report the source's
    model or size, pass them: nothing is priced from a guess.

    Args:
        credentials: The API key and base URL.
        video: The completed source video, or its id.
        prompt: What happens next (1 to 32,000 characters).
        seconds: The extension's length.
        model: The source's model, if the gateway does not report it.
        size: The source's size, if the gateway does not report it.
        max_cost_usd: Refuse (``BudgetExceeded``) when the extension would cost more.
        idempotency_key: Sent as ``Idempotency-Key`` for gateways that honour it.
        exclude_ids: Jobs that belong to other requests; never adopted by the lookup.

    Returns:
        The new job (await it and fetch it like any other).

    Raises:
        InvalidParameter: a bad prompt or length, a source that has not completed,
            or a source whose model or size is unknown (no create was sent).
        BudgetExceeded: the price is over ``max_cost_usd`` (no create was sent).

    Example:
        ```python
        from prefect import flow
        from prefect_sora import Emulator
        from prefect_sora.blocks import SoraCredentials
        from prefect_sora.tasks import await_video, submit_extension, submit_video

        @flow
        def longer() -> str:
            with Emulator(job_seconds=1) as emulator:
                credentials = SoraCredentials(api_key="sk-test", base_url=emulator.base_url)
                source = await_video(credentials, video=submit_video(credentials, prompt="A red kite over hills"))
                extended = submit_extension(
                    credentials, video=source, prompt="The kite climbs into the clouds", seconds=8
                )
                return await_video(credentials, video=extended).seconds  # "12"
        ```
    """
    check_prompt(prompt)
    segment = normalize_extension_seconds(seconds)
    source_id = check_video_id(video if isinstance(video, str) else video.id)
    job, estimate = await _create_from_source(
        credentials,
        video,
        source_id,
        lambda client, match: client.extend_video(
            source_id, prompt, segment, match=match, idempotency_key=idempotency_key, exclude_ids=exclude_ids
        ),
        what="extension",
        prompt=prompt,
        seconds=int(segment),
        model=model,
        size=size,
        max_cost_usd=max_cost_usd,
        stitched=True,
    )
    run_logger(__name__).info(
        "Submitted extension %s of %s (+%ss, %s %s, estimated $%s): %s",
        job.id,
        source_id,
        segment,
        estimate.model,
        estimate.size,
        estimate.total_usd,
        job.status,
    )
    return job


@dual_task(name="submit-edit", cache_policy=NO_CACHE, positional=("video", "prompt"))
async def submit_edit(
    credentials: SoraCredentials,
    *,
    video: Video | str,
    prompt: str,
    model: str | None = None,
    size: str | None = None,
    seconds: int | None = None,
    max_cost_usd: Decimal | float | str | None = None,
    idempotency_key: str | None = None,
    exclude_ids: frozenset[str] = frozenset(),
) -> Video:
    """Edit a completed video as ``prompt`` says; returns the new job, of the source's model, size and length.

    ``POST /videos/edits`` (marked deprecated in OpenAI's schema, like every
    ``/videos`` endpoint). Priced like a new video of the source's length at
    its model and tier, before any create, and refused over ``max_cost_usd``.
    Pass ``model``, ``size`` or ``seconds`` when the gateway does not report
    them on the source.

    Args:
        credentials: The API key and base URL.
        video: The completed source video, or its id.
        prompt: The change to make (1 to 32,000 characters).
        model: The source's model, if the gateway does not report it.
        size: The source's size, if the gateway does not report it.
        seconds: The source's length, if the gateway does not report it.
        max_cost_usd: Refuse (``BudgetExceeded``) when the edit would cost more.
        idempotency_key: Sent as ``Idempotency-Key`` for gateways that honour it.
        exclude_ids: Jobs that belong to other requests; never adopted by the lookup.

    Returns:
        The new job.

    Example:
        ```python
        from prefect import flow
        from prefect_sora import Emulator
        from prefect_sora.blocks import SoraCredentials
        from prefect_sora.tasks import await_video, submit_edit, submit_video

        @flow
        def recolour() -> str:
            with Emulator(job_seconds=1) as emulator:
                credentials = SoraCredentials(api_key="sk-test", base_url=emulator.base_url)
                source = await_video(credentials, video=submit_video(credentials, prompt="A red kite over hills"))
                edit = submit_edit(credentials, video=source, prompt="Make the kite blue", max_cost_usd=1)
                return await_video(credentials, video=edit).status  # "completed"
        ```
    """
    check_prompt(prompt)
    source_id = check_video_id(video if isinstance(video, str) else video.id)
    job, estimate = await _create_from_source(
        credentials,
        video,
        source_id,
        lambda client, match: client.edit_video(
            source_id, prompt, match=match, idempotency_key=idempotency_key, exclude_ids=exclude_ids
        ),
        what="edit",
        prompt=prompt,
        seconds=seconds,
        model=model,
        size=size,
        max_cost_usd=max_cost_usd,
    )
    run_logger(__name__).info(
        "Submitted edit %s of %s (%s %s, %ss, estimated $%s): %s",
        job.id,
        source_id,
        estimate.model,
        estimate.size,
        estimate.seconds,
        estimate.total_usd,
        job.status,
    )
    return job


async def _create_from_source(
    credentials: SoraCredentials,
    video: Video | str,
    source_id: str,
    create: Callable[[SoraClient, dict[str, str]], Awaitable[Video]],
    *,
    what: str,
    prompt: str,
    seconds: int | None,
    model: str | None,
    size: str | None,
    max_cost_usd: Decimal | float | str | None,
    stitched: bool = False,
) -> tuple[Video, CostEstimate]:
    """Price a new job from its completed source, hold it to the budget and spend limit, create it, announce it.

    ``create`` sends the create with the client and the source's reported fields
    (for the lookup after an ambiguous failure). ``seconds`` are the ones billed;
    ``stitched`` says the new job is longer than that (an extension: the source
    and the segment), so its own length is left to the service's answer.

    Returns:
        The new job and its price.
    """
    async with credentials.get_client() as client:
        source = await _completed_source(client, video)
        estimate = price_from_source(source, seconds=seconds, model=model, size=size, table=credentials.prices())
        check_budget(estimate.total_usd, max_cost_usd)
        async with reserved_create(credentials, estimate.total_usd, what=f"{what} of {source_id}"):
            job = await create(client, _reported(source))
    events.submitted(
        job,
        credentials=credentials,
        prompt=prompt,
        model=estimate.model,
        size=estimate.size,
        seconds=None if stitched else str(estimate.seconds),
        estimated_usd=estimate.total_usd,
        source_id=source_id,
    )
    return job, estimate


async def _completed_source(client: SoraClient, video: Video | str) -> Video:
    """The source as it is now (a passed-in job may be stale); it must have completed."""
    if isinstance(video, Video) and video.is_completed:
        source = video
    else:
        source = await client.retrieve_video(video if isinstance(video, str) else video.id)
    if not source.is_completed:
        raise InvalidParameter("video", source.id, f"must be a completed video; it is {source.status}")
    return source


def _reported(source: Video) -> dict[str, str]:
    """The source's fields the new job will carry too, as far as the gateway reports them (for the lookup)."""
    return {name: value for name, value in (("model", source.model), ("size", source.size)) if value is not None}


__all__ = ["submit_edit", "submit_extension"]
