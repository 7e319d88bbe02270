"""The server's openai-poll-after-ms: a create's hint reaches the wait that follows it; no hint, the prior."""

from __future__ import annotations

import logging
import re
from typing import Any

import httpx
import pytest

from prefect_sora._errors import WaitTimeout
from prefect_sora._transport import hints
from prefect_sora._transport.polling import PollSchedule, expected_duration
from prefect_sora._transport.waiting import wait_for_video
from prefect_sora._validation import validate_request
from prefect_sora.emulator import Emulator

pytestmark = pytest.mark.anyio

NEXT_POLL = re.compile(r"next poll in ([0-9.]+)s")


def answer(**headers: str) -> httpx.Response:
    return httpx.Response(200, headers=headers)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("250", 0.25), ("0", 0.0), (None, None), ("soon", None), ("-5", None), ("nan", None)],
)
def test_the_hint_is_read_in_seconds_and_anything_odd_is_no_hint(header: str | None, seconds: float | None) -> None:
    response = answer(**({"openai-poll-after-ms": header} if header is not None else {}))
    assert hints.poll_after(response) == seconds


def test_a_creates_hint_is_kept_for_its_jobs_first_wait_once() -> None:
    hints.remember("video_a", answer(**{"openai-poll-after-ms": "180"}))
    hints.remember("video_b", answer())

    assert (hints.take("video_a"), hints.take("video_a"), hints.take("video_b")) == (0.18, None, None)


def first_delays(records: list[logging.LogRecord], video_id: str) -> list[float]:
    lines = [r.getMessage() for r in records if r.name == "prefect_sora._transport.waiting"]
    return [float(m.group(1)) for line in lines if video_id in line and (m := NEXT_POLL.search(line))]


async def test_a_wait_on_a_just_created_job_polls_first_when_the_create_said(
    make_client: Any, sora_emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="prefect_sora._transport.waiting")
    async with make_client() as client:
        video = await client.create_video(validate_request(prompt="a fox", seconds="12", size="1280x720"))
        done = await wait_for_video(client, video, timeout=60)

    assert done.status == "completed"
    # The 0.2 s job's hint (its end, 10 ms past), not a third of a 12 s clip's prior (10 s).
    assert first_delays(caplog.records, video.id)[0] <= 0.5
    assert sora_emulator.stats()["polls"][video.id] == 1


async def test_without_a_hint_the_first_poll_waits_on_the_prior(api_key: str, caplog: pytest.LogCaptureFixture) -> None:
    """As against a gateway that sends none (LiteLLM's proxy): the prior-based schedule, unchanged."""
    from prefect_sora._transport.client import SoraClient

    caplog.set_level(logging.DEBUG, logger="prefect_sora._transport.waiting")
    with Emulator(job_seconds=60, poll_after_ms=0) as emulator:
        async with SoraClient(api_key=api_key, base_url=emulator.base_url) as client:
            video = await client.create_video(validate_request(prompt="a fox", seconds="12", size="1280x720"))
            with pytest.raises(WaitTimeout):
                await wait_for_video(client, video, timeout=1.0)

    # A third of the 12 s clip's prior (10 s), cut to the 1 s deadline; a hint would have said 0.2 s.
    assert PollSchedule(started=0.0, expected_seconds=expected_duration("12", "1280x720")).next_delay(0.0) == 10.0
    assert first_delays(caplog.records, video.id)[0] >= 0.9
