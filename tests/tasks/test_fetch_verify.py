"""fetch_video reads each stored video back: one that is not the video paid for raises VideoDefective and stays."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

from prefect_sora._errors import VideoDefective
from prefect_sora._models import Video, VideoRequest
from prefect_sora.blocks import SoraCredentials
from prefect_sora.emulator import Emulator
from prefect_sora.tasks import fetch_video, submit_video


def completed(credentials: SoraCredentials, directive: str = "", *, seconds: int = 12) -> Video:
    """A 720x1280 job the emulator completes at once; its prompt may carry a directive."""
    video = submit_video(credentials, prompt=f"a lighthouse {directive} [emulator:seconds=0]", seconds=seconds)
    assert video.status == "completed"
    return video


def served_sha256(emulator: Emulator, video_id: str) -> str:
    response = httpx.get(f"{emulator.base_url}/videos/{video_id}/content", headers={"Authorization": "Bearer k"})
    return hashlib.sha256(response.raise_for_status().content).hexdigest()


@pytest.mark.parametrize(
    ("defect", "problem"),
    [
        ("short", "duration: expected 12 s (within 0.5 s), found 2.00 s"),
        ("small", "size: expected 720x1280, found 640x360"),
        ("no_video", "video track: expected one, found none"),
        ("truncated_mdat", "samples: expected every vide sample inside the file's"),
    ],
)
def test_a_defective_video_raises_video_defective_and_the_paid_file_stays(
    credentials: SoraCredentials, sora_emulator: Emulator, tmp_path: Path, defect: str, problem: str
) -> None:
    video = completed(credentials, f"[emulator:defect={defect}]")

    with pytest.raises(VideoDefective) as raised:
        fetch_video(credentials, video=video, destination=f"{tmp_path}/")

    error = raised.value
    assert error.video_id == video.id and len(error.problems) == 1 and error.problems[0].startswith(problem)
    assert problem.split(":")[0] in str(error)
    kept = tmp_path / f"{video.id}.mp4"
    assert error.result.url == f"file://{kept}" and kept.exists()
    kept_sha256 = hashlib.sha256(kept.read_bytes()).hexdigest()
    assert error.result.sha256 == kept_sha256 == served_sha256(sora_emulator, video.id)
    assert [p.name for p in tmp_path.iterdir()] == [kept.name], "no partial, nothing else"
    assert sora_emulator.stats()["downloads"][video.id] == {"video": 2}, "not retried: ours, then the test's own"


def test_by_id_the_job_is_looked_up_and_a_defect_is_still_found(
    credentials: SoraCredentials, sora_emulator: Emulator, tmp_path: Path
) -> None:
    video = completed(credentials, "[emulator:defect=short]", seconds=8)
    polls_before = sora_emulator.stats()["polls"].get(video.id, 0)

    with pytest.raises(VideoDefective) as raised:
        fetch_video(credentials, video=video.id, destination=f"{tmp_path}/")

    assert raised.value.problems == ["duration: expected 8 s (within 0.5 s), found 2.00 s"]
    assert sora_emulator.stats()["polls"][video.id] == polls_before + 1, "one GET to learn what was paid for"


def test_a_sound_video_passes_and_what_was_paid_can_be_given(
    credentials: SoraCredentials, sora_emulator: Emulator, tmp_path: Path
) -> None:
    video = completed(credentials, seconds=4)

    stored = fetch_video(credentials, video=video, destination=f"{tmp_path}/a/")
    assert stored.bytes > 0 and sora_emulator.stats()["polls"].get(video.id, 0) == 0, "a Video needs no lookup"

    paid = VideoRequest(prompt="a lighthouse", seconds="8", size="1280x720")
    with pytest.raises(VideoDefective) as raised:
        fetch_video(credentials, video=video, destination=f"{tmp_path}/b/", paid=paid)
    assert raised.value.problems == [
        "duration: expected 8 s (within 0.5 s), found 4.00 s",
        "size: expected 1280x720, found 720x1280",
    ]


def test_variants_are_not_verified_as_mp4_and_a_synthetic_body_passes(
    credentials: SoraCredentials, sora_emulator: Emulator, tmp_path: Path
) -> None:
    spoiled = completed(credentials, "[emulator:defect=no_video]")
    thumbnail = fetch_video(credentials, video=spoiled, destination=f"{tmp_path}/", variant="thumbnail")
    assert thumbnail.variant == "thumbnail" and Path(thumbnail.url.removeprefix("file://")).exists()

    synthetic = completed(credentials, "[emulator:content_bytes=3000000]")
    stored = fetch_video(credentials, video=synthetic, destination=f"{tmp_path}/")
    assert stored.bytes == 3_000_000
