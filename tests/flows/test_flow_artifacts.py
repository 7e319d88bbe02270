"""What a flow run leaves in the Prefect UI: the cost table, the summary, a link per stored video, progress."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable
from decimal import Decimal
from uuid import UUID

from flow_helpers import artifacts_of
from prefect import flow, get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterId
from prefect.client.schemas.objects import Artifact

from prefect_sora._models import Video, VideoRequest
from prefect_sora.blocks import SoraCredentials
from prefect_sora.emulator import Emulator
from prefect_sora.flows import batch_text_to_video, text_to_video
from prefect_sora.flows._artifacts import BatchProgress, _text, summary
from prefect_sora.flows._results import ItemStatus, VideoResult

LINK = re.compile(r"^\[[^\]]*\]\(([^)]+)\)$")
PLACE = re.compile(r"is stored on the disk of the machine that ran the flow, at `([^`]+)`")


def places_in(artifacts: list[Artifact]) -> list[str]:
    """Where the keyless markdown artifacts say a stored video is (local storage: in words, no dead link)."""
    return [m.group(1) for a in artifacts if a.type == "markdown" and a.key is None if (m := PLACE.search(str(a.data)))]


def links_in(artifacts: list[Artifact]) -> list[str]:
    """The targets of the link artifacts (Prefect stores them as markdown ``[text](url)`` without a key)."""
    return [m.group(1) for a in artifacts if a.type == "markdown" and a.key is None if (m := LINK.match(str(a.data)))]


def test_a_text_to_video_run_has_cost_table_summary_link_and_progress_artifacts(
    sora_emulator: Emulator, credentials: SoraCredentials, api_key: str, out: str
) -> None:
    state = asyncio.run(text_to_video("A red kite over hills", out=out, credentials=credentials, return_state=True))
    result = state.result()

    artifacts = asyncio.run(artifacts_of(state.state_details.flow_run_id))

    (table,) = [a for a in artifacts if a.type == "table"]
    assert table.key == "sora-text-to-video-costs"
    rows = json.loads(table.data)
    assert [(row["video_id"], row["status"], row["estimated_usd"], row["actual_usd"]) for row in rows] == [
        (result.video_id, "stored", "0.40", "0.40")
    ]
    (summary,) = [a for a in artifacts if a.key == "sora-text-to-video-summary"]
    assert summary.type == "markdown"
    assert "1 of 1" in summary.data and "$0.40" in summary.data
    assert places_in(artifacts) == [result.url.removeprefix("file://")] and not links_in(artifacts)
    assert result.video_id in str(next(a.data for a in artifacts if a.type == "markdown" and a.key is None))
    progress = [a for a in artifacts if a.type == "progress"]
    assert len(progress) == 1 and progress[0].data == 100, "the wait's progress, finished"
    assert all(api_key not in f"{a.data} {a.description}" for a in artifacts)


def test_a_batch_summary_names_the_items_not_stored_and_how_to_resume(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str
) -> None:
    requests = [
        VideoRequest(prompt="A paper boat"),
        VideoRequest(prompt="Forbidden [emulator:fail=moderation_blocked]"),
        VideoRequest(prompt="Dew on a web"),
    ]
    state = asyncio.run(
        batch_text_to_video(requests, out=out, credentials=credentials, idempotency_key="summary-1", return_state=True)
    )
    batch = state.result(raise_on_failure=False).result

    artifacts = asyncio.run(artifacts_of(state.state_details.flow_run_id))

    (summary,) = [a for a in artifacts if a.key == "sora-batch-summary"]
    assert "2 of 3" in summary.data
    assert f"`{batch.items[1].video_id}`" in summary.data and "moderation" in summary.data
    assert "idempotency_key='summary-1'" in summary.data
    (table,) = [a for a in artifacts if a.key == "sora-batch-costs"]
    rows = json.loads(table.data)
    assert [Decimal(row["actual_usd"]) for row in rows] == [Decimal("0.40"), Decimal("0"), Decimal("0.40")]
    assert sorted(places_in(artifacts)) == sorted(
        (item.url or "").removeprefix("file://") for item in batch.items if item.ok
    )
    progress = [a for a in artifacts if a.type == "progress"]
    assert len(progress) == 1 and progress[0].data == 100, "one bar for the whole batch, finished"


def test_the_batch_progress_is_the_mean_of_its_items_and_moves_while_videos_generate() -> None:
    def job(video_id: str, status: str, progress: float = 0) -> Video:
        return Video.model_validate({"id": video_id, "status": status, "progress": progress})

    def done(index: int, video_id: str, status: ItemStatus) -> VideoResult:
        return VideoResult(index=index, prompt="p", video_id=video_id, status=status)

    @flow
    async def four_videos() -> tuple[UUID, list[float]]:
        progress = BatchProgress(4, interval=0)  # written on every change, for the test
        await progress.start()
        shown: list[float] = []

        async def then(change: Awaitable[None]) -> None:
            await change
            assert progress._id is not None
            (artifact,) = await artifacts_by_id(progress._id)
            shown.append(float(artifact.data))

        await then(progress.job_changed(job("video_a", "in_progress", 50)))  # a at 50 of 400
        await then(progress.job_changed(job("video_b", "queued")))
        await then(progress.job_changed(job("video_a", "completed", 100)))  # downloading: 100
        await then(progress.item_finished(done(0, "video_a", "stored")))
        await then(progress.job_changed(job("video_b", "in_progress", 40)))
        await then(progress.job_changed(job("video_b", "failed", 40)))  # out of the count until its item says
        await then(progress.item_finished(done(1, "video_b", "failed")))  # finally failed: 100
        await then(progress.finish())
        return progress._id, shown

    _, shown = asyncio.run(four_videos())

    assert shown == [12.5, 12.5, 25.0, 25.0, 35.0, 25.0, 50.0, 50.0]


async def artifacts_by_id(artifact_id: UUID) -> list[Artifact]:
    async with get_client() as client:
        return await client.read_artifacts(artifact_filter=ArtifactFilter(id=ArtifactFilterId(any_=[artifact_id])))


def test_odd_ids_stay_inside_their_table_cell_and_show_as_written() -> None:
    # In-process: the emulator's ids never hold these characters; some gateways' may
    # (any printable id is accepted), so the markdown is checked directly.
    odd = "vid|eo`1*[x]"
    item = VideoResult(index=0, prompt="p", video_id=odd, status="failed", error="a | b", estimated_usd=Decimal("0.4"))
    markdown = summary("T", [item], estimated=Decimal("0.4"), actual=Decimal("0"), resume_hint="")
    (row,) = [line for line in markdown.splitlines() if line.startswith("| 0 |")]

    cells = re.split(r"(?<!\\)\|", row)[1:-1]
    assert len(cells) == 4, row  # item, id, status, reason: the id's "|" did not open a fifth cell
    assert cells[1].strip() == r"``vid\|eo`1*[x]``"
    assert _text(odd) == r"vid\|eo\`1\*\[x\]"
