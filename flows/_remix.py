"""The remix_video flow: a new video from a completed one and a new prompt."""

from __future__ import annotations

from decimal import Decimal

from prefect import flow

from prefect_sora._errors import InvalidParameter
from prefect_sora._pricing import check_budget
from prefect_sora._validation import check_prompt, check_video_id, validate_request
from prefect_sora.blocks._credentials import SoraCredentials
from prefect_sora.blocks._storage import SoraStorage
from prefect_sora.flows._artifacts import Report
from prefect_sora.flows._common import SingleRequest, run_single
from prefect_sora.flows._forms import OptionalOptions, OptionalText
from prefect_sora.flows._results import VideoResult

#: The title and artifact keys (sora-remix-costs, sora-remix-summary) of its runs.
REPORT = Report("Sora remix", "sora-remix")


@flow(name="sora-remix-video", log_prints=False)
async def remix_video(
    video_id: str,
    prompt: str,
    out: str = "videos/",
    max_cost_usd: float | None = None,
    credentials: SoraCredentials | str | None = None,
    idempotency_key: OptionalText = "",
    timeout_seconds: float | None = 3600.0,
    resubmit_failed: int = 0,
    regenerate_expired: bool = False,
    storage_options: OptionalOptions = {},  # noqa: B006  (never mutated; an empty object in the form)
    storage: SoraStorage | str | None = None,
    journal_url: OptionalText = "",
    approve_over_usd: float | None = None,
    approval_timeout_seconds: float = 3600.0,
) -> VideoResult:
    """Remix a completed video with a new prompt and store the result.

    The remix keeps the source's model, size and length, so it is priced (and
    checked against `max_cost_usd`) from the source before it is submitted.

    Args:
        video_id: The completed source video.
        prompt: The change to make.
        out: fsspec URL of a folder (ending in `/`) or of the file to write.
        max_cost_usd: Refuse if the estimate is higher.
        credentials: A `SoraCredentials` block, a saved block's name, or None for the environment.
        idempotency_key: Resume key; defaults to the flow run's id.
        timeout_seconds: Longest wait for the job.
        resubmit_failed: Times a failed job (not billed) may be resubmitted.
        regenerate_expired: If the download window closed, generate the video again (pays again).
        storage_options: fsspec options for `out` that are not secret (endpoint, region); keys go in `storage`.
        storage: A `SoraStorage` block or a saved block's name: `out` is then a path under its
            base URL, written with its options (secrets included, never in the run's parameters).
        journal_url: Where the resume journal lives.
        approve_over_usd: If the estimate is over this, pause for a person to approve it
            in the Prefect UI before the create; denied or unanswered, the run fails.
        approval_timeout_seconds: How long to wait for that approval.

    Returns:
        The new video's id, stored URL, bytes, SHA-256, estimated and actual cost.

    Example:
        ```python
        import asyncio
        from prefect_sora import Emulator
        from prefect_sora.blocks import SoraCredentials
        from prefect_sora.flows import remix_video, text_to_video

        with Emulator(job_seconds=1) as emulator:
            credentials = SoraCredentials(api_key="sk-test", base_url=emulator.base_url)
            first = asyncio.run(text_to_video("A red kite over hills", credentials=credentials))
            remix = asyncio.run(remix_video(first.video_id, "Make the kite blue", credentials=credentials))
            print(remix.video_id != first.video_id)  # True
        ```
    """
    source_id = check_video_id(video_id)
    check_prompt(prompt)
    # The budget itself is checked before the source is read: no request with a NaN or negative one.
    check_budget(Decimal("0"), max_cost_usd)
    return await run_single(
        REPORT,
        lambda creds: _request_from_source(creds, source_id, prompt),
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


async def _request_from_source(credentials: SoraCredentials, source_id: str, prompt: str) -> SingleRequest:
    """The remix's request: the source's model, size and length (what it is billed for) with the new prompt.

    Raises:
        InvalidParameter: the source has not completed, or the gateway left out
            its model, size or length (never guessed: the remix is not sent unpriced).
    """
    async with credentials.get_client() as client:
        source = await client.retrieve_video(source_id)
    if not source.is_completed:
        raise InvalidParameter("video_id", source_id, f"must be a completed video; it is {source.status}")
    model, seconds, size = source.model, source.seconds, source.size
    if model is None or seconds is None or size is None:
        missing = ", ".join(
            name for name, value in (("model", model), ("seconds", seconds), ("size", size)) if not value
        )
        raise InvalidParameter(
            "video_id",
            source_id,
            f"the gateway did not report the source video's {missing}, which the remix keeps and is billed for",
        )
    request = validate_request(prompt=prompt, model=model, seconds=seconds, size=size, table=credentials.prices())
    return SingleRequest(request, remix_of=source_id)
