"""fetch_video: the emulator's exact bytes land at any fsspec URL, or nothing does."""

from __future__ import annotations

import hashlib
import io
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import fsspec
import httpx
import pytest
from PIL import Image

from prefect_sora._errors import (
    ContentExpired,
    ContentNotReady,
    InvalidContent,
    InvalidParameter,
    TransportError,
    VideoNotFound,
)
from prefect_sora._models import Video
from prefect_sora.blocks import SoraCredentials
from prefect_sora.emulator import Emulator
from prefect_sora.tasks import fetch_video, submit_video


def completed_video(credentials: SoraCredentials, *, size: str = "720x1280", seconds: int = 4) -> Video:
    """A job that the emulator completes the moment it is created."""
    video = submit_video(credentials, prompt="fog over a pine forest [emulator:seconds=0]", size=size, seconds=seconds)
    assert video.status == "completed"
    return video


def served(emulator: Emulator, video_id: str, variant: str = "video") -> bytes:
    """The content as the emulator serves it, fetched without the code under test."""
    response = httpx.get(
        f"{emulator.base_url}/videos/{video_id}/content",
        params={"variant": variant},
        headers={"Authorization": "Bearer k"},
    )
    response.raise_for_status()
    return response.content


def probe(data: bytes) -> tuple[int, int, float]:
    """Width, height and duration of an MP4, as FFmpeg (PyAV) reads it."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        return stream.codec_context.width, stream.codec_context.height, (container.duration or 0) / av.time_base


def test_to_a_local_folder_the_file_is_named_from_the_id_and_is_the_emulators_video(
    credentials: SoraCredentials, sora_emulator: Emulator, tmp_path: Path
) -> None:
    video = completed_video(credentials, size="1280x720", seconds=8)

    result = fetch_video(credentials, video=video, destination=f"{tmp_path}/videos/")

    stored = tmp_path / "videos" / f"{video.id}.mp4"
    data = stored.read_bytes()
    assert result.url == f"file://{stored}"
    assert [p.name for p in (tmp_path / "videos").iterdir()] == [stored.name]
    assert (result.bytes, result.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert data == served(sora_emulator, video.id)
    assert result.content_type == "video/mp4"
    width, height, duration = probe(data)
    assert (width, height) == (1280, 720)
    assert duration == pytest.approx(8, abs=0.1)


def test_to_a_full_file_path_exactly_that_file_is_written(
    credentials: SoraCredentials, sora_emulator: Emulator, tmp_path: Path
) -> None:
    video = completed_video(credentials)
    target = tmp_path / "deep" / "er" / "clip.mp4"

    result = fetch_video(credentials, video=video.id, destination=str(target))

    assert result.url == f"file://{target}"
    assert [p.name for p in target.parent.iterdir()] == ["clip.mp4"]
    assert hashlib.sha256(target.read_bytes()).hexdigest() == result.sha256
    assert probe(target.read_bytes())[:2] == (720, 1280)


def test_to_memory(credentials: SoraCredentials, sora_emulator: Emulator) -> None:
    video = completed_video(credentials)
    folder = f"memory://fetch-{uuid.uuid4().hex}/"

    result = fetch_video(credentials, video=video, destination=folder)

    fs, path = fsspec.core.url_to_fs(result.url)
    data = fs.cat_file(path)
    assert [entry.rsplit("/", 1)[1] for entry in fs.ls(path.rsplit("/", 1)[0], detail=False)] == [f"{video.id}.mp4"]
    assert hashlib.sha256(data).hexdigest() == result.sha256 and len(data) == result.bytes
    assert data == served(sora_emulator, video.id)


def test_to_s3_through_s3fs(credentials: SoraCredentials, sora_emulator: Emulator, s3_options: dict[str, Any]) -> None:
    video = completed_video(credentials, size="1280x720", seconds=4)
    prefix = f"s3://videos/{uuid.uuid4().hex}/"

    result = fetch_video(credentials, video=video, destination=prefix, storage_options=s3_options)

    assert result.url == f"{prefix}{video.id}.mp4"
    fs, path = fsspec.core.url_to_fs(result.url, **s3_options)
    data = fs.cat_file(path)
    assert fs.ls(prefix.removeprefix("s3://"), detail=False, refresh=True) == [path]
    assert (len(data), hashlib.sha256(data).hexdigest()) == (result.bytes, result.sha256)
    assert data == served(sora_emulator, video.id)
    assert probe(data)[:2] == (1280, 720)


@pytest.mark.parametrize(
    ("variant", "suffix", "image_format"), [("thumbnail", "webp", "WEBP"), ("spritesheet", "jpg", "JPEG")]
)
def test_thumbnail_and_spritesheet_are_stored_as_images(
    credentials: SoraCredentials, sora_emulator: Emulator, tmp_path: Path, variant: str, suffix: str, image_format: str
) -> None:
    video = completed_video(credentials, size="1280x720")

    result = fetch_video(credentials, video=video, destination=f"{tmp_path}/", variant=variant)

    stored = tmp_path / f"{video.id}.{variant}.{suffix}"
    assert result.url == f"file://{stored}"
    assert result.variant == variant
    assert stored.read_bytes() == served(sora_emulator, video.id, variant)
    with Image.open(stored) as picture:
        assert picture.format == image_format
        if variant == "thumbnail":
            assert picture.size == (1280, 720)


def everything_under(url: str, storage_options: dict[str, Any] | None = None) -> list[str]:
    """Every file under ``url``, hidden partials included."""
    fs, path = fsspec.core.url_to_fs(url, **(storage_options or {}))
    fs.invalidate_cache()
    return fs.find(path, withdirs=False) if fs.exists(path) else []


DESTINATIONS: dict[str, Callable[[Path], str]] = {
    "local": lambda tmp: f"{tmp}/videos/",
    "memory": lambda tmp: f"memory://cut-{uuid.uuid4().hex}/",
    "s3": lambda tmp: f"s3://videos/cut-{uuid.uuid4().hex}/",
}


@pytest.mark.parametrize("where", list(DESTINATIONS))
def test_a_download_cut_short_leaves_nothing_at_the_destination(
    credentials: SoraCredentials,
    sora_emulator: Emulator,
    tmp_path: Path,
    s3_options: dict[str, Any],
    where: str,
) -> None:
    video = completed_video(credentials)
    destination = DESTINATIONS[where](tmp_path)
    options = s3_options if where == "s3" else None
    sora_emulator.inject("truncate", endpoint="content")

    with pytest.raises(TransportError) as caught:
        fetch_video.with_options(retries=0)(credentials, video=video, destination=destination, storage_options=options)

    assert caught.value.video_id == video.id
    assert sora_emulator.stats()["faults"] == {"truncate": 1}
    assert everything_under(destination, options) == []


def test_a_cut_download_is_retried_by_the_task_and_ends_complete(
    credentials: SoraCredentials, sora_emulator: Emulator, tmp_path: Path
) -> None:
    video = completed_video(credentials)
    sora_emulator.inject("truncate", endpoint="content")

    result = fetch_video(credentials, video=video, destination=f"{tmp_path}/")

    assert sora_emulator.stats()["downloads"][video.id]["video"] == 2
    assert [p.name for p in tmp_path.iterdir()] == [f"{video.id}.mp4"]
    assert (tmp_path / f"{video.id}.mp4").read_bytes() == served(sora_emulator, video.id)
    assert result.bytes == len(served(sora_emulator, video.id))


def test_an_expired_video_raises_content_expired_writes_nothing_and_is_not_retried(
    credentials: SoraCredentials, sora_emulator: Emulator, tmp_path: Path
) -> None:
    video = completed_video(credentials)
    sora_emulator.expire(video.id)

    with pytest.raises(ContentExpired) as caught:
        fetch_video(credentials, video=video, destination=f"{tmp_path}/")

    assert caught.value.video_id == video.id and caught.value.status_code == 410
    assert list(tmp_path.iterdir()) == []
    assert sora_emulator.stats()["responses_by_status"].get("410") == 1


def test_content_of_an_unfinished_job_is_not_ready_and_writes_nothing(
    credentials: SoraCredentials, sora_emulator: Emulator, tmp_path: Path
) -> None:
    video = submit_video(credentials, prompt="fog over a pine forest [emulator:stuck]")

    with pytest.raises(ContentNotReady):
        fetch_video(credentials, video=video, destination=f"{tmp_path}/")

    assert list(tmp_path.iterdir()) == []
    assert sora_emulator.stats()["responses_by_status"].get("409") == 1


@pytest.mark.parametrize("content_type", ["application/json", "video/mp4"])
def test_a_json_body_served_as_video_is_refused_and_nothing_stored(
    rogue_server: Any, api_key: str, tmp_path: Path, content_type: str
) -> None:
    """The emulator always serves real media, so a rogue server answers the content path with
    200 and a JSON error body: once labelled as JSON, once lying that it is an MP4."""
    body = json.dumps({"error": {"message": "upstream timeout", "code": "gateway_error"}}).encode()
    base_url = rogue_server(lambda method, path, headers: (200, {"content-type": content_type}, body))
    credentials = SoraCredentials(api_key=api_key, base_url=base_url)

    with pytest.raises(InvalidContent) as caught:
        fetch_video(credentials, video="video_123", destination=f"{tmp_path}/")

    assert caught.value.video_id == "video_123"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("video_id", ["..", ".", "", "video_1\x00", "line\nbreak"])
def test_what_cannot_be_an_id_is_refused_before_any_request_and_writes_nothing(
    credentials: SoraCredentials, sora_emulator: Emulator, tmp_path: Path, video_id: str
) -> None:
    with pytest.raises(InvalidParameter) as caught:
        fetch_video(credentials, video=video_id, destination=f"{tmp_path}/inside/")

    assert caught.value.param == "video_id"
    assert sora_emulator.stats()["requests_total"] == 0
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("video_id", ["../../etc/passwd", "a/b", "/abs"])
def test_a_hostile_looking_id_stays_one_path_segment_and_writes_nothing_outside(
    credentials: SoraCredentials, sora_emulator: Emulator, tmp_path: Path, video_id: str
) -> None:
    # Gateways issue ids with '/' (LiteLLM's base64), so such an id is asked for,
    # percent-encoded: the service does not know it, and nothing is written.
    with pytest.raises(VideoNotFound):
        fetch_video(credentials, video=video_id, destination=f"{tmp_path}/inside/")

    assert sora_emulator.stats()["requests_total"] == 1
    assert list(tmp_path.iterdir()) == []
