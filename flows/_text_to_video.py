"""The text_to_video flow: estimate, check the budget, submit, await, fetch."""

from __future__ import annotations

from prefect import flow

from prefect_sora._models import VideoSeconds
from prefect_sora._validation import validate_request
from prefect_sora.blocks._credentials import SoraCredentials
from prefect_sora.blocks._storage import SoraStorage
from prefect_sora.flows._artifacts import Report
from prefect_sora.flows._common import SingleRequest, run_single
from prefect_sora.flows._forms import ModelChoice, OptionalOptions, OptionalText, SizeChoice
from prefect_sora.flows._pictures import DEFAULT_LINK_EXPIRY
from prefect_sora.flows._results import VideoResult
from prefect_sora.flows._suspend import WaitMode

#: The title and artifact keys (sora-text-to-video-costs, sora-text-to-video-summary) of its runs.
REPORT = Report("Sora text-to-video", "sora-text-to-video")


@flow(name="sora-text-to-video", log_prints=False)
async def text_to_video(
    prompt: str,
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
    storage_options: OptionalOptions = {},  # noqa: B006  (never mutated; an empty object in the form)
    storage: SoraStorage | str | None = None,
    journal_url: OptionalText = "",
    link_expiry_seconds: float = DEFAULT_LINK_EXPIRY,
    wait: WaitMode = "poll",
    approve_over_usd: float | None = None,
    approval_timeout_seconds: float = 3600.0,
) -> VideoResult:
    """Generate one video from a prompt and store it.

    Estimates the cost and refuses (before any request) if it exceeds
    `max_cost_usd`; then submits, waits and stores the MP4 under `out`.
    A rerun (or flow retry) with the same `idempotency_key` resumes the job
    already submitted instead of paying again.

    Args:
        prompt: What to generate (1 to 32,000 characters).
        model: `sora-2` or `sora-2-pro`.
        seconds: `"4"`, `"8"` or `"12"`.
        size: `WIDTHxHEIGHT` within the model's tiers.
        out: fsspec URL of a folder (ending in `/`) or of the file to write.
        max_cost_usd: Refuse if the estimate is higher.
        credentials: A `SoraCredentials` block, a saved block's name, or None
            for `SORA_API_KEY` / `SORA_BASE_URL`.
        idempotency_key: Resume key; defaults to the flow run's id.
        timeout_seconds: Longest wait for the job.
        resubmit_failed: Times a failed job (not billed) may be resubmitted.
        regenerate_expired: If the download window closed, generate the video again (pays again).
        storage_options: fsspec options for `out` that are not secret (endpoint, region); keys go in `storage`.
        storage: A `SoraStorage` block or a saved block's name: `out` is then a path under its
            base URL, written with its options (secrets included, never in the run's parameters).
        journal_url: Where the resume journal lives (default `{out}/.prefect-sora/journal`).
        approve_over_usd: If the estimate is over this, pause for a person to approve it
            in the Prefect UI before the create; denied or unanswered, the run fails.
        approval_timeout_seconds: How long to wait for that approval.
        link_expiry_seconds: How long the signed link and pictures in the run's artifacts
            stay valid where the storage signs URLs (S3 ...); at most 7 days.
        wait: `poll` (this process waits for the job) or `suspend` (a run of a
            deployment suspends while the job generates, releasing its worker, and
            is resumed by the `sora-watcher` deployment's event and the
            `sora-resume-suspended-runs` automation). `suspend` elsewhere is
            refused before any request.

    Returns:
        The video's id, stored URL, bytes, SHA-256, estimated and actual cost.

    Example:
        ```python
        import asyncio
        from prefect_sora import Emulator
        from prefect_sora.blocks import SoraCredentials
        from prefect_sora.flows import text_to_video

        with Emulator(job_seconds=1) as emulator:
            credentials = SoraCredentials(api_key="sk-test", base_url=emulator.base_url)
            result = asyncio.run(text_to_video("A lighthouse in a storm", credentials=credentials, out="videos/"))
            print(result.url, result.actual_usd)  # file://.../videos/video_....mp4 0.40
        ```
    """

    async def prepare(creds: SoraCredentials) -> SingleRequest:
        return SingleRequest(
            validate_request(prompt=prompt, model=model, seconds=seconds, size=size, table=creds.prices())
        )

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
        link_expiry_seconds=link_expiry_seconds,
        wait=wait,
    )
