"""Each HTTP failure becomes the error class that says what to do next, from real emulator answers.

Every error keeps ``status_code``, ``request_id`` and ``video_id``, survives pickling (Prefect
stores exceptions in states) and never shows the API key.
"""

from __future__ import annotations

import pickle
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from prefect_sora._errors import (
    AuthenticationFailed,
    BudgetExceeded,
    ContentExpired,
    ContentNotReady,
    InvalidParameter,
    InvalidRequest,
    JobFailed,
    JobPending,
    RateLimited,
    ServerError,
    SoraError,
    TransportError,
    VideoNotFound,
    WaitTimeout,
)
from prefect_sora._models import Video, VideoRequest
from prefect_sora._transport.client import SoraClient
from prefect_sora._transport.retries import RetryPolicy
from prefect_sora._validation import validate_request
from prefect_sora.emulator import Emulator

pytestmark = pytest.mark.anyio

Provoke = Callable[[Emulator, Any, str], Awaitable[None]]


async def _job(client: SoraClient, prompt: str = "a fox") -> Video:
    return await client.create_video(validate_request(prompt=prompt))


async def _completed_job(emu: Emulator, client: SoraClient) -> Video:
    video = await _job(client, "a fox [emulator:seconds=0]")
    deadline = time.monotonic() + 5
    while not (await client.retrieve_video(video.id)).is_completed:
        assert time.monotonic() < deadline, "the job did not complete"
    return video


async def bad_request(emu: Emulator, make_client: Any, key: str) -> None:
    # Bypasses local validation on purpose, to get the service's own 400.
    request = VideoRequest.model_construct(prompt="a fox", model="sora-2", seconds="10", size="720x1280")
    async with make_client() as client:
        await client.create_video(request)


async def wrong_key(emu: Emulator, make_client: Any, key: str) -> None:
    with Emulator(api_key="sk-the-emulators-own-key") as guarded:
        async with SoraClient(api_key=key, base_url=guarded.base_url) as client:
            await client.retrieve_video("video_abc")


async def unknown_id(emu: Emulator, make_client: Any, key: str) -> None:
    async with make_client() as client:
        await client.retrieve_video("video_doesnotexist")


async def content_too_early(emu: Emulator, make_client: Any, key: str) -> None:
    async with make_client() as client:
        video = await _job(client, "a fox [emulator:stuck]")
        async with client.stream_content(video.id):
            pass


async def content_expired(emu: Emulator, make_client: Any, key: str) -> None:
    async with make_client() as client:
        video = await _completed_job(emu, client)
        emu.expire(video.id)
        async with client.stream_content(video.id):
            pass


async def rate_limited(emu: Emulator, make_client: Any, key: str) -> None:
    # A 429 is back-pressure that spends no retry; it is raised once the patience is used up.
    emu.configure(retry_after_seconds=0.25)
    emu.inject("429", endpoint="retrieve")
    retry = RetryPolicy(max_retries=0, rate_limit_patience=0)
    async with SoraClient(api_key=key or "sk-test", base_url=emu.base_url, retry=retry) as client:
        await client.retrieve_video("video_abc")


async def server_error(emu: Emulator, make_client: Any, key: str) -> None:
    emu.inject("500", count=3, endpoint="retrieve")
    async with make_client(max_retries=2) as client:
        await client.retrieve_video("video_abc")


async def connection_reset(emu: Emulator, make_client: Any, key: str) -> None:
    emu.inject("reset", endpoint="retrieve")
    async with make_client(max_retries=0) as client:
        await client.retrieve_video("video_abc")


@dataclass(frozen=True)
class Case:
    provoke: Provoke
    error: type[SoraError]
    status_code: int | None
    video_id: str | None  # "*" for "the job's own id"


