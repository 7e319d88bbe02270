"""The counters and the `/_emulator` controls: what tests and benchmarks rely on to assert."""

from __future__ import annotations

import httpx
import pytest
from emulator_helpers import AUTH, assert_error, create, wait_status

from prefect_sora.emulator import Emulator


def test_counters_record_exactly_what_was_served(sora_emulator: Emulator, api: httpx.Client) -> None:
    first = create(api)
    second = create(api)
    wait_status(api, first["id"], "completed")
    wait_status(api, second["id"], "completed")
    polls_first = sora_emulator.stats()["polls"][first["id"]]
    api.get(f"/videos/{first['id']}")
    api.get("/videos")
    api.get(f"/videos/{first['id']}/content")
    api.get(f"/videos/{first['id']}/content", params={"variant": "thumbnail"})
    api.get(f"/videos/{first['id']}/content", params={"variant": "thumbnail"})
    remix = api.post(f"/videos/{first['id']}/remix", json={"prompt": "again"}).json()
    api.delete(f"/videos/{second['id']}")
    api.post("/videos", json={"model": "sora-2"})  # a refused create is not a create
    sora_emulator.inject(429, endpoint="list")
    api.get("/videos")

    stats = sora_emulator.stats()
    assert stats["creates"] == 2 and stats["remixes"] == 1
    assert stats["polls"][first["id"]] == polls_first + 1
    assert stats["polls_total"] == sum(stats["polls"].values())
    assert stats["lists"] == 1 and stats["deletes"] == 1
    assert stats["downloads"] == {first["id"]: {"video": 1, "thumbnail": 2}}
    assert stats["downloads_by_variant"] == {"video": 1, "thumbnail": 2}
    assert stats["downloads_total"] == 3
    assert stats["faults"] == {"429": 1} and stats["faults_total"] == 1
    assert stats["responses_by_status"]["400"] == 1 and stats["responses_by_status"]["429"] == 1
    assert stats["requests_total"] == sum(stats["responses_by_status"].values())
    assert stats["jobs_total"] == 2 and remix["id"] in [first["id"], remix["id"]]
    assert stats["jobs_by_status"]["queued"] + stats["jobs_by_status"]["in_progress"] == 1


def test_stats_over_http_match_and_admin_requests_are_not_counted(
    sora_emulator: Emulator, api: httpx.Client, admin: httpx.Client
) -> None:
    create(api)
    for _ in range(3):
        over_http = admin.get("/stats").json()
    assert over_http["creates"] == 1 and over_http["requests_total"] == 1
    assert over_http == sora_emulator.stats()


def test_admin_routes_need_no_bearer(sora_emulator: Emulator) -> None:
    assert httpx.get(f"{sora_emulator.url}/_emulator/health").json() == {"ok": True}


def test_patch_config_changes_behaviour_and_refuses_nonsense(admin: httpx.Client, api: httpx.Client) -> None:
    changed = admin.patch("/config", json={"failure_rate": 1.0, "failure_codes": ["input_moderation"]})
    assert changed.status_code == 200 and changed.json()["failure_rate"] == 1.0
    video = wait_status(api, create(api)["id"], "failed")
    assert video["error"]["code"] == "input_moderation"
    for body in ({"failure_rate": 2}, {"no_such_knob": 1}, {"rate_limit_rate": 0.7, "reset_rate": 0.7}):
        assert_error(admin.patch("/config", json=body), 400, code="invalid_config")
    assert admin.get("/config").json()["failure_rate"] == 1.0


def test_config_never_shows_the_api_key() -> None:
    with Emulator(api_key="sk-secret-123") as emu:
        shown = httpx.get(f"{emu.url}/_emulator/config").json()
        assert shown["api_key"] == "**********"
        assert "sk-secret-123" not in str(emu.stats()) and "sk-secret-123" not in repr(emu.config)


def test_faults_can_be_scripted_over_http(admin: httpx.Client, api: httpx.Client) -> None:
    response = admin.post("/faults", json={"fault": 503, "count": 2, "endpoint": "list"})
    assert response.json()["scripted"] == [{"fault": "503", "remaining": 2, "endpoint": "list"}]
    assert [api.get("/videos").status_code for _ in range(3)] == [503, 503, 200]
    assert admin.get("/faults").json() == {"scripted": []}
    for body in ({"fault": "teapot"}, {"fault": "429", "count": 0}, {"fault": "429", "endpoint": "upload"}):
        assert_error(admin.post("/faults", json=body), 400, code="invalid_fault")


