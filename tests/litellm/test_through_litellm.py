"""Every task and flow through a real LiteLLM proxy, each case judged by what reached the emulator behind it.

What the proxy itself does route by route is in ``OBSERVED.md`` beside this file. The
emulator plays the upstream (profile ``openai``): its job ids are the upstream ids the
proxy wraps in its base64 ids, so its counters are keyed by those.
"""

from __future__ import annotations

import asyncio
import base64
import time
from pathlib import Path

import pytest
from litellm_helpers import Proxied

from prefect_sora._errors import (
    AuthenticationFailed,
    BatchIncomplete,
    InvalidContent,
    InvalidParameter,
    SoraError,
    TransientError,
)
from prefect_sora._models import VideoRequest
from prefect_sora.blocks import SoraCredentials
from prefect_sora.flows import batch_text_to_video, text_to_video
from prefect_sora.tasks import await_video, estimate_cost, fetch_video, submit_remix, submit_video

pytestmark = pytest.mark.litellm

#: One request through the proxy, upstream down: the proxy's own retries take ~5 s.
REQUEST_SECONDS = 30.0


def upstream_id(video_id: str) -> str:
    """The emulator's id inside a LiteLLM id; fails the test if the id names no model (unroutable)."""
    text = base64.b64decode(video_id.removeprefix("video_") + "==").decode()
    parts = dict(part.split(":", 1) for part in text.removeprefix("litellm:").split(";"))
    assert parts["model_id"], f"{video_id} names no model: the proxy would route it to its default upstream"
    return parts["video_id"]


def sound_mp4(url: str | None) -> Path:
    assert url is not None and url.startswith("file://")
    path = Path(url.removeprefix("file://"))
    data = path.read_bytes()
    assert len(data) > 100_000 and data[4:8] == b"ftyp" and b"moov" in data and b"mdat" in data
    return path


def files_under(folder: Path) -> list[Path]:
    """Every file under `folder` but the flows' own journal (``.prefect-sora/``)."""
    if not folder.exists():
        return []
    return sorted(path for path in folder.rglob("*") if path.is_file() and ".prefect-sora" not in path.parts)


def test_the_four_tasks_store_a_sound_mp4(proxied: Proxied, tmp_path: Path) -> None:
    credentials = proxied.credentials
    estimate = estimate_cost("sora-2", size="720x1280", seconds="4", credentials=credentials)
    assert proxied.emulator.stats()["requests_total"] == 0, "an estimate makes no request"

    job = submit_video(credentials, prompt="A red fox in the snow", seconds="4")
    done = await_video(credentials, video=job, timeout_seconds=60, progress_artifact=False)
    stored = fetch_video(credentials, video=done, destination=f"{tmp_path}/videos/")

    assert float(estimate.total_usd) == pytest.approx(0.4)
    assert done.status == "completed" and done.id == job.id, "the submitted id stays the video's id"
    assert sound_mp4(stored.url).name.startswith(job.id[:16])
    stats = proxied.emulator.stats()
    assert stats["creates"] == 1
    assert stats["downloads"] == {upstream_id(job.id): {"video": 1}}


def test_text_to_video_stores_the_video_under_the_id_the_create_answered(proxied: Proxied, tmp_path: Path) -> None:
    out = f"{tmp_path}/videos/"
    result = asyncio.run(text_to_video("A koi pond at dawn", out=out, credentials=proxied.credentials))

    assert result.status == "stored", result.error
    assert result.video_id is not None
    sound_mp4(result.url)
    stats = proxied.emulator.stats()
    assert stats["creates"] == 1 and stats["downloads"] == {upstream_id(result.video_id): {"video": 1}}


def test_a_batch_stores_the_good_items_and_reports_the_failed_one_by_a_usable_id(
    proxied: Proxied, tmp_path: Path
) -> None:
    requests = [VideoRequest(prompt=f"Lanterns on a river, shot {n}", seconds="4") for n in range(2)]
    requests.append(VideoRequest(prompt="Blocked [emulator:fail=moderation_blocked]", seconds="4"))

    with pytest.raises(BatchIncomplete) as raised:
        asyncio.run(batch_text_to_video(requests, out=f"{tmp_path}/videos/", credentials=proxied.credentials))

    items = raised.value.result.items
    assert [item.status for item in items] == ["stored", "stored", "failed"]
    assert items[2].error_code == "moderation_blocked" and items[2].error_type == "JobFailed"
    ids = [upstream_id(item.video_id or "") for item in items]
    stats = proxied.emulator.stats()
    assert stats["creates"] == 3 and sorted(stats["downloads"]) == sorted(ids[:2])
    assert len(files_under(tmp_path / "videos")) == 2


