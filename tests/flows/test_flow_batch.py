"""batch_text_to_video on the emulator: one budget for the whole batch, failures kept apart, bounded concurrency."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

import pytest
from flow_helpers import local_path, probe, sha256_of, task_runs_of

from prefect_sora._errors import BatchIncomplete, BudgetExceeded, InvalidParameter
from prefect_sora._models import VideoRequest
from prefect_sora.blocks import SoraCredentials
from prefect_sora.emulator import Emulator
from prefect_sora.flows import batch_text_to_video


def test_the_whole_batch_is_held_against_the_budget_before_anything_is_submitted(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str
) -> None:
    # Each item alone ($0.40, $0.80, $0.40) is under the budget; together ($1.60) they are not.
    requests = [
        VideoRequest(prompt="A paper boat on a rainy street"),
        VideoRequest(prompt="Northern lights over a frozen lake", seconds="8", size="1280x720"),
        VideoRequest(prompt="Dew on a spider web"),
    ]

    with pytest.raises(BudgetExceeded) as refused:
        asyncio.run(batch_text_to_video(requests, out=out, credentials=credentials, max_cost_usd=1.0))

    assert refused.value.estimated_usd == Decimal("1.60")
    stats = sora_emulator.stats()
    assert (stats["creates"], stats["requests_total"]) == (0, 0)


def test_an_invalid_item_refuses_the_batch_naming_the_item_before_any_request(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str
) -> None:
    requests = [VideoRequest(prompt="A paper boat"), VideoRequest(prompt="A kite", model="sora-2", size="1920x1080")]

    with pytest.raises(InvalidParameter) as refused:
        asyncio.run(batch_text_to_video(requests, out=out, credentials=credentials))

    assert refused.value.param == "requests[1].size"
    assert sora_emulator.stats()["requests_total"] == 0


def test_failed_items_keep_their_id_and_error_while_the_others_are_all_stored(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str
) -> None:
    # All 4 s long: the wait's first poll comes a third of a prior that grows with the length.
    requests = [
        VideoRequest(prompt="A paper boat on a rainy street"),
        VideoRequest(prompt="Something forbidden [emulator:fail=moderation_blocked]", size="1280x720"),
        VideoRequest(prompt="Timelapse of a city skyline", size="1280x720"),
        VideoRequest(prompt="A glitch [emulator:fail=internal_error]"),
        VideoRequest(prompt="Macro shot of dew", model="sora-2-pro"),
    ]

    with pytest.raises(BatchIncomplete, match="3 of 5 videos stored") as incomplete:
        asyncio.run(batch_text_to_video(requests, out=out, credentials=credentials, idempotency_key="mixed-1"))
    batch = incomplete.value.result

    assert [item.index for item in batch.items] == [0, 1, 2, 3, 4]
    assert [item.status for item in batch.items] == ["stored", "failed", "stored", "failed", "stored"]
    for item in batch.items:
        assert item.video_id is not None and item.video_id.startswith("video_")
        if item.ok:
            assert item.url is not None and item.bytes == local_path(item.url).stat().st_size
            assert sha256_of(item.url) == item.sha256
            assert item.actual_usd == item.estimated_usd
        else:
            assert item.url is None and item.error_type == "JobFailed" and item.actual_usd == 0
    assert [batch.items[1].error_code, batch.items[3].error_code] == ["moderation_blocked", "internal_error"]
    assert batch.items[1].video_id in (batch.items[1].error or "")
    assert probe(local_path(batch.items[2].url or "")) == (1280, 720, 4.0)
    # Estimated: 0.40 each for sora-2, 1.20 for sora-2-pro; billed: only the three completed jobs.
    assert batch.estimated_usd == Decimal("2.80")
    assert batch.actual_usd == Decimal("0.40") + Decimal("0.40") + Decimal("1.20")
    assert (batch.stored, batch.failed) == (3, 2)
    assert batch.idempotency_key == "mixed-1"
    assert sora_emulator.stats()["creates"] == 5


def test_concurrency_bounds_the_jobs_in_flight(sora_emulator: Emulator, credentials: SoraCredentials, out: str) -> None:
    requests = [VideoRequest(prompt=f"A paper boat, take {i} [emulator:seconds=0.5]") for i in range(6)]

    batch = asyncio.run(batch_text_to_video(requests, out=out, credentials=credentials, concurrency=3))

    assert batch.stored == 6
    # A slot is freed only once a job has completed and been downloaded, so the jobs'
    # lifetimes on the service ([created, completed]) can overlap at most `concurrency`
    # deep; unbounded, all six would overlap. Two waves of three show the bound is met.
    plans = [sora_emulator.plan(item.video_id or "") for item in batch.items]
    events = sorted([(p["created_at"], 1) for p in plans] + [(p["ends_at"], -1) for p in plans])
    in_flight = peak = 0
    for _, change in events:
        in_flight += change
        peak = max(peak, in_flight)
    assert peak == 3


def test_an_item_not_stored_fails_its_task_run_and_the_flow_run_saying_how_many_were_stored(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str, caplog: pytest.LogCaptureFixture
) -> None:
    requests = [
        VideoRequest(prompt="A paper boat"),
        VideoRequest(prompt="Forbidden [emulator:fail=moderation_blocked]"),
        VideoRequest(prompt="Dew on a web"),
    ]
    caplog.set_level(logging.INFO)

    state = asyncio.run(
        batch_text_to_video(requests, out=out, credentials=credentials, idempotency_key="visible-1", return_state=True)
    )

    # The flow run is Failed, not green, and says how many of how many were stored.
    assert state.is_failed()
    assert "2 of 3 videos stored" in (state.message or "")
    incomplete = state.result(raise_on_failure=False)
    assert isinstance(incomplete, BatchIncomplete)
    assert "idempotency_key='visible-1'" in str(incomplete)
    batch = incomplete.result
    failed = batch.items[1]
    assert (batch.stored, batch.failed, failed.status) == (2, 1, "failed")
    # Its task run is Failed with the id, status and reason; the others Completed.
    runs = {run.name: run for run in asyncio.run(task_runs_of(state.state_details.flow_run_id))}
    produced = {name: run.state for name, run in runs.items() if name.startswith("video-")}
    assert {name: s.type.value for name, s in produced.items()} == {
        "video-0": "COMPLETED",
        "video-1": "FAILED",
        "video-2": "COMPLETED",
    }
    message = produced["video-1"].message or ""
    assert failed.video_id and failed.video_id in message and "failed" in message and "moderation" in message
    # One WARNING line for the item not stored, naming its job; none for the stored ones.
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert [w for w in warnings if w.startswith("Item ")] == [message]


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"shards": 0}, "shards"),
        ({"shards": -2}, "shards"),
        ({"shards": 2, "shard_stale_seconds": 0}, "shard_stale_seconds"),
        ({"shards": 2}, "credentials"),  # an unsaved block cannot travel to the shard runs
        ({"shards": 2, "credentials": None, "shard_deployment": "no-such/deployment"}, "shard_deployment"),
    ],
)
def test_a_bad_shard_setting_is_refused_before_any_request(
    sora_emulator: Emulator,
    credentials: SoraCredentials,
    out: str,
    monkeypatch: pytest.MonkeyPatch,
    options: dict,
    named: str,
) -> None:
    monkeypatch.setenv("SORA_API_KEY", "sk-test-shards")
    monkeypatch.setenv("SORA_BASE_URL", sora_emulator.base_url)
    requests = [VideoRequest(prompt=f"A paper boat, take {i}") for i in range(3)]
    arguments = {"credentials": credentials, **options}

    with pytest.raises(InvalidParameter) as refused:
        asyncio.run(batch_text_to_video(requests, out=out, **arguments))

    assert refused.value.param == named
    assert sora_emulator.stats()["requests_total"] == 0