def test_inject_refuses_unknown_faults(sora_emulator: Emulator) -> None:
    with pytest.raises(ValueError):
        sora_emulator.inject("explode")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        sora_emulator.inject(429, count=0)


def test_job_plan_exposes_precise_completion_time(
    sora_emulator: Emulator, api: httpx.Client, admin: httpx.Client
) -> None:
    video = create(api)
    plan = admin.get(f"/videos/{video['id']}").json()
    assert isinstance(plan["completed_at"], float)
    assert plan["completed_at"] - plan["created_at"] == pytest.approx(0.2, abs=1e-6)
    assert int(plan["created_at"]) == video["created_at"]
    done = wait_status(api, video["id"], "completed")
    assert done["completed_at"] == int(plan["completed_at"])
    assert_error(admin.get("/videos/video_missing"), 404, code="video_not_found")


def test_expire_over_http(api: httpx.Client, admin: httpx.Client) -> None:
    video_id = wait_status(api, create(api)["id"], "completed")["id"]
    assert admin.post(f"/videos/{video_id}/expire").status_code == 200
    assert_error(api.get(f"/videos/{video_id}/content"), 410, code="video_expired")


def test_a_held_job_stays_in_progress_until_finished_then_ends_as_its_directives_say(
    sora_emulator: Emulator, api: httpx.Client, admin: httpx.Client
) -> None:
    held = create(api, prompt="a fox [emulator:hold]")["id"]
    doomed = create(api, prompt="a fox [emulator:hold] [emulator:fail=moderation_blocked]")["id"]
    sora_emulator.configure(job_seconds=0)  # any planned end would be long past
    assert api.get(f"/videos/{held}").json()["status"] in ("queued", "in_progress")
    assert_error(api.get(f"/videos/{held}/content"), 409, code="video_not_ready")

    assert admin.post(f"/videos/{held}/finish").json()["status"] == "completed"
    assert api.get(f"/videos/{held}/content").status_code == 200
    sora_emulator.finish(doomed)  # in-process, the same
    assert api.get(f"/videos/{doomed}").json()["error"]["code"] == "moderation_blocked"
    # Only a held job can be finished; a typo in the directive is a 400 as always.
    assert_error(admin.post(f"/videos/{held}/finish"), 409, code="not_held")
    assert_error(admin.post("/videos/video_missing/finish"), 404, code="video_not_found")
    assert_error(api.post("/videos", json={"model": "sora-2", "prompt": "[emulator:hold=5]"}), 400)
    assert_error(api.post("/videos", json={"model": "sora-2", "prompt": "[emulator:hold] [emulator:stuck]"}), 400)


def test_a_finished_held_job_gives_its_running_slot_back() -> None:
    with (
        Emulator(max_running=1, job_seconds=0.2) as emulator,
        httpx.Client(base_url=emulator.base_url, headers=AUTH) as api,
    ):
        held = create(api, prompt="a fox [emulator:hold]")["id"]
        emulator.finish(held)
        after = create(api)["id"]
        assert wait_status(api, after, "completed")["status"] == "completed"  # the slot was free again
        # Behind a job that never ends, the next one waits queued, and its answers still carry a hint.
        create(api, prompt="a fox [emulator:stuck]")
        waiting = api.post("/videos", json={"model": "sora-2", "prompt": "a fox behind it"})
        assert waiting.status_code == 200 and waiting.json()["status"] == "queued"
        assert waiting.headers["openai-poll-after-ms"] == "2000"


def test_reset_forgets_jobs_counters_faults_and_config_changes(
    sora_emulator: Emulator, api: httpx.Client, admin: httpx.Client
) -> None:
    video = create(api)
    sora_emulator.configure(failure_rate=1.0)
    sora_emulator.inject(500, count=5)
    assert admin.post("/reset").json() == {"reset": True}
    stats = sora_emulator.stats()
    assert stats["creates"] == 0 and stats["jobs_total"] == 0 and stats["scripted_faults"] == []
    assert sora_emulator.config.failure_rate == 0.0
    assert_error(api.get(f"/videos/{video['id']}"), 404)
    sora_emulator.reset()
    assert sora_emulator.stats()["requests_total"] == 0


def test_configure_from_python_with_a_new_seed_changes_the_fault_sequence(sora_emulator: Emulator) -> None:
    config = sora_emulator.configure(seed=99, rate_limit_rate=0.5)
    assert (config.seed, config.rate_limit_rate) == (99, 0.5)
    with httpx.Client(base_url=sora_emulator.base_url, headers=AUTH) as api:
        statuses = {api.get("/videos").status_code for _ in range(40)}
    assert statuses == {200, 429}
