"""Small helpers the emulator tests share: polling with a deadline, error-envelope checks, images."""

from __future__ import annotations

import io
from typing import Any

import httpx
from PIL import Image
from servers import wait_for

from prefect_sora.emulator._jobs import Clock

AUTH = {"Authorization": "Bearer sk-test"}


class ManualClock(Clock):
    """A clock the test moves by hand, for exact times (bucket refills, sliding windows)."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.moment = start

    def now(self) -> float:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += seconds


def create(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    """Create a job by JSON (model and prompt defaulted) and return the Video object."""
    body = {"model": "sora-2", "prompt": "a red fox in the snow", **fields}
    response = api.post("/videos", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def wait_status(api: httpx.Client, video_id: str, *statuses: str, timeout: float = 5.0) -> dict[str, Any]:
    """Poll until the job reaches one of `statuses`; its Video object then."""

    def probe() -> dict[str, Any] | None:
        video = api.get(f"/videos/{video_id}").json()
        return dict(video) if video["status"] in statuses else None

    return wait_for(probe, timeout, f"{video_id} {'/'.join(statuses)}", every=0.01)


def assert_error(
    response: httpx.Response, status: int, *, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """Check the response is the API's error envelope with this status (and code, param)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["type"], str) and error["type"]
    if code is not None:
        assert error["code"] == code, error
    if param is not None:
        assert error["param"] == param, error
    return dict(error)


def image_bytes(width: int, height: int, fmt: str = "PNG") -> bytes:
    """An encoded image of the given size and format."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 40)).save(buffer, format=fmt)
    return buffer.getvalue()