def test_a_rerun_with_the_same_idempotency_key_creates_nothing_new(proxied: Proxied, tmp_path: Path) -> None:
    out, credentials = f"{tmp_path}/videos/", proxied.credentials
    first = asyncio.run(text_to_video("A lighthouse", out=out, credentials=credentials, idempotency_key="lh-1"))
    again = asyncio.run(text_to_video("A lighthouse", out=out, credentials=credentials, idempotency_key="lh-1"))

    assert first.status == again.status == "stored" and again.video_id == first.video_id
    assert proxied.emulator.stats()["creates"] == 1


def test_bad_parameters_are_refused_before_any_request(proxied: Proxied) -> None:
    for bad in ({"seconds": "5"}, {"size": "640x480"}, {"model": "sora-3"}):
        with pytest.raises(InvalidParameter):
            submit_video(proxied.credentials, prompt="A fox", **bad)
    assert proxied.emulator.stats()["requests_total"] == 0


def test_a_wrong_proxy_key_is_a_typed_error_at_once(proxied: Proxied) -> None:
    wrong = SoraCredentials(api_key="sk-not-the-master-key", base_url=proxied.base_url)
    started = time.monotonic()
    with pytest.raises(SoraError) as raised:
        submit_video(wrong, prompt="A fox")
    elapsed = time.monotonic() - started

    # Without a database the proxy answers a key it does not know 400 "No connected db."
    assert not isinstance(raised.value, TransientError) and raised.value.status_code in (400, 401)
    assert "sk-not-the-master-key" not in str(raised.value)
    assert elapsed < 10
    assert proxied.emulator.stats()["requests_total"] == 0


def test_an_upstream_that_refuses_the_key_is_an_authentication_error_at_once(proxied: Proxied) -> None:
    proxied.emulator.configure(api_key="sk-some-other-key")
    started = time.monotonic()
    with pytest.raises(AuthenticationFailed) as raised:
        submit_video(proxied.credentials, prompt="A fox")

    assert time.monotonic() - started < 10
    assert raised.value.status_code == 401 and raised.value.request_id, "the proxy's x-litellm-call-id"
    assert proxied.emulator.stats()["creates"] == 0


def test_the_upstream_down_ends_each_wait_by_its_deadline_with_a_typed_error(proxied: Proxied, tmp_path: Path) -> None:
    credentials = proxied.credentials
    job = submit_video(credentials, prompt="A fox [emulator:seconds=60]")
    proxied.stop_upstream()

    started = time.monotonic()
    with pytest.raises(SoraError) as waited:
        await_video(credentials, video=job, timeout_seconds=10, progress_artifact=False)
    wait_seconds = time.monotonic() - started
    started = time.monotonic()
    with pytest.raises(SoraError):
        asyncio.run(text_to_video("A fox", out=f"{tmp_path}/videos/", credentials=credentials, timeout_seconds=10))
    flow_seconds = time.monotonic() - started

    assert wait_seconds < 10 + REQUEST_SECONDS, wait_seconds
    assert flow_seconds < 10 + REQUEST_SECONDS, flow_seconds
    assert waited.value.video_id == job.id
    assert files_under(tmp_path / "videos") == []


def test_the_content_of_a_job_not_ready_is_refused_and_nothing_is_stored(proxied: Proxied, tmp_path: Path) -> None:
    # The proxy answers the upstream's 409 as 200 video/mp4 with the JSON error as the body.
    job = submit_video(proxied.credentials, prompt="A slow fox [emulator:seconds=60]")
    with pytest.raises(SoraError) as raised:
        fetch_video(proxied.credentials, video=job, destination=f"{tmp_path}/videos/")

    assert not isinstance(raised.value, TransientError)
    assert raised.value.video_id == job.id
    assert files_under(tmp_path / "videos") == []
    assert proxied.emulator.stats()["downloads"] == {}

    # Given only the id, the download is asked for and the proxy's JSON-as-MP4 answer is refused.
    with pytest.raises(InvalidContent) as by_id:
        fetch_video(proxied.credentials, video=job.id, destination=f"{tmp_path}/videos/")
    assert by_id.value.video_id == job.id
    assert files_under(tmp_path / "videos") == []


def test_a_remix_works_or_is_refused_saying_the_gateway_does_not_support_it(proxied: Proxied, tmp_path: Path) -> None:
    credentials = proxied.credentials
    source = await_video(
        credentials, video=submit_video(credentials, prompt="A fox"), timeout_seconds=60, progress_artifact=False
    )
    started = time.monotonic()
    try:
        remix = submit_remix(credentials, video=source, prompt="The fox turns blue")
    except SoraError as refused:
        message = str(refused).lower()
        assert "remix" in message and ("gateway" in message or "litellm" in message), refused
        assert time.monotonic() - started < REQUEST_SECONDS
        assert proxied.emulator.stats()["remixes"] == 0  # refused before it reached the proxy
        return
    done = await_video(credentials, video=remix, timeout_seconds=60, progress_artifact=False)
    stored = fetch_video(credentials, video=done, destination=f"{tmp_path}/videos/")
    sound_mp4(stored.url)
    assert proxied.emulator.stats()["remixes"] == 1
