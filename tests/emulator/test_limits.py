"""Per-key limits the way gateways enforce them: the rpm bucket, its headers, running-job caps, peaks."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest
from emulator_helpers import ManualClock, assert_error, create

from prefect_sora.emulator import Emulator
from prefect_sora.emulator._limits import go_duration, key_label

KEY_A, KEY_B = "sk-limits-alpha-0001", "sk-limits-bravo-0002"


def client(emu: Emulator, key: str = KEY_A) -> httpx.Client:
    return httpx.Client(base_url=emu.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=10)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def limited(clock: ManualClock) -> Iterator[Emulator]:
    """60 rpm (one token a second), a bucket of 3, on a clock the test moves."""
    with Emulator(job_seconds=10, rpm=60, rpm_burst=3) as emu:
        emu.state.clock = clock
        yield emu


def headers_of(response: httpx.Response) -> tuple[str, str, str]:
    return (
        response.headers["x-ratelimit-limit-requests"],
        response.headers["x-ratelimit-remaining-requests"],
        response.headers["x-ratelimit-reset-requests"],
    )


def test_the_bucket_counts_down_refuses_past_the_burst_and_refills_at_rpm_over_60(
    limited: Emulator, clock: ManualClock
) -> None:
    with client(limited) as api:
        answers = [api.get("/videos") for _ in range(3)]
        assert [r.status_code for r in answers] == [200, 200, 200]
        assert [headers_of(r) for r in answers] == [("60", "2", "1s"), ("60", "1", "2s"), ("60", "0", "3s")]
        refused = api.get("/videos")
        error = assert_error(refused, 429, code="rate_limit_exceeded")
        assert error["type"] == "requests"
        assert "Limit 60" in error["message"] and "Please try again in 1s." in error["message"]
        assert (refused.headers["retry-after"], refused.headers["retry-after-ms"]) == ("1", "1000")
        assert headers_of(refused) == ("60", "0", "3s")
        clock.advance(0.5)
        half = api.get("/videos")
        assert half.status_code == 429, "half a token is not a token"
        assert (half.headers["retry-after"], half.headers["retry-after-ms"]) == ("1", "500")
        assert "Please try again in 500ms." in half.json()["error"]["message"]
        clock.advance(0.5)
        assert api.get("/videos").status_code == 200, "one token a second at 60 rpm"
        assert api.get("/videos").status_code == 429, "and only one"
        clock.advance(10)
        full = [api.get("/videos").status_code for _ in range(4)]
        assert full == [200, 200, 200, 429], "the bucket never holds more than the burst"
    stats = limited.stats()
    assert stats["rate_limited"] == {"rpm": 4, "running_jobs": 0, "fault": 0}
    assert stats["lists"] == 7 and stats["responses_by_status"] == {"200": 7, "429": 4}


def test_refused_requests_take_no_token(limited: Emulator, clock: ManualClock) -> None:
    with client(limited) as api:
        for _ in range(3):
            api.get("/videos")
        for _ in range(5):
            assert api.get("/videos").status_code == 429
        clock.advance(1)
        assert api.get("/videos").status_code == 200, "the refusals did not dig the bucket deeper"


def test_the_bucket_recovers_in_real_time() -> None:
    with Emulator(job_seconds=1, rpm=600, rpm_burst=2) as emu, client(emu) as api:
        statuses = [api.get("/videos").status_code for _ in range(3)]
        assert statuses[:2] == [200, 200]
        refused = next(r for r in (api.get("/videos") for _ in range(20)) if r.status_code == 429)
        wait_ms = int(refused.headers["retry-after-ms"])
        assert 0 < wait_ms <= 100, "600 rpm refills a token every 100 ms"
        time.sleep(wait_ms / 1000 + 0.02)
        assert api.get("/videos").status_code == 200


def test_default_burst_is_a_tenth_of_rpm(clock: ManualClock) -> None:
    with Emulator(job_seconds=1, rpm=50) as emu, client(emu) as api:
        emu.state.clock = clock
        statuses = [api.get("/videos").status_code for _ in range(6)]
        assert statuses == [200] * 5 + [429]
        assert emu.config.bucket_capacity == 5


def test_every_answer_carries_the_headers_errors_and_faults_included(limited: Emulator) -> None:
    with client(limited) as api:
        not_found = api.get("/videos/video_missing")
        assert not_found.status_code == 404 and headers_of(not_found)[1] == "2"
        limited.inject(500, endpoint="list")
        assert api.get("/videos").status_code == 500
        limited.inject(502, endpoint="list")
        bad_gateway = api.get("/videos")
        assert bad_gateway.status_code == 502 and headers_of(bad_gateway)[1] == "0"
    with client(limited, KEY_B) as api:
        limited.inject(429, endpoint="list")
        fault = api.get("/videos")
        assert_error(fault, 429, code="rate_limit_exceeded")
        assert headers_of(fault) == ("60", "2", "1s"), "an injected 429 took a token like any request"
        assert fault.headers["retry-after"] == "1"
    unauthenticated = httpx.get(f"{limited.base_url}/videos")
    assert unauthenticated.status_code == 401 and "x-ratelimit-remaining-requests" in unauthenticated.headers
    assert limited.stats()["rate_limited"] == {"rpm": 0, "running_jobs": 0, "fault": 1}


def test_no_headers_without_rpm(api: httpx.Client) -> None:
    response = api.get("/videos")
    assert not [name for name in response.headers if name.startswith("x-ratelimit")]


def test_keys_have_their_own_buckets_and_are_never_shown(limited: Emulator) -> None:
    with client(limited, KEY_A) as alpha, client(limited, KEY_B) as bravo:
        assert [alpha.get("/videos").status_code for _ in range(4)] == [200, 200, 200, 429]
        assert bravo.get("/videos").status_code == 200, "bravo's bucket is untouched"
        assert headers_of(bravo.get("/videos"))[1] == "1"
        body = alpha.get("/videos").text
    stats = limited.stats()
    label_a, label_b = key_label(KEY_A), key_label(KEY_B)
    assert label_a.startswith("key-") and len(label_a) == 12
    assert stats["requests_by_key"] == {label_a: 5, label_b: 2}
    assert label_a in body, "a refusal names the key only by its label"
    for text in (json.dumps(stats), body, json.dumps(limited.config.public_dump())):
        assert KEY_A not in text and KEY_B not in text


def test_azure_keys_come_from_the_api_key_header(clock: ManualClock) -> None:
    with Emulator(profile="azure", job_seconds=1, rpm=60, rpm_burst=1) as emu:
        emu.state.clock = clock
        one = httpx.get(f"{emu.base_url}/videos", headers={"api-key": KEY_A})
        two = httpx.get(f"{emu.base_url}/videos", headers={"api-key": KEY_B})
        assert (one.status_code, two.status_code) == (200, 200)
        assert httpx.get(f"{emu.base_url}/videos", headers={"api-key": KEY_A}).status_code == 429
        assert set(emu.stats()["requests_by_key"]) == {key_label(KEY_A), key_label(KEY_B)}


def test_peaks_count_arrivals_and_acceptances_in_a_sliding_minute(limited: Emulator, clock: ManualClock) -> None:
    limited.configure(rpm=6000, rpm_burst=5)
    label = key_label(KEY_A)
    with client(limited) as api:
        assert [api.get("/videos").status_code for _ in range(7)] == [200] * 5 + [429] * 2
        clock.advance(30)
        assert [api.get("/videos").status_code for _ in range(3)] == [200] * 3
        stats = limited.stats()
        assert stats["peak_requests_per_minute"] == {label: 10}
        assert stats["peak_accepted_per_minute"] == {label: 8}
        clock.advance(31)  # the first seven left the window; the three of t=30 s remain
        for _ in range(5):
            clock.advance(0.01)
            api.get("/videos")
        stats = limited.stats()
        assert stats["peak_requests_per_minute"] == {label: 10}, "3 + 5 in the window: no new peak"
        for _ in range(3):
            clock.advance(0.01)
            api.get("/videos")
        stats = limited.stats()
        assert stats["peak_requests_per_minute"] == {label: 11}
        assert stats["requests_by_key"] == {label: 18}


def test_max_running_jobs_refuses_creates_until_the_first_job_ends(clock: ManualClock) -> None:
    with Emulator(job_seconds=10, max_running_jobs=2) as emu, client(emu) as api, client(emu, KEY_B) as other:
        emu.state.clock = clock
        first = create(api, prompt="first")
        clock.advance(4)
        create(api, prompt="second")
        refused = api.post("/videos", json={"model": "sora-2", "prompt": "third"})
        assert_error(refused, 429, code="too_many_running_jobs")
        assert (refused.headers["retry-after"], refused.headers["retry-after-ms"]) == ("6", "6000")
        assert create(other, prompt="another key")["status"] == "queued", "the cap is per key"
        clock.advance(6)
        assert api.get(f"/videos/{first['id']}").json()["status"] == "completed"
        third = create(api, prompt="third")
        remix = api.post(f"/videos/{first['id']}/remix", json={"prompt": "remix"})
        assert_error(remix, 429, code="too_many_running_jobs")
        assert api.get(f"/videos/{third['id']}").json()["status"] == "queued"
    stats = emu.stats()
    assert stats["rate_limited"] == {"rpm": 0, "running_jobs": 2, "fault": 0}
    assert stats["creates"] == 4 and stats["remixes"] == 0


def test_jobs_that_ended_do_not_count_as_running(clock: ManualClock) -> None:
    with Emulator(job_seconds=5, max_running_jobs=1) as emu, client(emu) as api:
        emu.state.clock = clock
        assert create(api, prompt="[emulator:fail_at_create]")["status"] == "failed"
        failing = create(api, prompt="[emulator:fail] [emulator:seconds=1]")
        clock.advance(1)
        assert api.get(f"/videos/{failing['id']}").json()["status"] == "failed"
        assert create(api)["status"] == "queued"


def test_running_jobs_wait_is_at_least_a_second_and_100_ms(clock: ManualClock) -> None:
    with Emulator(job_seconds=1, max_running_jobs=1) as emu, client(emu) as api:
        emu.state.clock = clock
        create(api)
        clock.advance(0.97)
        refused = api.post("/videos", json={"model": "sora-2", "prompt": "x"})
        assert (refused.headers["retry-after"], refused.headers["retry-after-ms"]) == ("1", "100")


def test_retry_after_headers_can_be_switched_off(limited: Emulator) -> None:
    limited.configure(retry_after_headers=False)
    with client(limited) as api:
        for _ in range(3):
            api.get("/videos")
        limited_answer = api.get("/videos")
        limited.configure(rpm=None)
        limited.inject(429)
        fault = api.get("/videos")
    for response in (limited_answer, fault):
        assert response.status_code == 429
        assert "retry-after" not in response.headers and "retry-after-ms" not in response.headers


def test_limits_change_through_configure_and_patch_and_reset_clears_the_counters(
    limited: Emulator, clock: ManualClock
) -> None:
    with client(limited) as api:
        assert [api.get("/videos").status_code for _ in range(4)] == [200, 200, 200, 429]
        admin = httpx.patch(f"{limited.url}/_emulator/config", json={"rpm": 120, "rpm_burst": 1, "max_running_jobs": 1})
        assert admin.status_code == 200 and admin.json()["rpm"] == 120 and admin.json()["max_running_jobs"] == 1
        response = api.get("/videos")
        assert headers_of(response) == ("120", "0", "500ms"), "new limits start from a full bucket"
        assert httpx.patch(f"{limited.url}/_emulator/config", json={"rpm": 0}).status_code == 400
        httpx.post(f"{limited.url}/_emulator/reset")
        stats = limited.stats()
        assert stats["rate_limited"] == {"rpm": 0, "running_jobs": 0, "fault": 0}
        assert stats["requests_by_key"] == {} and stats["peak_requests_per_minute"] == {}
        assert limited.config.rpm == 60, "reset restores the startup config"
        assert api.get("/videos").status_code == 200


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (0.12, "120ms"), (1, "1s"), (1.5, "1.5s"), (90, "1m30s"), (360, "6m0s"), (3723, "1h2m3s")],
)
def test_reset_durations_are_written_the_way_openai_writes_them(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text
