"""The id a create answered names the job from then on, whatever id a gateway's later answers echo.

A LiteLLM proxy echoes a job under a re-encoded id in its status answers, and a request by
that id goes to another upstream and fails (the emulator's ``echo_id="reencoded"`` does
the same, with a 502). Every read, wait, download and error here must keep the created id.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from prefect_sora._durable.download import download
from prefect_sora._durable.storage import file_name
from prefect_sora._errors import JobFailed, ServerError, WaitTimeout
from prefect_sora._models import VideoRequest
from prefect_sora._transport.client import SoraClient
from prefect_sora._transport.http import Redactor, error_from_response
from prefect_sora._transport.retries import RetryPolicy
from prefect_sora._transport.waiting import wait_for_video
from prefect_sora.emulator import Emulator
from prefect_sora.emulator._ids import decode_litellm_id

pytestmark = pytest.mark.anyio

KEY = "sk-test-LEAKCANARY-identity-3b7d"


@pytest.fixture(params=["litellm", "openai"])
def echoing(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """A gateway whose status answers echo another id for each job, as LiteLLM's do."""
    with Emulator(profile=request.param, job_seconds=0.2, poll_after_ms=20, echo_id="reencoded") as emulator:
        yield emulator


def client_of(emulator: Emulator, **options: object) -> SoraClient:
    retry = RetryPolicy(max_retries=2, backoff_base=0.02, backoff_max=0.05)
    return SoraClient(api_key=KEY, base_url=emulator.base_url, retry=retry, **options)  # type: ignore[arg-type]


def no_request_by_an_echoed_id(emulator: Emulator) -> None:
    """A request by an echoed id goes to another upstream through a real proxy: none may have been sent."""
    assert emulator.stats()["misrouted"] == 0


async def test_a_status_read_keeps_the_created_id_and_the_echo_beside_it(echoing: Emulator) -> None:
    async with client_of(echoing) as client:
        created = await client.create_video(VideoRequest(prompt="A heron in reeds", model="sora-2-pro"))
        read = await client.retrieve_video(created.id)

    assert read.id == created.id and echoing.plan(created.id)["id"] == created.id
    assert read.echoed_id is not None and read.echoed_id != created.id
    if echoing.config.profile == "litellm":
        assert decode_litellm_id(read.echoed_id) == {**decode_litellm_id(created.id), "model_id": ""}  # type: ignore[dict-item]


async def test_a_waited_job_is_downloaded_by_its_created_id(echoing: Emulator, tmp_path: Path) -> None:
    async with client_of(echoing) as client:
        created = await client.create_video(VideoRequest(prompt="Rain on a tin roof"))
        completed = await wait_for_video(client, created, timeout=30)
        stored = await download(client, completed.id, f"{tmp_path}/")

    assert completed.id == created.id and completed.echoed_id not in (None, created.id)
    assert stored.video_id == created.id
    assert Path(stored.url.removeprefix("file://")).name == file_name(created.id, "video", "video/mp4")
    assert echoing.stats()["downloads"] == {created.id: {"video": 1}}
    no_request_by_an_echoed_id(echoing)


async def test_a_failed_job_and_a_timed_out_wait_name_the_created_id(echoing: Emulator) -> None:
    async with client_of(echoing) as client:
        failing = await client.create_video(VideoRequest(prompt="Fails [emulator:fail=moderation_blocked]"))
        slow = await client.create_video(VideoRequest(prompt="Slow [emulator:stuck]"))
        with pytest.raises(JobFailed) as failed:
            await wait_for_video(client, failing.id, timeout=30)
        with pytest.raises(WaitTimeout) as timed_out:
            await wait_for_video(client, slow.id, timeout=0.3)

    assert failed.value.video_id == failing.id and failed.value.code == "moderation_blocked"
    assert timed_out.value.video_id == slow.id and slow.id in str(timed_out.value)
    no_request_by_an_echoed_id(echoing)


async def test_an_extension_and_an_edit_start_from_the_created_id_and_keep_their_own(echoing: Emulator) -> None:
    async with client_of(echoing) as client:
        source = await wait_for_video(client, (await client.create_video(VideoRequest(prompt="A kite"))).id)
        extension = await client.extend_video(source.id, "The kite climbs", "4")
        edit = await client.edit_video(source.id, "A red kite")
        done = [await wait_for_video(client, job, timeout=30) for job in (extension, edit)]

    assert [job.id for job in done] == [extension.id, edit.id]
    assert all(echoing.plan(job.id)["source_video_id"] == source.id for job in done)
    stats = echoing.stats()
    assert (stats["extensions"], stats["edits"]) == (1, 1)
    no_request_by_an_echoed_id(echoing)


async def test_a_remix_starts_from_the_created_id_and_keeps_its_own() -> None:
    # LiteLLM's proxy does not serve remixes; a gateway with plain ids that echoes others does.
    with Emulator(profile="openai", job_seconds=0.2, poll_after_ms=20, echo_id="reencoded") as emulator:
        async with client_of(emulator) as client:
            source = await wait_for_video(client, (await client.create_video(VideoRequest(prompt="A kite"))).id)
            remix = await client.remix_video(source.id, "A blue kite")
            done = await wait_for_video(client, remix, timeout=30)

        assert done.id == remix.id and done.echoed_id == f"echo-{remix.id}"
        assert emulator.plan(remix.id)["source_video_id"] == source.id and emulator.stats()["remixes"] == 1
        no_request_by_an_echoed_id(emulator)


async def test_a_completed_job_frees_its_running_place_though_the_gateway_echoed_another_id(
    echoing: Emulator,
) -> None:
    # The pacer counts our running jobs by id; an echoed id must not leave the first one counted forever.
    async with client_of(echoing, max_running_jobs=1) as client:
        first = await client.create_video(VideoRequest(prompt="First"))
        await wait_for_video(client, first, timeout=30)
        second = await asyncio.wait_for(client.create_video(VideoRequest(prompt="Second")), timeout=10)

    assert second.id != first.id and echoing.stats()["creates"] == 2


@pytest.mark.parametrize("header", ["x-litellm-call-id", "x-request-id"])
async def test_an_error_through_litellm_carries_its_call_id_as_the_request_id(header: str) -> None:
    request = httpx.Request("GET", "http://127.0.0.1/v1/videos/video_x/content")
    response = httpx.Response(
        502, json={"error": {"message": "upstream unreachable"}}, headers={header: "call-7f1e"}, request=request
    )

    error = await error_from_response(response, video_id="video_x", redact=Redactor(KEY))

    assert isinstance(error, ServerError)
    assert (error.request_id, error.video_id, error.status_code) == ("call-7f1e", "video_x", 502)
