"""What the flow tests check outside the code under test: the stored MP4, the emulator's jobs, artifacts, task runs."""

from __future__ import annotations

import asyncio
import hashlib
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import av
import fsspec
import httpx
from prefect import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import Artifact, TaskRun

from prefect_sora.emulator import Emulator


def local_path(url: str) -> Path:
    """The local file behind a ``file://`` URL the flows return."""
    assert url.startswith("file://"), url
    return Path(url.removeprefix("file://"))


def sha256_of(url: str) -> str:
    """SHA-256 of the file at any fsspec URL."""
    with fsspec.open(url, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def probe(path: Path) -> tuple[int, int, float]:
    """Width, height and duration of an MP4, read by FFmpeg (PyAV); decodes a frame to prove it plays."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frame = next(container.decode(stream))
        assert (frame.width, frame.height) == (stream.codec_context.width, stream.codec_context.height)
        assert container.duration is not None
        return frame.width, frame.height, container.duration / av.time_base


def make_video(emulator: Emulator, prompt: str, *, wait: bool = True, **fields: str) -> str:
    """Create a job on the emulator directly (as another client would) and return its id."""
    body = {"model": "sora-2", "prompt": prompt, **fields}
    with httpx.Client(base_url=emulator.base_url, headers={"Authorization": "Bearer sk-other"}, timeout=10) as api:
        video = api.post("/videos", json=body).raise_for_status().json()
        deadline = time.monotonic() + 10
        while wait and api.get(f"/videos/{video['id']}").json()["status"] != "completed":
            assert time.monotonic() < deadline, "the source video did not complete"
            time.sleep(0.05)
    return str(video["id"])


def retrieve(emulator: Emulator, video_id: str) -> dict[str, Any]:
    """The job as the API shows it."""
    response = httpx.get(f"{emulator.base_url}/videos/{video_id}", headers={"Authorization": "Bearer sk-other"})
    return dict(response.raise_for_status().json())


async def artifacts_of(flow_run_id: UUID) -> list[Artifact]:
    """Every artifact of a flow run (its tasks' included), read back from the Prefect server."""
    async with get_client() as client:
        return await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )


async def task_runs_of(flow_run_id: UUID, *, settle: float = 10.0) -> list[TaskRun]:
    """The flow run's task runs once the server shows every one of them in a final state.

    Task run states reach the server as events, processed a moment later, so a
    read right after the flow returns may still show them running.
    """
    deadline = time.monotonic() + settle
    async with get_client() as client:
        while True:
            runs = await client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
            )
            if runs and all(run.state is not None and run.state.is_final() for run in runs):
                return runs
            assert time.monotonic() < deadline, f"task runs not final after {settle}s: {runs}"
            await asyncio.sleep(0.1)
