"""List, delete, remix and content: the shapes of the schema and the rules around job state."""

from __future__ import annotations

import io
import time

import av
import httpx
import pytest
from emulator_helpers import AUTH, ManualClock, assert_error, create, wait_status
from PIL import Image

from prefect_sora.emulator import Emulator

# -- list ------------------------------------------------------------------------------------


def test_list_pages_newest_first_with_cursor_and_has_more(api: httpx.Client) -> None:
    created = [create(api, prompt=f"job {index}")["id"] for index in range(7)]
    pages, after = [], None
    while True:
        params = {"limit": "3", **({"after": after} if after else {})}
        page = api.get("/videos", params=params).json()
        assert set(page) == {"object", "data", "first_id", "last_id", "has_more"}
        assert page["object"] == "list"
        ids = [video["id"] for video in page["data"]]
        assert (page["first_id"], page["last_id"]) == (ids[0], ids[-1])
        pages.append((ids, page["has_more"]))
        if not page["has_more"]:
            break
        after = page["last_id"]
    assert [len(ids) for ids, _ in pages] == [3, 3, 1]
    assert [more for _, more in pages] == [True, True, False]
    assert [video_id for ids, _ in pages for video_id in ids] == created[::-1]


def test_list_ascending_order_and_limit_zero(api: httpx.Client) -> None:
    created = [create(api)["id"] for _ in range(4)]
    ascending = api.get("/videos", params={"order": "asc", "limit": "10"}).json()
    assert [video["id"] for video in ascending["data"]] == created
    assert ascending["has_more"] is False
    after_second = api.get("/videos", params={"order": "asc", "after": created[1]}).json()
    assert [video["id"] for video in after_second["data"]] == created[2:]
    empty = api.get("/videos", params={"limit": "0"}).json()
    assert empty["data"] == [] and empty["first_id"] is None and empty["last_id"] is None
    assert empty["has_more"] is True


def test_list_defaults_to_twenty_items(api: httpx.Client) -> None:
    for _ in range(22):
        create(api)
    page = api.get("/videos").json()
    assert len(page["data"]) == 20 and page["has_more"] is True


def test_list_of_nothing_is_an_empty_envelope(api: httpx.Client) -> None:
    assert api.get("/videos").json() == {
        "object": "list",
        "data": [],
        "first_id": None,
        "last_id": None,
        "has_more": False,
    }


# -- delete ----------------------------------------------------------------------------------


def test_delete_refuses_unfinished_jobs_and_removes_finished_ones(api: httpx.Client) -> None:
    video = create(api)
    assert_error(api.delete(f"/videos/{video['id']}"), 409, code="video_in_progress")
    wait_status(api, video["id"], "completed")
    response = api.delete(f"/videos/{video['id']}")
    assert response.status_code == 200
    assert response.json() == {"id": video["id"], "object": "video.deleted", "deleted": True}
    assert_error(api.get(f"/videos/{video['id']}"), 404, code="video_not_found")
    assert_error(api.delete(f"/videos/{video['id']}"), 404)
    assert video["id"] not in [item["id"] for item in api.get("/videos").json()["data"]]


def test_failed_jobs_can_be_deleted(api: httpx.Client) -> None:
    video = create(api, prompt="boom [emulator:fail]")
    wait_status(api, video["id"], "failed")
    assert api.delete(f"/videos/{video['id']}").json()["deleted"] is True


# -- remix ------------------------------------------------------------------------------------


def test_remix_of_a_completed_video_keeps_model_size_and_seconds(api: httpx.Client) -> None:
    source = create(api, model="sora-2-pro", size="1792x1024", seconds="8")
    wait_status(api, source["id"], "completed")
    response = api.post(f"/videos/{source['id']}/remix", json={"prompt": "now at night"})
    assert response.status_code == 200
    remix = response.json()
    assert remix["remixed_from_video_id"] == source["id"] and remix["id"] != source["id"]
    assert (remix["model"], remix["size"], remix["seconds"], remix["quality"]) == (
        "sora-2-pro",
        "1792x1024",
        "8",
        "high",
    )
    assert (remix["prompt"], remix["status"]) == ("now at night", "queued")
    assert wait_status(api, remix["id"], "completed")["remixed_from_video_id"] == source["id"]


