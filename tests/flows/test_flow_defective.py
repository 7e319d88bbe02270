"""A paid video that is not the one paid for: status `defective`, kept, counted as paid, listed as evidence.

Also: a budget that is no number (NaN, infinite, negative) is refused before any request.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import pytest
from flow_helpers import artifacts_of, local_path, make_video, task_runs_of

from prefect_sora._errors import BatchIncomplete, InvalidParameter, VideoNotStored
from prefect_sora._models import VideoRequest
from prefect_sora.blocks import SoraCredentials
from prefect_sora.emulator import Emulator
from prefect_sora.flows import batch_text_to_video, remix_video, text_to_video


def test_a_batch_of_3_with_one_defective_item_stores_the_others_and_lists_it_as_evidence(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str
) -> None:
    requests = [
        VideoRequest(prompt="A paper boat"),
        VideoRequest(prompt="A relay's hiccup [emulator:defect=truncated_mdat]", seconds="8"),
        VideoRequest(prompt="Dew on a web"),
    ]

    state = asyncio.run(
        batch_text_to_video(requests, out=out, credentials=credentials, idempotency_key="defect-1", return_state=True)
    )

    assert state.is_failed() and "2 of 3 videos stored" in (state.message or "")
    incomplete = state.result(raise_on_failure=False)
    assert isinstance(incomplete, BatchIncomplete)
    batch = incomplete.result
    assert [item.status for item in batch.items] == ["stored", "defective", "stored"]
    assert (batch.stored, batch.failed, batch.defective) == (2, 1, 1)
    # Money: the defective job completed, so it is paid for like the others ($0.40 + $0.80 + $0.40).
    assert sora_emulator.stats()["creates"] == 3
    assert batch.actual_usd == Decimal("1.60") and batch.items[1].actual_usd == Decimal("0.80")
    defective = batch.items[1]
    assert defective.url is not None and local_path(defective.url).exists(), "kept where it was stored"
    assert defective.error_type == "VideoDefective" and len(defective.problems) == 1
    assert defective.problems[0].startswith("samples: expected every vide sample inside the file's")
    # The summary lists it with its id, where it is kept and what is wrong: a refund claim's evidence.
    artifacts = asyncio.run(artifacts_of(state.state_details.flow_run_id))
    (summary,) = [a for a in artifacts if a.key == "sora-batch-summary"]
    evidence = summary.data.split("## Defective")[1]
    assert f"`{defective.video_id}`" in evidence and f"`{defective.url}`" in evidence
    assert "expected every vide sample inside" in evidence and "## Not stored" not in summary.data
    (table,) = [a for a in artifacts if a.key == "sora-batch-costs"]
    assert [row["status"] for row in json.loads(table.data)] == ["stored", "defective", "stored"]
    runs = {run.name: run.state for run in asyncio.run(task_runs_of(state.state_details.flow_run_id))}
    assert runs["video-1"] is not None and runs["video-1"].is_failed()
    assert "defective" in (runs["video-1"].message or "")


def test_a_rerun_checks_the_defective_video_again_without_paying_again(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str
) -> None:
    requests = [VideoRequest(prompt="Too small [emulator:defect=small]")]
    for _ in range(2):
        with pytest.raises(BatchIncomplete) as raised:
            asyncio.run(batch_text_to_video(requests, out=out, credentials=credentials, idempotency_key="defect-2"))
        (item,) = raised.value.result.items
        assert item.status == "defective" and item.problems == ["size: expected 720x1280, found 640x360"]

    stats = sora_emulator.stats()
    assert stats["creates"] == 1 and stats["downloads"][item.video_id] == {"video": 2}
    assert item.resumed


def test_text_to_video_of_a_short_video_ends_not_stored_with_its_result_and_keeps_the_file(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str
) -> None:
    with pytest.raises(VideoNotStored) as raised:
        asyncio.run(text_to_video("A kite [emulator:defect=short]", seconds="12", out=out, credentials=credentials))

    result = raised.value.result
    assert raised.value.reason == "VideoDefective" and result.status == "defective"
    assert result.problems == ["duration: expected 12 s (within 0.5 s), found 2.00 s"]
    assert result.actual_usd == Decimal("1.20") and local_path(result.url).exists()
    assert sora_emulator.stats()["downloads"][result.video_id] == {"video": 1}


@pytest.mark.parametrize("budget", [float("nan"), float("inf"), -1.0])
def test_a_budget_that_is_no_amount_is_refused_before_any_request(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str, budget: float
) -> None:
    source = make_video(sora_emulator, "A source to remix")
    before = sora_emulator.stats()["requests_total"]
    calls = [
        text_to_video("A kite", out=out, credentials=credentials, max_cost_usd=budget),
        batch_text_to_video([VideoRequest(prompt="A kite")], out=out, credentials=credentials, max_cost_usd=budget),
        remix_video(source, "Make it blue", out=out, credentials=credentials, max_cost_usd=budget),
    ]
    for call in calls:
        with pytest.raises(InvalidParameter) as raised:
            asyncio.run(call)
        assert raised.value.param == "max_cost_usd"

    assert sora_emulator.stats()["requests_total"] == before
