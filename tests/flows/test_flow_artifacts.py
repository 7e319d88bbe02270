"""What a flow run leaves in the Prefect UI: the cost table, the summary, a link per stored video, progress."""

from __future__ import annotations

import asyncio
import json
import re
from decimal import Decimal

from flow_helpers import artifacts_of
from prefect.client.schemas.objects import Artifact

from prefect_sora.blocks import SoraCredentials
from prefect_sora.emulator import Emulator
from prefect_sora.flows import batch_text_to_video, text_to_video
from prefect_sora.models import VideoRequest

LINK = re.compile(r"^\[[^\]]*\]\(([^)]+)\)$")


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
    assert links_in(artifacts) == [result.url]
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
    assert sorted(links_in(artifacts)) == sorted(item.url for item in batch.items if item.ok)
    progress = [a for a in artifacts if a.type == "progress"]
    assert len(progress) == 1 and progress[0].data == 100, "one bar for the whole batch, finished"
