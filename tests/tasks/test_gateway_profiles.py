"""Against each gateway the emulator can play, the single-video flow and a small batch end in stored files.

Each profile is met with the block settings the README's "Gateways" section
gives for it; the batch also carries jobs that end in each terminal status a
gateway may send, and every one comes back with its id and its outcome.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from prefect_sora._errors import BatchIncomplete, JobCancelled, VideoNotStored
from prefect_sora._models import VideoRequest
from prefect_sora.blocks import SoraCredentials
from prefect_sora.emulator import Emulator
from prefect_sora.flows import batch_text_to_video, text_to_video
from prefect_sora.tasks import await_video, submit_video

KEY = "sk-test-LEAKCANARY-profiles-81c4"

#: The block settings for each profile, as the README's "Gateways" section gives them.
SETTINGS: dict[str, dict[str, Any]] = {
    "openai": {},
    "apiyi": {},
    "azure": {"auth_header": "api-key", "default_query": {"api-version": "preview"}},
    "litellm": {},
}


@pytest.fixture(params=list(SETTINGS))
def gateway(request: pytest.FixtureRequest) -> Iterator[tuple[Emulator, SoraCredentials]]:
    profile = request.param
    with Emulator(profile=profile, job_seconds=0.3) as emulator:
        credentials = SoraCredentials(api_key=KEY, base_url=emulator.base_url, **SETTINGS[profile])
        yield emulator, credentials


def stored_mp4(url: str | None) -> Path:
    assert url is not None and url.startswith("file://")
    path = Path(url.removeprefix("file://"))
    assert path.stat().st_size > 1000 and path.read_bytes()[4:8] == b"ftyp"
    return path


def test_the_single_video_flow_stores_a_video(gateway: tuple[Emulator, SoraCredentials], tmp_path: Path) -> None:
    emulator, credentials = gateway

    result = asyncio.run(text_to_video("A koi pond at dawn", out=f"{tmp_path}/videos/", credentials=credentials))

    assert result.status == "stored" and result.actual_usd == result.estimated_usd
    assert stored_mp4(result.url).parent == tmp_path / "videos"
    assert emulator.stats()["creates"] == 1


def test_a_small_batch_stores_every_video(gateway: tuple[Emulator, SoraCredentials], tmp_path: Path) -> None:
    emulator, credentials = gateway
    requests = [VideoRequest(prompt=f"Lanterns on a river, shot {n}", seconds="4") for n in range(3)]

    result = asyncio.run(batch_text_to_video(requests, out=f"{tmp_path}/videos/", credentials=credentials))

    assert result.stored == 3 and result.failed == 0
    assert len({stored_mp4(item.url) for item in result.items}) == 3
    assert emulator.stats()["creates"] == 3


def test_a_batch_reports_each_terminal_status_with_its_id(tmp_path: Path) -> None:
    ends = ["cancelled", "expired", "rejected", "error", "failed"]
    requests = [VideoRequest(prompt="Fine")]
    requests += [VideoRequest(prompt=f"Ends {end} [emulator:end={end}]") for end in ends]
    with Emulator(job_seconds=0.3) as emulator:
        credentials = SoraCredentials(api_key=KEY, base_url=emulator.base_url)
        started = time.monotonic()
        with pytest.raises(BatchIncomplete) as raised:
            asyncio.run(batch_text_to_video(requests, out=f"{tmp_path}/videos/", credentials=credentials))
        elapsed = time.monotonic() - started

    items = raised.value.result.items
    assert elapsed < 60  # every terminal status ended its wait at once, not at the hour's deadline
    assert items[0].status == "stored"
    for item, end in zip(items[1:], ends, strict=True):
        assert item.video_id is not None and item.status != "stored", end
        assert end in (item.error or ""), (end, item.error)
        assert item.error_type == {"cancelled": "JobCancelled", "expired": "ContentExpired"}.get(end, "JobFailed")
        assert item.status == {"cancelled": "cancelled", "expired": "expired"}.get(end, "failed"), end
    assert emulator.stats()["creates"] == 6


def test_await_video_ends_a_cancelled_job_at_once_and_a_single_video_flow_says_so(tmp_path: Path) -> None:
    with Emulator(job_seconds=0.3) as emulator:
        credentials = SoraCredentials(api_key=KEY, base_url=emulator.base_url)
        job = submit_video(credentials, prompt="A lantern [emulator:end=canceled]")
        with pytest.raises(JobCancelled) as cancelled:
            await_video(credentials, video=job, timeout_seconds=3600, progress_artifact=False)
        with pytest.raises(VideoNotStored) as not_stored:
            asyncio.run(
                text_to_video(
                    "A lantern [emulator:end=canceled]",
                    out=f"{tmp_path}/videos/",
                    credentials=credentials,
                )
            )

    assert cancelled.value.video_id == job.id and cancelled.value.status == "canceled"
    assert not_stored.value.result.video_id is not None and "canceled" in (not_stored.value.result.error or "")
    assert not_stored.value.result.actual_usd == 0


def test_the_default_query_and_the_key_header_reach_the_gateway_on_every_request(rogue_server: Any) -> None:
    seen: list[tuple[str, dict[str, str]]] = []

    def answer(method: str, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        seen.append((path, {name.lower(): value for name, value in headers.items()}))
        status = "queued" if method == "POST" else "completed"
        return 200, {"content-type": "application/json"}, f'{{"id": "video_1", "status": "{status}"}}'.encode()

    credentials = SoraCredentials(
        api_key=KEY, base_url=rogue_server(answer), auth_header="api-key", default_query={"api-version": "preview"}
    )
    await_video(credentials, video=submit_video(credentials, prompt="A lighthouse").id, progress_artifact=False)

    assert [path.split("?")[0] for path, _ in seen] == ["/v1/videos", "/v1/videos/video_1"]
    for path, headers in seen:
        assert path.endswith("?api-version=preview") and headers["api-key"] == KEY and "authorization" not in headers