CASES = {
    "400": Case(bad_request, InvalidRequest, 400, None),
    "401": Case(wrong_key, AuthenticationFailed, 401, "video_abc"),
    "404": Case(unknown_id, VideoNotFound, 404, "video_doesnotexist"),
    "409": Case(content_too_early, ContentNotReady, 409, "*"),
    "410": Case(content_expired, ContentExpired, 410, "*"),
    "429": Case(rate_limited, RateLimited, 429, "video_abc"),
    "5xx": Case(server_error, ServerError, 500, "video_abc"),
    "reset": Case(connection_reset, TransportError, None, "video_abc"),
}


async def provoke(case: Case, emu: Emulator, make_client: Any, key: str) -> SoraError:
    with pytest.raises(SoraError) as caught:
        await case.provoke(emu, make_client, key)
    return caught.value


@pytest.fixture(params=list(CASES))
def case(request: pytest.FixtureRequest) -> Case:
    return CASES[request.param]


async def test_each_answer_raises_its_class_with_status_request_and_video_id(
    case: Case, sora_emulator: Emulator, make_client: Any, api_key: str
) -> None:
    error = await provoke(case, sora_emulator, make_client, api_key)

    assert type(error) is case.error
    assert error.status_code == case.status_code
    if case.status_code is None:
        assert error.request_id is None  # no answer arrived to carry one
    else:
        assert error.request_id is not None and error.request_id.startswith("req_")
        assert error.request_id in str(error)
    if case.video_id == "*":
        assert error.video_id is not None and error.video_id.startswith("video_")
    else:
        assert error.video_id == case.video_id


async def test_errors_survive_pickling_with_their_attributes(
    case: Case, sora_emulator: Emulator, make_client: Any, api_key: str
) -> None:
    error = await provoke(case, sora_emulator, make_client, api_key)

    restored = pickle.loads(pickle.dumps(error))

    assert type(restored) is type(error)
    assert str(restored) == str(error)
    assert vars(restored) == vars(error)


async def test_the_api_key_is_in_no_message_repr_or_traceback(
    case: Case, sora_emulator: Emulator, make_client: Any, api_key: str
) -> None:
    error = await provoke(case, sora_emulator, make_client, api_key)

    shown = [str(error), repr(error), "".join(traceback.format_exception(error)), repr(vars(error))]
    assert not [text for text in shown if api_key in text]


async def test_a_400_names_the_parameter_the_service_refused(sora_emulator: Emulator, make_client: Any) -> None:
    error = await provoke(CASES["400"], sora_emulator, make_client, "")

    assert isinstance(error, InvalidRequest)
    assert error.param == "seconds"
    assert "seconds" in str(error)


async def test_a_429_carries_the_services_retry_after(sora_emulator: Emulator, make_client: Any) -> None:
    error = await provoke(CASES["429"], sora_emulator, make_client, "")

    assert isinstance(error, RateLimited)
    assert error.retry_after == pytest.approx(0.25)


async def test_a_5xx_is_raised_only_after_the_retries_are_spent(sora_emulator: Emulator, make_client: Any) -> None:
    await provoke(CASES["5xx"], sora_emulator, make_client, "")

    stats = sora_emulator.stats()
    assert stats["requests_total"] == 3  # the first attempt and two retries
    assert stats["faults"] == {"500": 3}


@pytest.mark.parametrize(
    "error",
    [
        InvalidParameter("seconds", 10, 'must be "4", "8" or "12"'),
        BudgetExceeded(estimated_usd=Decimal("25.20"), max_cost_usd=Decimal("5")),
        JobFailed("Job failed: blocked", code="moderation_blocked", video_id="video_1", request_id="req_1"),
        JobPending("still going", status="in_progress", progress=40.0, video_id="video_1"),
        WaitTimeout("too slow", status="queued", progress=0.0, video_id="video_1"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_errors_made_by_the_library_itself_pickle_too(error: SoraError) -> None:
    restored = pickle.loads(pickle.dumps(error))

    assert type(restored) is type(error)
    assert vars(restored) == vars(error)
    assert str(restored) == str(error)
