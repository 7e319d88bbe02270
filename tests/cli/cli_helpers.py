"""What the command-line tests check outside the code under test: printed paths and the MP4s behind them."""

from __future__ import annotations

import re
from pathlib import Path

import av

STORED = re.compile(r"Stored (video_[0-9a-f]+) at (\S+\.mp4)")


def stored_paths(output: str) -> list[tuple[str, Path]]:
    """(video id, local path) for every ``Stored video_... at file://...mp4`` line."""
    return [(video_id, Path(url.removeprefix("file://"))) for video_id, url in STORED.findall(output)]


def probe(path: Path) -> tuple[int, int, float]:
    """Width, height and duration of an MP4, read by FFmpeg (PyAV); decodes a frame to prove it plays."""
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        assert container.duration is not None
        return frame.width, frame.height, container.duration / av.time_base


RESUME_KEY = re.compile(r"resume key (\S+)")


def batch_run_state(resume_key: str) -> str:
    """The type of the state of the batch's flow run on the Prefect server, as the UI shows it.

    Without ``--idempotency-key`` a batch's resume key is its flow run's id: that is
    how its run is found among the runs other xdist workers make on the same server.
    """
    from prefect import get_client

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(resume_key)
    assert run.flow_id is not None and run.state is not None
    with get_client(sync_client=True) as client:
        assert client.read_flow(run.flow_id).name == "sora-batch-text-to-video"
    return run.state.type.value
