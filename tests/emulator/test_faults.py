"""Injected request faults look to a client exactly like the real failures they stand for."""

from __future__ import annotations

import time

import httpx
import pytest
from emulator_helpers import AUTH, assert_error, create, wait_status

from prefect_sora.emulator import Emulator, EmulatorConfig

TRANSPORT_ERRORS = (httpx.RemoteProtocolError, httpx.ReadError, httpx.ConnectError)


def completed_video(api: httpx.Client) -> str:
    video_id = str(create(api)["id"])
    wait_status(api, video_id, "completed")
    return video_id


def test_scripted_429_carries_retry_after_headers(sora_emulator: Emulator, api: httpx.Client) -> None:
    sora_emulator.configure(retry_after_seconds=2.5)
    sora_emulator.inject(429)
    response = api.get("/videos")
    assert_error(response, 429, code="rate_limit_exceeded")
    assert response.headers["retry-after"] == "3"
    assert response.headers["retry-after-ms"] == "2500"
    assert "x-request-id" in response.headers
    assert api.get("/videos").status_code == 200, "a count of 1 is spent after one request"


def test_scripted_faults_hit_only_their_endpoint_and_count(sora_emulator: Emulator, api: httpx.Client) -> None:
    sora_emulator.inject(500, count=2, endpoint="retrieve")
    video = create(api)  # a create is not a retrieve: untouched
    statuses = [api.get(f"/videos/{video['id']}").status_code for _ in range(3)]
    assert statuses == [500, 500, 200]
    assert sora_emulator.stats()["faults"] == {"500": 2}


@pytest.mark.parametrize("status", [500, 502, 503])
def test_scripted_5xx(sora_emulator: Emulator, api: httpx.Client, status: int) -> None:
    sora_emulator.inject(status)
    response = api.get("/videos")
    assert response.status_code == status
    if status == 502:
        # A gateway's proxy answers 502 in HTML, not in the API's envelope.
        assert response.headers["content-type"].startswith("text/html") and "502" in response.text
    else:
        assert_error(response, status)


def test_reset_aborts_the_connection_without_a_response(sora_emulator: Emulator, api: httpx.Client) -> None:
    sora_emulator.inject("reset", endpoint="list")
    with pytest.raises(TRANSPORT_ERRORS):
        api.get("/videos")
    assert api.get("/videos").status_code == 200, "the next request goes through"
    stats = sora_emulator.stats()
    assert stats["faults"] == {"reset": 1} and stats["lists"] == 1


def test_slow_delays_the_answer_past_a_short_read_timeout(sora_emulator: Emulator, api: httpx.Client) -> None:
    sora_emulator.configure(slow_seconds=0.6)
    sora_emulator.inject("slow")
    with pytest.raises(httpx.ReadTimeout):
        api.get("/videos", timeout=httpx.Timeout(5, read=0.15))
    sora_emulator.inject("slow")
    started = time.monotonic()
    assert api.get("/videos").status_code == 200
    assert time.monotonic() - started >= 0.6


def test_truncate_announces_the_full_length_and_sends_less(sora_emulator: Emulator, api: httpx.Client) -> None:
    video_id = completed_video(api)
    sora_emulator.inject("truncate", endpoint="content")
    received = 0
    with pytest.raises(httpx.RemoteProtocolError), api.stream("GET", f"/videos/{video_id}/content") as response:
        announced = int(response.headers["content-length"])
        for chunk in response.iter_raw():
            received += len(chunk)
    assert 0 < received < announced
    full = api.get(f"/videos/{video_id}/content")
    assert len(full.content) == announced, "the next download is whole"


def test_truncate_rate_applies_to_downloads_only(api: httpx.Client, sora_emulator: Emulator) -> None:
    video_id = completed_video(api)
    sora_emulator.configure(truncate_rate=1.0)
    assert api.get(f"/videos/{video_id}").status_code == 200
    with pytest.raises(httpx.RemoteProtocolError):
        api.get(f"/videos/{video_id}/content")