def test_remix_accepts_multipart_too(api: httpx.Client) -> None:
    source = create(api)
    wait_status(api, source["id"], "completed")
    response = api.post(f"/videos/{source['id']}/remix", data={"prompt": "again"}, files={"x": ("", b"", "text/plain")})
    # The stray part is an unknown parameter, which proves the multipart fields were read.
    assert_error(response, 400, param="x")


def test_remix_needs_a_completed_source_and_a_valid_prompt(api: httpx.Client) -> None:
    pending = create(api)
    assert_error(api.post(f"/videos/{pending['id']}/remix", json={"prompt": "p"}), 409, code="video_not_ready")
    failed = create(api, prompt="[emulator:fail]")
    wait_status(api, failed["id"], "failed")
    assert_error(api.post(f"/videos/{failed['id']}/remix", json={"prompt": "p"}), 409, code="video_failed")
    wait_status(api, pending["id"], "completed")
    for body in ({}, {"prompt": ""}, {"prompt": "x" * 32_001}, {"prompt": "p", "seconds": "8"}):
        assert_error(api.post(f"/videos/{pending['id']}/remix", json=body), 400)


# -- content ------------------------------------------------------------------------------------


def test_content_before_completion_is_a_409_and_of_a_failed_job_too(api: httpx.Client) -> None:
    video = create(api)
    assert_error(api.get(f"/videos/{video['id']}/content"), 409, code="video_not_ready")
    failed = create(api, prompt="[emulator:fail=output_moderation]")
    assert wait_status(api, failed["id"], "failed")["error"]["code"] == "output_moderation"
    assert_error(api.get(f"/videos/{failed['id']}/content"), 409, code="video_failed")


def probe(body: bytes) -> tuple[float, int, int]:
    with av.open(io.BytesIO(body)) as container:
        stream = container.streams.video[0]
        assert container.duration is not None
        frames = sum(1 for _ in container.decode(stream))
        assert frames > 0
        return container.duration / av.time_base, stream.codec_context.width, stream.codec_context.height


@pytest.mark.parametrize(("model", "size", "seconds"), [("sora-2", "720x1280", "4"), ("sora-2-pro", "1920x1080", "8")])
def test_video_content_is_a_playable_mp4_of_the_jobs_size_and_duration(
    api: httpx.Client, model: str, size: str, seconds: str
) -> None:
    video = create(api, model=model, size=size, seconds=seconds)
    wait_status(api, video["id"], "completed")
    response = api.get(f"/videos/{video['id']}/content")
    assert response.status_code == 200
    assert response.headers["content-type"] == "video/mp4"
    assert int(response.headers["content-length"]) == len(response.content)
    duration, width, height = probe(response.content)
    assert f"{width}x{height}" == size
    assert duration == pytest.approx(float(seconds), abs=0.05)


@pytest.mark.parametrize(
    ("variant", "content_type", "fmt"), [("thumbnail", "image/webp", "WEBP"), ("spritesheet", "image/jpeg", "JPEG")]
)
def test_thumbnail_and_spritesheet_are_real_images(
    api: httpx.Client, variant: str, content_type: str, fmt: str
) -> None:
    video = create(api, size="1280x720")
    wait_status(api, video["id"], "completed")
    response = api.get(f"/videos/{video['id']}/content", params={"variant": variant})
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert int(response.headers["content-length"]) == len(response.content)
    image = Image.open(io.BytesIO(response.content))
    image.load()
    assert image.format == fmt
    if variant == "thumbnail":
        assert image.size == (1280, 720)


def test_content_expires_after_the_ttl_with_a_410(api: httpx.Client) -> None:
    video = create(api, prompt="short-lived [emulator:ttl=0.6]")
    done = wait_status(api, video["id"], "completed")
    assert done["expires_at"] is not None and done["expires_at"] >= done["completed_at"]
    assert api.get(f"/videos/{video['id']}/content").status_code == 200
    time.sleep(0.65)
    assert_error(api.get(f"/videos/{video['id']}/content"), 410, code="video_expired")
    assert api.get(f"/videos/{video['id']}").json()["status"] == "completed"


def test_content_ttl_from_config_sets_expires_at() -> None:
    with (
        Emulator(job_seconds=0.1, content_ttl_seconds=120) as emu,
        httpx.Client(base_url=emu.base_url, headers=AUTH) as api,
    ):
        video = wait_status(api, create(api)["id"], "completed")
        assert video["expires_at"] == video["completed_at"] + 120
        plan = emu.plan(video["id"])
        assert plan["expires_at"] == pytest.approx(plan["completed_at"] + 120)


