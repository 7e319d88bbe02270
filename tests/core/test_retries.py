"""What the client retries and how patiently, counted on the emulator's side of the wire."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from prefect_sora._errors import (
    AuthenticationFailed,
    ContentNotReady,
    InvalidRequest,
    JobFailed,
    RateLimited,
    ServerError,
    TransportError,
    VideoNotFound,
)
from prefect_sora._transport.client import SoraClient
from prefect_sora._transport.retries import (
    Action,
    RetryPolicy,
    classify,
    mark_spent,
    retries_spent,
    retry_after_seconds,
)
from prefect_sora._validation import validate_request
from prefect_sora.emulator import Emulator

pytestmark = pytest.mark.anyio


async def test_a_429_is_retried_after_the_retry_after_the_service_sent(
    sora_emulator: Emulator, make_client: Any
) -> None:
    sora_emulator.configure(retry_after_seconds=0.6)
    async with make_client() as client:
        video = await client.create_video(validate_request(prompt="a fox"))
        sora_emulator.inject("429", endpoint="retrieve")
        before = sora_emulator.stats()["requests_total"]

        started = time.monotonic()
        polled = await client.retrieve_video(video.id)
        elapsed = time.monotonic() - started

    assert polled.id == video.id
    assert sora_emulator.stats()["requests_total"] - before == 2
    # The client's own backoff here is at most 0.02 s: only the hint explains the wait
    # (the upper bound only catches a wait far longer than asked; a loaded machine adds seconds).
    assert 0.55 <= elapsed < 10.0


async def test_a_burst_of_5xx_on_a_read_is_retried_until_it_succeeds(sora_emulator: Emulator, make_client: Any) -> None:
    async with make_client(max_retries=4) as client:
        video = await client.create_video(validate_request(prompt="a fox"))
        for status in ("500", "502", "503"):
            sora_emulator.inject(status, endpoint="retrieve")

        polled = await client.retrieve_video(video.id)

    stats = sora_emulator.stats()
    assert polled.id == video.id
    assert stats["faults"] == {"500": 1, "502": 1, "503": 1}
    assert stats["polls"] == {video.id: 1}
    assert stats["requests_total"] == 1 + 4  # the create, then three failures and the success


async def test_a_reset_read_is_retried(sora_emulator: Emulator, make_client: Any) -> None:
    async with make_client() as client:
        video = await client.create_video(validate_request(prompt="a fox"))
        sora_emulator.inject("reset", endpoint="retrieve")

        polled = await client.retrieve_video(video.id)

    assert polled.id == video.id
    assert sora_emulator.stats()["faults"] == {"reset": 1}


async def test_a_404_is_never_retried(sora_emulator: Emulator, make_client: Any) -> None:
    async with make_client(max_retries=4) as client:
        with pytest.raises(VideoNotFound):
            await client.retrieve_video("video_doesnotexist")

    assert sora_emulator.stats()["requests_total"] == 1


@pytest.mark.parametrize(
    ("prompt", "error"),
    [("a fox [emulator:stuck]", ContentNotReady), ("a fox [emulator:fail] [emulator:seconds=0]", JobFailed)],
    ids=["409-not-ready", "409-failed"],
)
async def test_content_refused_with_a_409_is_asked_for_once(
    sora_emulator: Emulator, make_client: Any, prompt: str, error: type[Exception]
) -> None:
    async with make_client(max_retries=4) as client:
        video = await client.create_video(validate_request(prompt=prompt))
        with pytest.raises(error):
            async with client.stream_content(video.id):
                pass

    assert sora_emulator.stats()["responses_by_status"] == {"200": 1, "409": 1}


async def test_a_401_is_never_retried(api_key: str) -> None:
    with Emulator(api_key="sk-the-emulators-own-key") as guarded:
        async with SoraClient(api_key=api_key, base_url=guarded.base_url) as client:
            with pytest.raises(AuthenticationFailed):
                await client.list_videos()

        assert guarded.stats()["requests_total"] == 1


async def test_a_refused_create_is_sent_once(sora_emulator: Emulator, make_client: Any) -> None:
    async with make_client(max_retries=4) as client:
        with pytest.raises(InvalidRequest, match="emulator directive"):
            await client.create_video(validate_request(prompt="a fox [emulator:nonsense]"))

    stats = sora_emulator.stats()
    assert stats["requests_total"] == 1
    assert stats["lists"] == 0  # a 400 is not ambiguous: no lookup


async def test_a_rate_limited_create_is_sent_again_and_makes_one_job(sora_emulator: Emulator, make_client: Any) -> None:
    sora_emulator.configure(retry_after_seconds=0.1)
    sora_emulator.inject("429", endpoint="create")
    async with make_client() as client:
        video = await client.create_video(validate_request(prompt="a fox"))
        jobs = await client.list_videos()

    stats = sora_emulator.stats()
    assert stats["faults"] == {"429": 1}
    assert stats["creates"] == 1
    assert [job.id for job in jobs.data] == [video.id]
    assert stats["lists"] == 1  # only ours: a 429 provably made no job, so no lookup


@pytest.mark.parametrize("fault", ["500", "502", "503", "reset"])
async def test_a_create_failing_before_the_service_saw_it_is_looked_up_then_sent_once_more(
    sora_emulator: Emulator, make_client: Any, fault: str
) -> None:
    sora_emulator.inject(fault, endpoint="create")
    async with make_client() as client:
        video = await client.create_video(validate_request(prompt="a fox"))
        lookups = sora_emulator.stats()["lists"]
        jobs = await client.list_videos()

    stats = sora_emulator.stats()
    assert lookups == 1
    assert stats["faults"] == {fault: 1}
    assert stats["creates"] == 1
    assert stats["requests_total"] == 2 + 1 + 1  # two creates, the lookup, our list
    assert [job.id for job in jobs.data] == [video.id]


@pytest.mark.parametrize("endpoint", ["create", "remix"])
async def test_a_create_whose_answer_was_lost_is_found_by_the_lookup_not_sent_again(
    sora_emulator: Emulator, make_client: Any, endpoint: str
) -> None:
    async with make_client() as client:
        source = await client.create_video(validate_request(prompt="a fox [emulator:seconds=0]"))
        sora_emulator.inject("lost", endpoint=endpoint)  # the job is made, then the connection is reset

        if endpoint == "create":
            video = await client.create_video(validate_request(prompt="a heron"))
        else:
            video = await client.remix_video(source.id, "a heron")

    stats = sora_emulator.stats()
    assert stats["faults"] == {"lost": 1}
    assert stats["jobs_total"] == 2  # the source and the one the lost request made
    assert stats["lists"] == 1
    assert video.prompt == "a heron"
    assert sora_emulator.plan(video.id)["id"] == video.id


def test_retry_after_ms_wins_over_retry_after() -> None:
    assert retry_after_seconds(httpx.Headers({"retry-after": "2", "retry-after-ms": "1500"})) == 1.5
    assert retry_after_seconds(httpx.Headers({"retry-after": "2"})) == 2.0
    assert retry_after_seconds(httpx.Headers({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})) is None
    assert retry_after_seconds(httpx.Headers({"retry-after": "-1"})) is None
    assert retry_after_seconds(httpx.Headers({})) is None


def test_backoff_doubles_within_full_jitter_and_is_capped() -> None:
    policy = RetryPolicy(backoff_base=0.5, backoff_max=8.0)

    for attempt, ceiling in ((1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (9, 8.0)):
        delays = [policy.delay(attempt) for _ in range(50)]
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
    assert policy.delay(1, retry_after=3.0) == 3.0


@pytest.mark.parametrize(
    ("method", "outcome", "action", "still_working"),
    [
        ("GET", 200, Action.RETURN, False),
        ("POST", 201, Action.RETURN, False),
        ("GET", 429, Action.BACK_OFF, False),  # back-pressure: sent again without spending a retry
        ("POST", 429, Action.BACK_OFF, False),  # refused before any work: never a job
        ("GET", 503, Action.RETRY, False),
        ("DELETE", 500, Action.RETRY, False),
        ("POST", 500, Action.LOOK_UP, False),
        ("POST", 502, Action.LOOK_UP, False),
        ("POST", 504, Action.LOOK_UP, True),  # the gateway gave up; the service may not have
        ("POST", 408, Action.LOOK_UP, True),
        ("GET", 404, Action.RAISE, False),
        ("POST", 400, Action.RAISE, False),
        ("POST", 409, Action.RAISE, False),
        ("GET", 401, Action.RAISE, False),
        ("POST", httpx.ConnectError("refused"), Action.RETRY, False),  # never left the machine
        ("POST", httpx.PoolTimeout("pool"), Action.RETRY, False),
        ("POST", httpx.RemoteProtocolError("reset"), Action.LOOK_UP, False),
        ("POST", httpx.ReadTimeout("slow"), Action.LOOK_UP, True),
        ("GET", httpx.ReadTimeout("slow"), Action.RETRY, False),
        ("GET", ValueError("a bug"), Action.RAISE, False),
    ],
)
def test_classify_decides_each_outcome_by_method(
    method: str, outcome: int | BaseException, action: Action, still_working: bool
) -> None:
    verdict = classify(method, outcome)

    assert verdict.action is action
    assert verdict.still_working is still_working


async def test_a_polls_retries_end_by_the_deadline_handed_down(sora_emulator: Emulator) -> None:
    video_id = "video_never_answered"
    sora_emulator.inject("502", count=100_000, endpoint="retrieve")
    # Retries enough for a minute of backoff: only the deadline can end this.
    retry = RetryPolicy(max_retries=50, backoff_base=0.2, backoff_max=0.4)
    async with SoraClient(api_key="sk-deadline", base_url=sora_emulator.base_url, retry=retry, timeout=1.0) as client:
        started = time.monotonic()
        with pytest.raises(ServerError) as caught:
            await client.poll_video(video_id, deadline=started + 1.5)
        elapsed = time.monotonic() - started

    assert caught.value.video_id == video_id and caught.value.status_code == 502
    assert retries_spent(caught.value)  # so no layer above retries it again
    assert 3 <= sora_emulator.stats()["faults"]["502"] <= 12
    assert elapsed < 1.5 + 1.0 + 5.0  # the deadline, one request timeout, slack for a loaded machine


async def test_without_a_deadline_the_budget_in_seconds_ends_the_retries(sora_emulator: Emulator) -> None:
    sora_emulator.inject("503", count=100_000, endpoint="list")
    retry = RetryPolicy(max_retries=50, window_seconds=1.0, backoff_base=0.2, backoff_max=0.4)
    async with SoraClient(api_key="sk-budget", base_url=sora_emulator.base_url, retry=retry, timeout=1.0) as client:
        started = time.monotonic()
        with pytest.raises(ServerError):
            await client.list_videos()
        elapsed = time.monotonic() - started

    assert 2 <= sora_emulator.stats()["faults"]["503"] <= 10  # retried, but far fewer than 50 times
    assert elapsed < 1.0 + 1.0 + 5.0


async def test_a_429_that_would_wait_past_the_deadline_is_raised_at_once(sora_emulator: Emulator) -> None:
    sora_emulator.configure(retry_after_seconds=30)
    sora_emulator.inject("429", count=100, endpoint="retrieve")
    async with SoraClient(api_key="sk-patient", base_url=sora_emulator.base_url) as client:
        started = time.monotonic()
        with pytest.raises(RateLimited) as caught:
            await client.poll_video("video_x", deadline=started + 2.0)
        elapsed = time.monotonic() - started

    assert caught.value.video_id == "video_x"
    assert sora_emulator.stats()["faults"] == {"429": 1}
    assert elapsed < 2.0  # not the 30 s the gateway asked for


def test_only_what_the_client_gave_up_on_is_marked_spent() -> None:
    cut_short = TransportError("Download of video cut short", video_id="video_1")
    assert not retries_spent(cut_short) and not retries_spent(None)
    assert retries_spent(mark_spent(cut_short))
