"""A create whose answer never arrives is looked up before anything is paid twice."""

from __future__ import annotations

import pytest

from prefect_sora._errors import SubmissionUncertain
from prefect_sora._transport.client import SoraClient
from prefect_sora._transport.retries import RetryPolicy
from prefect_sora._validation import validate_request
from prefect_sora.emulator import Emulator

pytestmark = pytest.mark.anyio


def fast_client(emulator: Emulator, retries: int = 3) -> SoraClient:
    return SoraClient(
        api_key="sk-money", base_url=emulator.base_url, retry=RetryPolicy(max_retries=retries, backoff_base=0.01)
    )


async def test_a_create_carried_out_but_answered_with_a_reset_is_adopted_not_repeated(sora_emulator: Emulator) -> None:
    sora_emulator.inject("lost", endpoint="create")
    async with fast_client(sora_emulator) as client:
        video = await client.create_video(validate_request(prompt="a lost answer"))
    stats = sora_emulator.stats()
    assert stats["creates"] == 1 and stats["jobs_total"] == 1
    assert stats["lists"] >= 1  # it looked before it would have paid again
    assert video.prompt == "a lost answer"


@pytest.mark.parametrize("fault", ["reset", "500", "502", "503"])
async def test_a_create_refused_before_it_was_carried_out_is_sent_again_once(
    sora_emulator: Emulator, fault: str
) -> None:
    sora_emulator.inject(fault, endpoint="create")
    async with fast_client(sora_emulator) as client:
        await client.create_video(validate_request(prompt=f"after a {fault}"))
    stats = sora_emulator.stats()
    assert stats["creates"] == 1 and stats["jobs_total"] == 1


async def test_two_identical_requests_never_adopt_each_others_job(sora_emulator: Emulator) -> None:
    async with fast_client(sora_emulator) as client:
        first = await client.create_video(validate_request(prompt="twin"))
        sora_emulator.inject("reset", endpoint="create")
        second = await client.create_video(validate_request(prompt="twin"))
    assert first.id != second.id
    assert sora_emulator.stats()["creates"] == 2


async def test_when_the_lookup_itself_fails_the_client_stops_and_says_so(sora_emulator: Emulator) -> None:
    sora_emulator.inject("lost", endpoint="create")
    sora_emulator.inject("500", count=10, endpoint="list")
    async with fast_client(sora_emulator, retries=1) as client:
        with pytest.raises(SubmissionUncertain, match="same idempotency key"):
            await client.create_video(validate_request(prompt="cannot tell"))
    assert sora_emulator.stats()["creates"] == 1  # never a blind second create


async def test_a_lost_remix_is_adopted_too(sora_emulator: Emulator) -> None:
    from prefect_sora._transport.waiting import wait_for_video

    async with fast_client(sora_emulator) as client:
        source = await wait_for_video(client, await client.create_video(validate_request(prompt="source")), timeout=10)
        sora_emulator.inject("lost", endpoint="remix")
        remix = await client.remix_video(source.id, "now in blue")
    assert remix.remixed_from_video_id == source.id
    assert sora_emulator.stats()["remixes"] == 1


async def test_a_create_that_timed_out_while_the_service_kept_working_is_found_not_resent(
    sora_emulator: Emulator,
) -> None:
    import httpx

    sora_emulator.configure(slow_seconds=1.5)
    sora_emulator.inject("slow", endpoint="create")
    client = SoraClient(
        api_key="sk-money",
        base_url=sora_emulator.base_url,
        timeout=httpx.Timeout(0.5),
        retry=RetryPolicy(max_retries=3, backoff_base=0.01),
    )
    async with client:
        video = await client.create_video(validate_request(prompt="slow to answer"))
    stats = sora_emulator.stats()
    assert stats["creates"] == 1 and stats["jobs_total"] == 1
    assert video.prompt == "slow to answer"