def test_rate_limit_rate_one_limits_every_request() -> None:
    with (
        Emulator(job_seconds=0.1, rate_limit_rate=1.0) as emu,
        httpx.Client(base_url=emu.base_url, headers=AUTH) as api,
    ):
        assert {api.get("/videos").status_code for _ in range(5)} == {429}
        assert emu.stats()["faults"] == {"429": 5} and emu.stats()["lists"] == 0


def test_fault_endpoints_limit_where_random_faults_land() -> None:
    config = EmulatorConfig(job_seconds=0.05, rate_limit_rate=1.0, fault_endpoints=["content"])
    with Emulator(config) as emu, httpx.Client(base_url=emu.base_url, headers=AUTH) as api:
        video = wait_status(api, create(api)["id"], "completed")
        assert api.get(f"/videos/{video['id']}/content").status_code == 429
        assert api.get("/videos").status_code == 200


def test_error_bursts_come_in_runs_of_the_configured_length() -> None:
    config = EmulatorConfig(job_seconds=0.05, error_burst_rate=0.1, error_burst_length=4, seed=5)
    with Emulator(config) as emu, httpx.Client(base_url=emu.base_url, headers=AUTH) as api:
        statuses = [api.get("/videos").status_code for _ in range(300)]
    runs: list[tuple[int, int]] = []
    for status in statuses:
        if runs and runs[-1][0] == status:
            runs[-1] = (status, runs[-1][1] + 1)
        else:
            runs.append((status, 1))
    error_runs = [(status, length) for status, length in runs[:-1] if status != 200]
    assert error_runs, "a 10 % burst rate over 300 requests must start bursts"
    assert all(length % 4 == 0 for _, length in error_runs), error_runs
    assert {status for status, _ in error_runs} <= {500, 502, 503}


def fault_sequence(seed: int) -> list[int | str]:
    config = EmulatorConfig(job_seconds=0.05, seed=seed, rate_limit_rate=0.15, error_burst_rate=0.05, reset_rate=0.05)
    outcomes: list[int | str] = []
    with Emulator(config) as emu, httpx.Client(base_url=emu.base_url, headers=AUTH) as api:
        for _ in range(80):
            try:
                outcomes.append(api.get("/videos").status_code)
            except TRANSPORT_ERRORS:
                outcomes.append("reset")
    return outcomes


def test_the_same_seed_gives_the_same_fault_sequence() -> None:
    first = fault_sequence(42)
    assert first == fault_sequence(42)
    assert first != fault_sequence(43)
    assert {429, 200, "reset"} <= set(first)


def test_synthetic_content_streams_a_large_body_of_exactly_that_size() -> None:
    size = 256 * 1024 * 1024 + 7
    with (
        Emulator(job_seconds=0.05, synthetic_content_bytes=size) as emu,
        httpx.Client(base_url=emu.base_url, headers=AUTH, timeout=30) as api,
    ):
        video_id = completed_video(api)
        received = 0
        with api.stream("GET", f"/videos/{video_id}/content") as response:
            assert response.headers["content-length"] == str(size)
            for chunk in response.iter_raw():
                received += len(chunk)
        assert received == size
        thumbnail = api.get(f"/videos/{video_id}/content", params={"variant": "thumbnail"})
        assert thumbnail.headers["content-type"].startswith("image/"), "only the video is synthetic"


def test_a_lost_create_makes_the_job_but_resets_the_connection(api: httpx.Client, sora_emulator: Emulator) -> None:
    sora_emulator.inject("lost", endpoint="create")
    with pytest.raises(httpx.TransportError):
        api.post("/videos", json={"model": "sora-2", "prompt": "lost"})
    stats = sora_emulator.stats()
    assert stats["creates"] == 1 and stats["faults"] == {"lost": 1}
    assert [video["prompt"] for video in api.get("/videos").json()["data"]] == ["lost"]