def test_admin_expire_makes_content_gone_at_once(sora_emulator: Emulator, api: httpx.Client) -> None:
    video = create(api)
    wait_status(api, video["id"], "completed")
    plan = sora_emulator.expire(video["id"])
    assert plan["expires_at"] <= time.time()
    assert_error(api.get(f"/videos/{video['id']}/content", params={"variant": "thumbnail"}), 410, code="video_expired")


# -- poll hints ---------------------------------------------------------------------------------


def hint(response: httpx.Response) -> str | None:
    return response.headers.get("openai-poll-after-ms")


def test_the_poll_hint_says_when_the_job_is_due_capped_and_goes_once_it_has_ended() -> None:
    clock = ManualClock(1_800_000_000.0)
    with Emulator(job_seconds=10) as emu, httpx.Client(base_url=emu.base_url, headers=AUTH) as api:
        emu.state.clock = clock
        created = api.post("/videos", json={"model": "sora-2", "prompt": "a fox"})
        assert hint(created) == "2000", "10 s away: asked back within 2 s, so progress keeps showing"
        clock.advance(9.5)
        assert hint(api.get(f"/videos/{created.json()['id']}")) == "510", "the 0.5 s left, and 10 ms past the end"
        clock.advance(0.5)
        done = api.get(f"/videos/{created.json()['id']}")
        assert done.json()["status"] == "completed" and hint(done) is None
        stuck = api.post("/videos", json={"model": "sora-2", "prompt": "[emulator:stuck]"})
        clock.advance(3600)
        assert hint(api.get(f"/videos/{stuck.json()['id']}")) == "2000"
        at_once = api.post("/videos", json={"model": "sora-2", "prompt": "[emulator:seconds=0]"})
        assert at_once.json()["status"] == "completed" and hint(at_once) is None


@pytest.mark.parametrize(("configured", "sent"), [(50, "50"), (0, None)], ids=["fixed", "zero-sends-none"])
def test_a_configured_poll_hint_is_sent_as_is(configured: int, sent: str | None) -> None:
    with (
        Emulator(job_seconds=5, poll_after_ms=configured) as emu,
        httpx.Client(base_url=emu.base_url, headers=AUTH) as api,
    ):
        created = api.post("/videos", json={"model": "sora-2", "prompt": "a fox"})
        polled = api.get(f"/videos/{created.json()['id']}")
        assert polled.json()["status"] in ("queued", "in_progress")
        assert (hint(created), hint(polled)) == (sent, sent)


# -- prompt directives ------------------------------------------------------------------------------


def test_seconds_directive_overrides_the_job_duration(sora_emulator: Emulator, api: httpx.Client) -> None:
    video = create(api, prompt="slow one [emulator:seconds=1.25]")
    plan = sora_emulator.plan(video["id"])
    assert plan["ends_at"] - plan["created_at"] == pytest.approx(1.25, abs=1e-6)


def test_stuck_directive_never_completes(sora_emulator: Emulator, api: httpx.Client) -> None:
    video = create(api, prompt="[emulator:stuck] forever")
    time.sleep(0.4)
    assert api.get(f"/videos/{video['id']}").json()["status"] == "in_progress"
    assert sora_emulator.plan(video["id"])["outcome"] == "stuck"


def test_content_bytes_directive_serves_a_synthetic_body(api: httpx.Client) -> None:
    video = create(api, prompt="[emulator:content_bytes=3000000]")
    wait_status(api, video["id"], "completed")
    response = api.get(f"/videos/{video['id']}/content")
    assert response.headers["content-length"] == "3000000" and len(response.content) == 3_000_000
    assert response.headers["content-type"] == "video/mp4"


@pytest.mark.parametrize(
    "prompt",
    [
        "[emulator:explode]",
        "[emulator:seconds=soon]",
        "[emulator:seconds=-1]",
        "[emulator:stuck][emulator:fail]",
        "[emulator:fail=a b]",
    ],
)
def test_bad_directives_are_a_400(api: httpx.Client, prompt: str) -> None:
    response = api.post("/videos", json={"model": "sora-2", "prompt": prompt})
    assert_error(response, 400, param="prompt", code="invalid_emulator_directive")


def test_directives_stay_in_the_echoed_prompt(api: httpx.Client) -> None:
    assert create(api, prompt="fox [emulator:seconds=0.1]")["prompt"] == "fox [emulator:seconds=0.1]"
