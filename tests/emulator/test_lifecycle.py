"""Jobs go queued -> in_progress -> completed or failed (or hang), on time and reproducibly."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from emulator_helpers import AUTH, create, wait_status
from servers import wait_for

from prefect_sora.emulator import Emulator, EmulatorConfig
from prefect_sora.emulator._jobs import progress_at

VIDEO_FIELDS = {
    "id",
    "object",
    "model",
    "status",
    "progress",
    "created_at",
    "completed_at",
    "expires_at",
    "size",
    "seconds",
    "quality",
    "prompt",
    "remixed_from_video_id",
    "error",
}


def client(emu: Emulator) -> httpx.Client:
    return httpx.Client(base_url=emu.base_url, headers=AUTH, timeout=10)


def test_a_job_is_queued_then_in_progress_with_rising_progress_then_completed() -> None:
    config = EmulatorConfig(job_seconds=0.8, queue_seconds_range=(0.15, 0.15))
    with Emulator(config) as emu, client(emu) as api:
        video = create(api)
        assert set(video) == VIDEO_FIELDS
        assert video["id"].startswith("video_") and video["object"] == "video"
        assert (video["status"], video["progress"], video["completed_at"], video["error"]) == ("queued", 0, None, None)
        seen: list[tuple[str, int]] = []

        def done() -> bool:
            current = api.get(f"/videos/{video['id']}").json()
            assert set(current) == VIDEO_FIELDS
            seen.append((current["status"], current["progress"]))
            return bool(current["status"] == "completed")

        wait_for(done, 5, "the job completed", every=0.02)
        statuses = [status for status, _ in seen]
        assert statuses.index("in_progress") < statuses.index("completed")
        progress = [value for status, value in seen if status == "in_progress"]
        assert progress == sorted(progress), "progress never goes back"
        assert any(0 < value < 100 for value in progress) and max(progress) < 100
        final = api.get(f"/videos/{video['id']}").json()
        assert final["progress"] == 100 and final["error"] is None
        assert final["completed_at"] >= final["created_at"]
        assert final["expires_at"] == final["completed_at"] + 3600


def test_job_seconds_makes_a_job_complete_exactly_that_long_after_creation() -> None:
    with Emulator(job_seconds=0.8) as emu, client(emu) as api:
        before = time.time()
        video = create(api)
        plan = emu.plan(video["id"])
        assert before <= plan["created_at"] <= time.time()
        assert plan["completed_at"] - plan["created_at"] == pytest.approx(0.8, abs=1e-6)
        assert plan["started_at"] > plan["created_at"], "a short queued phase comes first"
        # Just before the planned instant it is not done; just after, it is.
        time.sleep(max(0.0, plan["completed_at"] - 0.2 - time.time()))
        assert api.get(f"/videos/{video['id']}").json()["status"] == "in_progress"
        time.sleep(max(0.0, plan["completed_at"] + 0.02 - time.time()))
        assert api.get(f"/videos/{video['id']}").json()["status"] == "completed"


def test_durations_are_drawn_from_the_range_without_job_seconds() -> None:
    config = EmulatorConfig(job_seconds_range=(0.2, 0.6), queue_seconds_range=(0.0, 0.05))
    with Emulator(config) as emu, client(emu) as api:
        plans = [emu.plan(create(api)["id"]) for _ in range(12)]
    durations = [plan["ends_at"] - plan["created_at"] for plan in plans]
    assert all(0.2 <= duration <= 0.6 for duration in durations)
    assert len({round(duration, 6) for duration in durations}) > 1


def test_failure_rate_one_fails_every_job_with_an_error_code() -> None:
    config = EmulatorConfig(job_seconds=0.2, failure_rate=1.0, failure_codes=["moderation_blocked"])
    with Emulator(config) as emu, client(emu) as api:
        video = wait_status(api, create(api)["id"], "failed", "completed")
    assert video["status"] == "failed"
    assert video["error"]["code"] == "moderation_blocked" and video["error"]["message"]
    assert video["completed_at"] is None and video["expires_at"] is None


def test_failure_codes_are_drawn_from_the_configured_list() -> None:
    config = EmulatorConfig(job_seconds=0.05, failure_rate=1.0, failure_codes=["a_code", "b_code"])
    with Emulator(config) as emu, client(emu) as api:
        ids = [create(api)["id"] for _ in range(16)]
        codes = {wait_status(api, video_id, "failed")["error"]["code"] for video_id in ids}
    assert codes == {"a_code", "b_code"}


def test_stuck_jobs_stay_in_progress_with_frozen_progress() -> None:
    with Emulator(job_seconds=0.2, stuck_rate=1.0) as emu, client(emu) as api:
        video = create(api)
        time.sleep(0.5)
        first = api.get(f"/videos/{video['id']}").json()
        time.sleep(0.2)
        second = api.get(f"/videos/{video['id']}").json()
        assert emu.plan(video["id"])["completed_at"] is None
    assert first["status"] == second["status"] == "in_progress"
    assert 0 < first["progress"] == second["progress"] < 100


def test_rates_apply_to_a_share_of_jobs() -> None:
    config = EmulatorConfig(job_seconds=0.01, failure_rate=0.3, stuck_rate=0.2, seed=3)
    with Emulator(config) as emu, client(emu) as api:
        outcomes = [emu.plan(create(api)["id"])["outcome"] for _ in range(200)]
    assert 40 <= outcomes.count("fail") <= 80
    assert 20 <= outcomes.count("stuck") <= 60


def test_max_running_keeps_extra_jobs_queued_until_a_slot_frees() -> None:
    config = EmulatorConfig(job_seconds=0.4, queue_seconds_range=(0.0, 0.0), max_running=1)
    with Emulator(config) as emu, client(emu) as api:
        first, second = create(api), create(api)
        plan1, plan2 = emu.plan(first["id"]), emu.plan(second["id"])
        assert plan2["started_at"] == pytest.approx(plan1["ends_at"])
        assert plan2["ends_at"] - plan2["started_at"] == pytest.approx(0.4, abs=1e-6)
        assert api.get(f"/videos/{first['id']}").json()["status"] == "in_progress"
        assert api.get(f"/videos/{second['id']}").json()["status"] == "queued"
        wait_status(api, first["id"], "completed")
        assert api.get(f"/videos/{second['id']}").json()["status"] in ("in_progress", "completed")


def plans_for(seed: int, count: int = 8) -> list[dict[str, Any]]:
    config = EmulatorConfig(seed=seed, job_seconds_range=(1, 100), failure_rate=0.3, stuck_rate=0.2)
    with Emulator(config) as emu, client(emu) as api:
        plans = [emu.plan(create(api)["id"]) for _ in range(count)]
    keys = ("outcome", "failure_code", "media_seed", "seq")
    return [
        {
            **{key: plan[key] for key in keys},
            "total": round((plan["ends_at"] or 0) - plan["created_at"], 9) if plan["ends_at"] else None,
            "queue": round(plan["started_at"] - plan["created_at"], 9),
        }
        for plan in plans
    ]


def test_the_same_seed_gives_the_same_job_plans() -> None:
    assert plans_for(11) == plans_for(11)
    assert plans_for(11) != plans_for(12)


def test_progress_curve_is_monotonic_below_100_with_a_plateau() -> None:
    values = [progress_at(step / 100, plateau=60.0) for step in range(101)]
    assert values == sorted(values) and values[0] == 0 and values[-1] == 99
    early_rise = values[40] - values[0]
    middle_rise = values[60] - values[40]
    assert early_rise > 10 * max(middle_rise, 1) / 2, "the middle is a slow plateau"
    assert progress_at(-1, plateau=60.0) == 0 and progress_at(2, plateau=60.0) == 99


def test_each_emulator_instance_issues_distinct_ids() -> None:
    with (
        Emulator(job_seconds=0.1) as one,
        Emulator(job_seconds=0.1) as two,
        client(one) as api_one,
        client(two) as api_two,
    ):
        assert create(api_one)["id"] != create(api_two)["id"]
