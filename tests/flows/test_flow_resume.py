"""Resuming instead of paying twice: reruns with the same key, flow retries, creates cut off mid-flight."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from flow_helpers import local_path, make_video, probe
from prefect import get_client

from prefect_sora._durable.journal import Journal, JournalEntry
from prefect_sora._errors import BatchIncomplete, InvalidParameter
from prefect_sora._models import VideoRequest
from prefect_sora._pricing import estimate
from prefect_sora._validation import validate_request
from prefect_sora.blocks import SoraCredentials
from prefect_sora.emulator import Emulator
from prefect_sora.flows import batch_text_to_video, text_to_video
from prefect_sora.flows._pipeline import Job

PROMPT = "A lighthouse on a cliff in a storm"


def test_a_rerun_with_the_same_key_returns_the_stored_video_without_a_second_create(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str
) -> None:
    first = asyncio.run(text_to_video(PROMPT, out=out, credentials=credentials, idempotency_key="lighthouse-1"))
    again = asyncio.run(text_to_video(PROMPT, out=out, credentials=credentials, idempotency_key="lighthouse-1"))

    assert (first.resumed, again.resumed) == (False, True)
    assert (again.video_id, again.url, again.sha256) == (first.video_id, first.url, first.sha256)
    stats = sora_emulator.stats()
    assert (stats["creates"], stats["downloads_by_variant"]["video"]) == (1, 1)

    # The stored file went missing: the next rerun fetches it again, still without a create.
    local_path(first.url or "").unlink()
    third = asyncio.run(text_to_video(PROMPT, out=out, credentials=credentials, idempotency_key="lighthouse-1"))

    assert third.resumed and third.video_id == first.video_id
    assert probe(local_path(third.url or "")) == (720, 1280, 4.0)
    stats = sora_emulator.stats()
    assert (stats["creates"], stats["downloads_by_variant"]["video"]) == (1, 2)

    # The key now belongs to that request: another request under it is refused.
    with pytest.raises(InvalidParameter, match="different request") as refused:
        asyncio.run(text_to_video("Another prompt", out=out, credentials=credentials, idempotency_key="lighthouse-1"))

    assert refused.value.param == "idempotency_key"
    assert sora_emulator.stats()["creates"] == 1


def test_a_batch_rerun_with_the_same_key_resumes_every_item(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str
) -> None:
    requests = [VideoRequest(prompt=f"A paper boat, take {i}") for i in range(3)]

    first = asyncio.run(batch_text_to_video(requests, out=out, credentials=credentials, idempotency_key="boats-1"))
    again = asyncio.run(batch_text_to_video(requests, out=out, credentials=credentials, idempotency_key="boats-1"))

    assert first.stored == again.stored == 3
    assert [item.resumed for item in again.items] == [True, True, True]
    assert [item.video_id for item in again.items] == [item.video_id for item in first.items]
    assert again.actual_usd == first.actual_usd
    assert sora_emulator.stats()["creates"] == 3

    changed = [*requests[:2], VideoRequest(prompt="A paper boat, take 2", seconds="8")]
    with pytest.raises(InvalidParameter, match="different request at item 2"):
        asyncio.run(batch_text_to_video(changed, out=out, credentials=credentials, idempotency_key="boats-1"))

    assert sora_emulator.stats()["creates"] == 3


def test_a_sharded_rerun_of_a_stored_batch_gathers_it_without_starting_a_shard_run(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str
) -> None:
    requests = [VideoRequest(prompt=f"A kite, take {i}") for i in range(3)]
    first = asyncio.run(batch_text_to_video(requests, out=out, credentials=credentials, idempotency_key="kites-1"))
    name = f"kites-{uuid.uuid4().hex[:8]}"
    credentials.save(name)
    nowhere = "sora-batch-shard/nowhere"  # no such deployment: a shard run could not even start

    # Every video of the key is stored: the rerun finds them itself.
    again = asyncio.run(
        batch_text_to_video(
            requests, out=out, credentials=name, idempotency_key="kites-1", shards=2, shard_deployment=nowhere
        )
    )

    assert again.stored == 3 and [item.resumed for item in again.items] == [True, True, True]
    assert [item.url for item in again.items] == [item.url for item in first.items]
    assert sora_emulator.stats()["creates"] == 3
    # A batch with work left does need its shards, and is told the deployment is missing.
    with pytest.raises(InvalidParameter, match="no such deployment") as refused:
        asyncio.run(
            batch_text_to_video(
                requests, out=out, credentials=name, idempotency_key="kites-2", shards=2, shard_deployment=nowhere
            )
        )
    assert refused.value.param == "shard_deployment"
    assert sora_emulator.stats()["creates"] == 3


def test_a_flow_retry_after_a_failed_download_resumes_the_submitted_job(
    sora_emulator: Emulator, api_key: str, out: str
) -> None:
    # No client-level retries, and the fetch task never retries what the client gave up
    # on: one 500 on the content endpoint fails the first attempt of the flow after the
    # job was submitted and completed.
    credentials = SoraCredentials(api_key=api_key, base_url=sora_emulator.base_url, max_retries=0)
    sora_emulator.inject(500, count=1, endpoint="content")

    state = asyncio.run(
        text_to_video.with_options(retries=1)(PROMPT, out=out, credentials=credentials, return_state=True)
    )

    assert state.is_completed()
    result = state.result()
    assert result.ok and result.resumed
    assert probe(local_path(result.url or "")) == (720, 1280, 4.0)
    stats = sora_emulator.stats()
    assert stats["creates"] == 1
    assert stats["faults"] == {"500": 1}
    assert stats["downloads_by_variant"]["video"] == 1

    async def run_count() -> int:
        async with get_client() as client:
            return (await client.read_flow_run(state.state_details.flow_run_id)).run_count

    assert asyncio.run(run_count()) == 2


def leave_submitting(out: str, key: str, request: VideoRequest, index: int = 0) -> None:
    """Write the journal as a process killed in the middle of its create would leave it."""
    job = Job(index=index, request=request, estimate=estimate(request.model, request.size, int(request.seconds)))
    entry = JournalEntry(index=index, fingerprint=job.fingerprint()).to_submitting(time.time())
    asyncio.run(Journal(f"{out}.prefect-sora/journal", key).save(entry))


def test_a_create_cut_off_after_the_service_made_the_job_is_adopted_without_a_second_create(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str
) -> None:
    request = validate_request(prompt=PROMPT, seconds="8", size="1280x720")
    leave_submitting(out, "cut-off-1", request)
    made = make_video(sora_emulator, PROMPT, wait=False, seconds="8", size="1280x720")

    result = asyncio.run(
        text_to_video(
            PROMPT, seconds="8", size="1280x720", out=out, credentials=credentials, idempotency_key="cut-off-1"
        )
    )

    assert result.ok and result.resumed and result.video_id == made
    stats = sora_emulator.stats()
    assert stats["creates"] == 1, "only the create of the interrupted run"
    assert stats["lists"] >= 1, "the job was found with GET /videos"


def test_a_create_cut_off_before_the_service_made_the_job_creates_exactly_once(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str
) -> None:
    request = validate_request(prompt=PROMPT, size="1280x720")
    leave_submitting(out, "cut-off-2", request)
    # A job of another request (same prompt, another length), made meanwhile, is not mistaken for ours.
    stranger = make_video(sora_emulator, PROMPT, wait=False, seconds="8", size="1280x720")

    result = asyncio.run(
        text_to_video(PROMPT, size="1280x720", out=out, credentials=credentials, idempotency_key="cut-off-2")
    )

    assert result.ok and result.video_id != stranger
    stats = sora_emulator.stats()
    assert stats["creates"] == 2, "the stranger's and exactly one of ours"
    assert stats["lists"] >= 1


def test_identical_batch_items_cut_off_mid_create_each_adopt_their_own_job(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str
) -> None:
    # Two takes of one prompt, both cut off after the service made their jobs: each
    # item must adopt one of them, not both the newest (which would lose a paid video).
    request = validate_request(prompt=PROMPT)
    leave_submitting(out, "takes-1", request, index=0)
    leave_submitting(out, "takes-1", request, index=1)
    made = {make_video(sora_emulator, PROMPT, wait=False) for _ in range(2)}

    batch = asyncio.run(
        batch_text_to_video([request, request], out=out, credentials=credentials, idempotency_key="takes-1")
    )

    assert {item.video_id for item in batch.items} == made
    assert batch.stored == 2
    assert sora_emulator.stats()["creates"] == 2, "only the creates of the interrupted run"


def test_a_cut_off_item_does_not_adopt_the_job_a_sibling_is_creating_meanwhile(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str
) -> None:
    # Item 1 was cut off after its job was made; item 0 (the same request) was never
    # sent. Item 0's fresh create lands while item 1 is still listing (the list is slow),
    # so the newest matching job is item 0's, and item 1 must not take it.
    request = validate_request(prompt=PROMPT)
    leave_submitting(out, "takes-2", request, index=1)
    made = make_video(sora_emulator, PROMPT, wait=False)
    sora_emulator.configure(slow_seconds=0.5)
    sora_emulator.inject("slow", endpoint="list")

    batch = asyncio.run(
        batch_text_to_video([request, request], out=out, credentials=credentials, idempotency_key="takes-2")
    )

    assert batch.items[1].video_id == made
    assert batch.items[0].video_id not in (None, made)
    assert batch.stored == 2
    assert sora_emulator.stats()["creates"] == 2


def test_a_cancelled_job_is_reported_cancelled_and_never_resubmitted_by_the_policy_or_a_rerun(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str
) -> None:
    requests = [
        VideoRequest(prompt="A kite"),
        VideoRequest(prompt="A lantern [emulator:end=cancelled]"),
    ]

    def run() -> list[tuple[str, str | None]]:
        with pytest.raises(BatchIncomplete) as raised:
            asyncio.run(
                batch_text_to_video(
                    requests, out=out, credentials=credentials, idempotency_key="kites-1", resubmit_failed=2
                )
            )
        return [(item.status, item.video_id) for item in raised.value.result.items]

    first = run()
    again = run()

    assert first[0][0] == "stored" and first[1][0] == "cancelled" and first[1][1] is not None
    assert again == first  # the same cancelled job, reported again
    assert sora_emulator.stats()["creates"] == 2  # resubmit_failed=2 did not resubmit a cancelled job
