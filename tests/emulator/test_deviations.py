"""Deviations reported from compatible gateways, each on demand: odd statuses, timestamps, nulls, error shapes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timezone

import httpx
import pytest
from emulator_helpers import AUTH, ManualClock, assert_error, create

from prefect_sora.emulator import Emulator


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_800_000_000.25)


@pytest.fixture
def emu(clock: ManualClock) -> Iterator[Emulator]:
    """Jobs of exactly 10 s on a clock the test moves."""
    with Emulator(job_seconds=10, poll_after_ms=50) as emulator:
        emulator.state.clock = clock
        yield emulator


@pytest.fixture
def http(emu: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emu.base_url, headers=AUTH, timeout=10) as client:
        yield client


def status(http: httpx.Client, video_id: str) -> dict[str, object]:
    return dict(http.get(f"/videos/{video_id}").json())


# -- terminal and pending statuses -----------------------------------------------------------


@pytest.mark.parametrize("end", ["cancelled", "canceled", "error", "rejected"])
def test_a_failure_like_end_status_carries_an_error_and_has_no_content(
    http: httpx.Client, clock: ManualClock, end: str
) -> None:
    video = create(http, prompt=f"[emulator:end={end}]")
    clock.advance(5)
    assert status(http, video["id"])["status"] == "in_progress"
    clock.advance(5)
    ended = status(http, video["id"])
    assert ended["status"] == end
    assert ended["error"] == {"code": end, "message": f"The video generation ended with status '{end}'."}
    assert ended["completed_at"] is None and ended["expires_at"] is None
    assert_error(http.get(f"/videos/{video['id']}/content"), 409, code="video_failed")
    assert_error(http.post(f"/videos/{video['id']}/remix", json={"prompt": "p"}), 409, code="video_failed")
    assert http.delete(f"/videos/{video['id']}").status_code == 200, "an ended job can be deleted"


def test_an_expired_end_status_is_gone_with_a_410(http: httpx.Client, clock: ManualClock) -> None:
    video = create(http, prompt="[emulator:end=expired]")
    clock.advance(10)
    ended = status(http, video["id"])
    assert ended["status"] == "expired" and ended["error"]["code"] == "expired"  # type: ignore[index]
    assert_error(http.get(f"/videos/{video['id']}/content"), 410, code="video_expired")


def test_an_unknown_end_status_is_sent_bare(emu: Emulator, http: httpx.Client, clock: ManualClock) -> None:
    video = create(http, prompt="[emulator:end=weird]")
    clock.advance(10)
    response = http.get(f"/videos/{video['id']}")
    ended = response.json()
    assert (ended["status"], ended["error"], ended["progress"]) == ("weird", None, 99)
    assert "openai-poll-after-ms" not in response.headers, "it is over, as far as the emulator knows"
    assert_error(http.get(f"/videos/{video['id']}/content"), 409, code="video_not_ready")
    assert emu.stats()["jobs_by_status"]["weird"] == 1
    assert emu.plan(video["id"])["end_status"] == "weird"


def test_end_completed_and_end_failed_are_the_ordinary_outcomes(http: httpx.Client, clock: ManualClock) -> None:
    completed = create(http, prompt="[emulator:end=completed]")
    failed = create(http, prompt="[emulator:end=failed]")
    clock.advance(10)
    assert status(http, completed["id"])["status"] == "completed"
    assert status(http, failed["id"])["error"] == {
        "code": "moderation_blocked",
        "message": "Your request was blocked by our moderation system.",
    }


def test_a_pending_status_directive_replaces_in_progress_only(http: httpx.Client, clock: ManualClock) -> None:
    video = create(http, prompt="[emulator:pending_status=processing]")
    assert video["status"] == "queued"
    clock.advance(5)
    running = http.get(f"/videos/{video['id']}")
    assert running.json()["status"] == "processing" and 0 < running.json()["progress"] < 100
    assert running.headers["openai-poll-after-ms"] == "50", "still pending for the poll hint"
    assert_error(http.get(f"/videos/{video['id']}/content"), 409, code="video_not_ready")
    assert_error(http.delete(f"/videos/{video['id']}"), 409, code="video_in_progress")
    clock.advance(5)
    assert status(http, video["id"])["status"] == "completed"


@pytest.mark.parametrize(
    "prompt", ["[emulator:end=weird] [emulator:stuck]", "[emulator:end=a b]", "[emulator:fail] [emulator:end=x]"]
)
def test_contradictory_or_malformed_status_directives_are_a_400(http: httpx.Client, prompt: str) -> None:
    response = http.post("/videos", json={"model": "sora-2", "prompt": prompt})
    assert_error(response, 400, code="invalid_emulator_directive", param="prompt")


def test_status_aliases_rename_schema_statuses(emu: Emulator, http: httpx.Client, clock: ManualClock) -> None:
    emu.configure(status_aliases={"queued": "pending", "in_progress": "processing", "completed": "succeeded"})
    video = create(http)
    assert video["status"] == "pending"
    clock.advance(5)
    assert status(http, video["id"])["status"] == "processing"
    clock.advance(5)
    assert status(http, video["id"])["status"] == "succeeded"
    assert http.get("/videos").json()["data"][0]["status"] == "succeeded"
    assert http.get(f"/videos/{video['id']}/content").status_code == 200, "the job itself completed"


def test_a_create_can_fail_at_once(http: httpx.Client) -> None:
    video = create(http, prompt="[emulator:fail_at_create=input_moderation] a fox")
    assert (video["status"], video["progress"]) == ("failed", 0)
    assert video["error"] == {"code": "input_moderation", "message": "The input was flagged by our moderation system."}
    assert status(http, video["id"])["status"] == "failed"
    default = create(http, prompt="[emulator:fail_at_create]")
    assert default["error"]["code"] == "moderation_blocked"
    assert_error(http.get(f"/videos/{video['id']}/content"), 409, code="video_failed")


# -- timestamps and fields -------------------------------------------------------------------


def completed_video(emu: Emulator, http: httpx.Client, clock: ManualClock) -> dict[str, object]:
    video = create(http)
    clock.advance(10)
    return status(http, video["id"])


def test_timestamps_as_floats(emu: Emulator, http: httpx.Client, clock: ManualClock) -> None:
    emu.configure(timestamp_format="float")
    video = completed_video(emu, http, clock)
    assert video["created_at"] == 1_800_000_000.25 and video["completed_at"] == 1_800_000_010.25
    assert video["expires_at"] == 1_800_003_610.25


def test_timestamps_as_numeric_strings(emu: Emulator, http: httpx.Client, clock: ManualClock) -> None:
    emu.configure(timestamp_format="string")
    video = completed_video(emu, http, clock)
    assert (video["created_at"], video["completed_at"], video["expires_at"]) == (
        "1800000000",
        "1800000010",
        "1800003610",
    )


def test_timestamps_as_iso_8601_utc(emu: Emulator, http: httpx.Client, clock: ManualClock) -> None:
    emu.configure(timestamp_format="iso")
    video = completed_video(emu, http, clock)
    assert video["created_at"] == "2027-01-15T08:00:00Z"
    parsed = datetime.strptime(str(video["completed_at"]), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert parsed.timestamp() == 1_800_000_010
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", str(video["expires_at"]))
    assert create(http)["completed_at"] is None, "unset timestamps stay null"


def test_null_and_omitted_fields(emu: Emulator, http: httpx.Client, clock: ManualClock) -> None:
    emu.configure(null_fields=["seconds", "size", "quality", "progress"], omit_fields=["expires_at", "prompt"])
    video = completed_video(emu, http, clock)
    assert (video["seconds"], video["size"], video["quality"], video["progress"]) == (None, None, None, None)
    assert "expires_at" not in video and "prompt" not in video
    assert video["status"] == "completed" and "completed_at" in video
    listed = http.get("/videos").json()["data"][0]
    assert listed["seconds"] is None and "prompt" not in listed
    assert http.get(f"/videos/{video['id']}/content").headers["content-type"] == "video/mp4"


def test_unknown_fields_cannot_be_nulled_or_omitted(emu: Emulator) -> None:
    with pytest.raises(ValueError):
        emu.configure(null_fields=["id"])
    with pytest.raises(ValueError):
        emu.configure(omit_fields=["status"])


# -- error envelopes -------------------------------------------------------------------------


def refusals(emu: Emulator, http: httpx.Client) -> list[httpx.Response]:
    """One of each kind of error answer: validation, auth, not found, conflict, faults, rpm, no route."""
    pending = create(http)
    answers = [
        http.post("/videos", json={"model": "sora-2", "prompt": ""}),
        httpx.get(f"{emu.base_url}/videos"),
        http.get("/videos/video_missing"),
        http.get(f"/videos/{pending['id']}/content"),
        http.get("/nowhere"),
    ]
    emu.inject(429, endpoint="list")
    emu.inject(503, endpoint="list")
    answers += [http.get("/videos"), http.get("/videos")]
    emu.configure(rpm=60, rpm_burst=1)
    http.get("/videos")
    answers.append(http.get("/videos"))
    assert [response.status_code for response in answers] == [400, 401, 404, 409, 404, 429, 503, 429]
    return answers


@pytest.mark.parametrize(
    ("envelope", "shape"),
    [
        ("string", lambda status: {"error"}),
        ("message", lambda status: {"message"}),
        ("msg", lambda status: {"code", "msg"}),
        ("detail", lambda status: {"detail"}),
    ],
)
def test_every_error_answer_uses_the_configured_json_envelope(
    emu: Emulator, http: httpx.Client, envelope: str, shape: object
) -> None:
    emu.configure(error_envelope=envelope)
    for response in refusals(emu, http):
        body = response.json()
        assert response.headers["content-type"].startswith("application/json")
        assert set(body) == shape(response.status_code)  # type: ignore[operator]
        text = body.get("error") or body.get("message") or body.get("msg") or body.get("detail")
        assert isinstance(text, str) and text
        if envelope == "msg":
            assert body["code"] == response.status_code


def test_text_envelope_sends_plain_text(emu: Emulator, http: httpx.Client) -> None:
    emu.configure(error_envelope="text")
    for response in refusals(emu, http):
        assert response.headers["content-type"].startswith("text/plain")
        assert response.text and not response.text.startswith("{")
    assert "Rate limit reached for requests" in response.text


def test_azure_refusals_follow_the_configured_envelope_too() -> None:
    with Emulator(profile="azure", job_seconds=1, error_envelope="detail") as emu:
        response = httpx.get(f"{emu.base_url}/videos", headers=AUTH)
        assert response.status_code == 401 and set(response.json()) == {"detail"}
