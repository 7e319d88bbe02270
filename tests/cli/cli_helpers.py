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


def last_flow_run_state(flow_name: str) -> str:
    """The type of the newest run of ``flow_name`` on the Prefect server, as the UI shows it."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        (run,) = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])),
            sort=FlowRunSort.EXPECTED_START_TIME_DESC,
            limit=1,
        )
    assert run.state is not None
    return run.state.type.value
