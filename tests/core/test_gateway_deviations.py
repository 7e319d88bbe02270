"""Each deviation gateways are reported to show, met against the emulator playing it.

Terminal statuses end a wait at once with their typed error; sparse and odd
fields still make a stored video; every error envelope's reason reaches the
error; Azure's key header, deployments and api-version; LiteLLM's ids.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from prefect_sora._durable.download import download
from prefect_sora._errors import (
    AuthenticationFailed,
    ContentExpired,
    InvalidRequest,
    JobCancelled,
    JobFailed,
    SoraError,
    UnknownStatus,
    VideoNotFound,
)
from prefect_sora._models import VideoRequest
from prefect_sora._transport.client import SoraClient
from prefect_sora._transport.retries import RetryPolicy
from prefect_sora._transport.waiting import wait_for_video
from prefect_sora.emulator import Emulator

pytestmark = pytest.mark.anyio

KEY = "sk-test-LEAKCANARY-gw-5e1d"
FAST = {"job_seconds": 0.2, "poll_after_ms": 20}


def client_of(emulator: Emulator, **options: object) -> SoraClient:
    retry = RetryPolicy(max_retries=3, backoff_base=0.02, backoff_max=0.1)
    return SoraClient(api_key=KEY, base_url=emulator.base_url, retry=retry, **options)  # type: ignore[arg-type]


def request(prompt: str, **fields: str) -> VideoRequest:
    return VideoRequest(prompt=prompt, **fields)


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        ("failed", JobFailed),
        ("error", JobFailed),
        ("rejected", JobFailed),
        ("cancelled", JobCancelled),
        ("canceled", JobCancelled),
        ("expired", ContentExpired),
    ],
)
async def test_a_terminal_status_ends_the_wait_at_once_with_its_typed_error_and_no_further_poll(
    status: str, error_type: type[SoraError]
) -> None:
    with Emulator(**FAST) as emulator:
        async with client_of(emulator) as client:
            job = await client.create_video(request(f"A lantern [emulator:end={status}] [emulator:seconds=0.3]"))
            started = time.monotonic()
            with pytest.raises(error_type) as raised:
                await wait_for_video(client, job.id, timeout=3600)
            polls_at_the_end = emulator.stats()["polls"][job.id]
            time.sleep(0.2)

            assert time.monotonic() - started < 5  # not the hour-long deadline
            assert emulator.stats()["polls"][job.id] == polls_at_the_end
    error = raised.value
    assert type(error) is error_type and error.video_id == job.id
    assert status in error.message
    if isinstance(error, JobFailed):
        assert error.status == status


async def test_a_create_answered_failed_at_once_ends_the_wait_without_a_poll() -> None:
    with Emulator(**FAST) as emulator:
        async with client_of(emulator) as client:
            job = await client.create_video(request("A kite [emulator:fail_at_create=moderation_blocked]"))
            with pytest.raises(JobFailed) as raised:
                await wait_for_video(client, job)

            assert emulator.stats()["polls"].get(job.id, 0) == 0
    assert raised.value.code == "moderation_blocked"


async def test_an_unknown_status_is_pending_with_one_warning_then_unknown_status_after_the_grace(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "prefect_sora._transport.waiting")
    with Emulator(**FAST) as emulator:
        async with client_of(emulator, unknown_status_grace=1.0) as client:
            job = await client.create_video(request("A mask [emulator:end=weird] [emulator:seconds=0.1]"))
            started = time.monotonic()
            with pytest.raises(UnknownStatus) as raised:
                await wait_for_video(client, job.id, timeout=60)

    assert 1.0 <= time.monotonic() - started < 15  # the grace, plus the schedule's first look; not the deadline
    assert raised.value.status == "weird" and "'weird'" in raised.value.message
    assert sum("unknown status 'weird'" in record.getMessage() for record in caplog.records) == 1


async def test_the_grace_of_an_unknown_status_spans_windows_so_a_retried_wait_still_ends() -> None:
    from prefect_sora._errors import JobPending

    with Emulator(**FAST) as emulator:
        async with client_of(emulator, unknown_status_grace=1.0) as client:
            job = await client.create_video(request("A mask [emulator:end=weird] [emulator:seconds=0.1]"))
            windows = 0
            with pytest.raises(UnknownStatus):
                while True:  # as await_video's retries do: short windows, each a new call
                    try:
                        await wait_for_video(client, job.id, window=0.3)
                    except JobPending:
                        windows += 1
    assert windows >= 2


@pytest.mark.parametrize(
    "settings",
    [
        {"status_aliases": {"queued": "pending", "in_progress": "processing"}},
        {"status_aliases": {"queued": "preprocessing", "in_progress": "running"}},
    ],
)
async def test_pending_synonyms_keep_the_wait_going_until_completed(settings: dict[str, object]) -> None:
    with Emulator(**FAST, **settings) as emulator:
        async with client_of(emulator) as client:
            job = await client.create_video(request("Rain on a window [emulator:seconds=0.6]"))
            seen: list[str] = []

            async def note(video: object) -> None:
                seen.append(video.status)  # type: ignore[attr-defined]

            done = await wait_for_video(client, job.id, timeout=30, on_change=note)

    assert done.status == "completed"
    assert set(seen) - {"completed"} <= set(settings["status_aliases"].values())  # type: ignore[attr-defined]


async def test_a_pending_status_directive_is_waited_through() -> None:
    with Emulator(**FAST) as emulator:
        async with client_of(emulator) as client:
            job = await client.create_video(
                request("Dunes [emulator:pending_status=processing] [emulator:seconds=0.5]")
            )
            assert (await wait_for_video(client, job.id, timeout=30)).status == "completed"


@pytest.mark.parametrize("timestamp_format", ["int", "float", "string", "iso"])
async def test_sparse_and_odd_fields_still_store_the_video(timestamp_format: str, tmp_path: Path) -> None:
    settings = {
        "timestamp_format": timestamp_format,
        "null_fields": ["seconds", "size", "quality"],
        "omit_fields": ["progress"],
    }
    with Emulator(**FAST, **settings) as emulator:
        async with client_of(emulator) as client:
            job = await client.create_video(request("A heron takes off"))
            done = await wait_for_video(client, job.id, timeout=30)
            stored = await download(client, done.id, f"{tmp_path}/")

    assert done.seconds is None and done.size is None and done.quality is None
    assert done.created_at is not None and abs(done.created_at - time.time()) < 60
    assert stored.bytes > 1000 and Path(stored.url.removeprefix("file://")).read_bytes()[4:8] == b"ftyp"


@pytest.mark.parametrize("envelope", ["openai", "string", "message", "msg", "detail", "text"])
async def test_each_error_envelopes_reason_is_on_the_error(envelope: str) -> None:
    with Emulator(**FAST, error_envelope=envelope) as emulator:
        async with client_of(emulator) as client:
            # Past local validation on purpose: the gateway's own refusal is what is tested.
            bad = VideoRequest.model_construct(prompt="A fox", model="sora-2", seconds="4", size="640x480")
            with pytest.raises(InvalidRequest) as invalid:
                await client.create_video(bad)
            with pytest.raises(VideoNotFound) as missing:
                await client.retrieve_video("video_does_not_exist")

    assert "640x480" in invalid.value.message and invalid.value.message != "Invalid request: HTTP 400"
    assert invalid.value.status_code == 400
    assert "video_does_not_exist" in missing.value.message and missing.value.status_code == 404


async def test_azure_refuses_a_bearer_and_serves_the_api_key_with_deployments_and_api_version(tmp_path: Path) -> None:
    with Emulator(**FAST, profile="azure", deployments={"my-sora-2": "sora-2"}) as emulator:
        async with client_of(emulator) as bearer_only:
            with pytest.raises(AuthenticationFailed) as refused:
                await bearer_only.create_video(request("A lighthouse"))
        azure = client_of(
            emulator,
            auth_header="api-key",
            deployments={"sora-2": "my-sora-2"},
            default_query={"api-version": "preview"},
        )
        async with azure as client:
            job = await client.create_video(request("A lighthouse"))
            done = await wait_for_video(client, job.id, timeout=30)
            stored = await download(client, done.id, f"{tmp_path}/")
            listed = await client.list_videos()
        stats = emulator.stats()

    assert refused.value.status_code == 401 and "subscription key" in refused.value.message
    assert KEY not in str(refused.value)
    assert done.model == "sora-2"  # the deployment's name read back as its model
    assert listed.data[0].model == "sora-2"
    assert stored.bytes > 1000 and stats["creates"] == 1


async def test_an_unknown_azure_deployment_says_so() -> None:
    with Emulator(**FAST, profile="azure") as emulator:
        async with client_of(emulator, auth_header="api-key", deployments={"sora-2": "nobody-deployed-this"}) as client:
            with pytest.raises(VideoNotFound) as raised:
                await client.create_video(request("A lighthouse"))

    assert "DeploymentNotFound" in str(raised.value) or "deployment" in raised.value.message.lower()


async def test_litellm_base64_ids_are_polled_downloaded_and_stored_under_a_safe_name(tmp_path: Path) -> None:
    with Emulator(**FAST, profile="litellm") as emulator:
        async with client_of(emulator) as client:
            job = await client.create_video(request("A paper boat"))
            done = await wait_for_video(client, job.id, timeout=30)
            stored = await download(client, done.id, f"{tmp_path}/")

    assert len(job.id) > 60
    (written,) = list(tmp_path.iterdir())
    assert stored.video_id == job.id and written.suffix == ".mp4" and "/" not in written.name


async def test_a_429_without_retry_after_is_retried_with_backoff() -> None:
    with Emulator(**FAST, retry_after_headers=False) as emulator:
        emulator.inject(429, count=1, endpoint="create")
        async with client_of(emulator) as client:
            job = await client.create_video(request("A quiet harbour"))

        assert job.status == "queued" and emulator.stats()["creates"] == 1


async def test_a_lost_create_on_azure_is_found_by_its_deployment_name_not_paid_twice() -> None:
    with Emulator(**FAST, profile="azure", deployments={"my-sora-2": "sora-2"}) as emulator:
        emulator.inject("lost", endpoint="create")
        async with client_of(emulator, auth_header="api-key", deployments={"sora-2": "my-sora-2"}) as client:
            job = await client.create_video(request("A lighthouse in fog"))

        assert job.model == "sora-2" and emulator.stats()["creates"] == 1
