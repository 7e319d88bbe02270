"""A video's life read back from a real Prefect server's event API, as an automation sees it."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import uuid
from decimal import Decimal
from typing import Any

import pytest
from events_helpers import Event, named, read_events, related_of
from prefect.settings import PREFECT_SERVER_EVENTS_MAXIMUM_SIZE_BYTES, temporary_settings

from prefect_sora._models import VideoRequest
from prefect_sora._pricing import estimate
from prefect_sora.blocks import SoraCredentials, SoraStorage
from prefect_sora.emulator import Emulator
from prefect_sora.flows import batch_text_to_video, remix_video, text_to_video
from prefect_sora.flows._pipeline import Job
from prefect_sora.flows._steps import ClientSteps
from prefect_sora.tasks._events import video_resource_id

STORAGE_CANARY = "storage-LEAKCANARY-91c3f7"


def saved(credentials: SoraCredentials) -> tuple[str, str]:
    """The block saved under a fresh name: (its name, its document id)."""
    name = f"events-{uuid.uuid4().hex[:8]}"
    document_id = credentials.save(name)
    return name, str(document_id)


def flow_run_of(state: Any) -> str:
    return f"prefect.flow-run.{state.state_details.flow_run_id}"


def by_video(events: list[Event]) -> dict[str, list[Event]]:
    grouped: dict[str, list[Event]] = {}
    for event in events:
        grouped.setdefault(event["resource"]["sora.video.id"], []).append(event)
    return grouped


def assert_ordered(events: list[Event]) -> None:
    """Each of one video's events follows the one before it."""
    assert events[0]["follows"] is None
    for before, after in itertools.pairwise(events):
        assert after["follows"] == before["id"]


def test_a_single_video_run_emits_submitted_completed_and_stored_with_its_run_block_and_model(
    sora_emulator: Emulator,
    credentials: SoraCredentials,
    api_key: str,
    s3_options: dict[str, Any],
    api_url: str,
) -> None:
    block, block_id = saved(credentials)
    out = f"events-{uuid.uuid4().hex[:8]}/"
    # The storage's secret in the block that keeps it (moto takes any secret); out is relative to its base.
    storage = SoraStorage(base_url="s3://videos/", storage_options={**s3_options, "secret": STORAGE_CANARY})
    prompt = "A koi pond at dawn, slow dolly in, mist over the water and lanterns along the bank"
    state = asyncio.run(
        text_to_video(
            prompt, seconds="8", size="1280x720", out=out, credentials=block, storage=storage, return_state=True
        )
    )
    result = state.result()
    run = flow_run_of(state)

    events = read_events(api_url, related=run, until=lambda found: len(found) >= 3)

    assert named(events) == ["sora.video.submitted", "sora.video.completed", "sora.video.stored"]
    video_id = result.video_id
    for event in events:
        assert event["resource"] == {
            "prefect.resource.id": f"sora.video.{video_id}",
            "sora.video.id": video_id,
            "prefect.resource.name": "A koi pond at dawn, slow dolly in, mist over the water and…",
        }
        related = related_of(event)
        assert related["model"] == {"prefect.resource.id": "sora.model.sora-2", "prefect.resource.role": "model"}
        assert related["credentials"] == {
            "prefect.resource.id": f"prefect.block-document.{block_id}",
            "prefect.resource.role": "credentials",
            "prefect.resource.name": block,
        }
        assert related["flow-run"]["prefect.resource.id"] == run
        assert related["flow"]["prefect.resource.name"] == "sora-text-to-video"
        assert "source" not in related
    task_runs = [related_of(event)["task-run"]["prefect.resource.name"] for event in events]
    assert [name.rsplit("-", 1)[0] for name in task_runs] == ["submit-video", "await-video", "fetch-video"]
    common = {"model": "sora-2", "size": "1280x720", "seconds": "8", "estimated_usd": "0.80"}
    assert [event["payload"] for event in events] == [
        {**common, "actual_usd": "0"},
        {**common, "actual_usd": "0.80"},
        {**common, "actual_usd": "0.80", "url": result.url, "bytes": result.bytes, "sha256": result.sha256},
    ]
    assert_ordered(events)
    # Neither the key nor a storage secret, in ours nor in any event of the run.
    everything = read_events(api_url, related=run, prefix="prefect.", until=lambda found: len(found) >= 8)
    for text in (json.dumps(events), json.dumps(everything)):
        assert api_key not in text and STORAGE_CANARY not in text


def test_a_failed_job_emits_failed_with_its_code_and_reason_and_not_billed(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str, api_url: str
) -> None:
    state = asyncio.run(
        text_to_video(
            "A forbidden scene [emulator:fail=moderation_blocked]", out=out, credentials=credentials, return_state=True
        )
    )
    assert state.is_failed()

    events = read_events(api_url, related=flow_run_of(state), until=lambda found: len(found) >= 2)

    assert named(events) == ["sora.video.submitted", "sora.video.failed"]
    failed = events[1]
    assert failed["resource"]["sora.video.id"] == events[0]["resource"]["sora.video.id"]
    assert failed["payload"] == {
        "model": "sora-2",
        "size": "720x1280",
        "seconds": "4",
        "estimated_usd": "0.40",
        "actual_usd": "0",
        "code": "moderation_blocked",
        "reason": "Job failed (not billed): Your request was blocked by our moderation system.",
        "billed": False,
    }
    assert related_of(failed)["task-run"]["prefect.resource.name"].startswith("await-video")
    assert "credentials" not in related_of(failed)  # an unsaved block has no document to relate
    assert_ordered(events)


def test_a_remix_relates_its_source_video_and_is_priced_as_it(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str, api_url: str
) -> None:
    source = asyncio.run(text_to_video("A red kite over hills", seconds="8", out=out, credentials=credentials))
    state = asyncio.run(
        remix_video(source.video_id, "Make the kite blue", out=out, credentials=credentials, return_state=True)
    )
    remix = state.result()

    events = read_events(api_url, related=flow_run_of(state), until=lambda found: len(found) >= 3)

    assert named(events) == ["sora.video.submitted", "sora.video.completed", "sora.video.stored"]
    for event in events:
        assert event["resource"]["sora.video.id"] == remix.video_id != source.video_id
        assert event["resource"]["prefect.resource.name"] == "Make the kite blue"
        assert related_of(event)["source"] == {
            "prefect.resource.id": f"sora.video.{source.video_id}",
            "prefect.resource.role": "source",
            "sora.video.id": source.video_id,
        }
        assert related_of(event)["flow"]["prefect.resource.name"] == "sora-remix-video"
        # The remix keeps the source's model, size and length, and is billed for them.
        assert {k: event["payload"][k] for k in ("model", "size", "seconds", "estimated_usd")} == {
            "model": "sora-2",
            "size": "720x1280",
            "seconds": "8",
            "estimated_usd": "0.80",
        }
    assert_ordered(events)


def test_a_batch_emits_the_same_events_per_item_from_each_items_task_run(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str, api_url: str
) -> None:
    requests = [
        VideoRequest(prompt="A paper boat, take 0"),
        VideoRequest(prompt="A paper boat, take 1 [emulator:fail=internal_error]", seconds="8"),
        VideoRequest(prompt="A paper boat, take 2", model="sora-2-pro", size="1280x720"),
    ]
    state = asyncio.run(batch_text_to_video(requests, out=out, credentials=credentials, return_state=True))
    assert state.is_failed()  # one item was not stored
    batch = state.result(raise_on_failure=False).result

    events = read_events(api_url, related=flow_run_of(state), until=lambda found: len(found) >= 8)

    videos = by_video(events)
    assert set(videos) == {item.video_id for item in batch.items}
    for item in batch.items:
        mine = videos[item.video_id]
        expected = ["submitted", "failed"] if item.index == 1 else ["submitted", "completed", "stored"]
        assert named(mine) == [f"sora.video.{name}" for name in expected]
        price = str(estimate(item.model, item.size, int(item.seconds)).total_usd)
        billed = "0" if item.index == 1 else price
        common = {"model": item.model, "size": item.size, "seconds": item.seconds, "estimated_usd": price}
        assert mine[0]["payload"] == {**common, "actual_usd": "0"}
        assert mine[-1]["payload"] == (
            {
                **common,
                "actual_usd": "0",
                "code": "internal_error",
                "billed": False,
                "reason": mine[-1]["payload"]["reason"],
            }
            if item.index == 1
            else {**common, "actual_usd": billed, "url": item.url, "bytes": item.bytes, "sha256": item.sha256}
        )
        for event in mine:
            assert event["resource"]["prefect.resource.name"] == item.prompt
            related = related_of(event)
            assert related["task-run"]["prefect.resource.name"] == f"video-{item.index}"
            assert related["model"]["prefect.resource.id"] == f"sora.model.{item.model}"
            assert related["flow"]["prefect.resource.name"] == "sora-batch-text-to-video"
        assert_ordered(mine)
    assert Decimal(videos[batch.items[2].video_id][-1]["payload"]["actual_usd"]) == batch.items[2].actual_usd


def test_an_event_the_events_client_refuses_is_logged_at_debug_and_the_video_goes_on(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def produce() -> str:
        async with credentials.get_client() as client:
            steps = ClientSteps(client, out, 60, credentials=credentials)
            request = VideoRequest(prompt="A lighthouse in a storm")
            job = Job(index=0, request=request, estimate=estimate("sora-2", "720x1280", 4))
            video = await steps.submit(job, idempotency_key=uuid.uuid4().hex, exclude_ids=frozenset())
            return (await steps.fetch((await steps.wait(video)).id, paid=request)).url

    # Every event is over the size Prefect allows: emit_event raises EventTooLarge.
    with temporary_settings(updates={PREFECT_SERVER_EVENTS_MAXIMUM_SIZE_BYTES: 64}), caplog.at_level(logging.DEBUG):
        url = asyncio.run(produce())

    assert url.endswith(".mp4")
    refused = [r.getMessage() for r in caplog.records if r.name == "prefect_sora.tasks._events"]
    assert [line.split(" for video")[0] for line in refused] == [
        "Could not emit sora.video.submitted",
        "Could not emit sora.video.completed",
        "Could not emit sora.video.stored",
    ]
    assert all(r.levelno == logging.DEBUG for r in caplog.records if r.name == "prefect_sora.tasks._events")
    assert all("EventTooLarge" in line for line in refused)


def test_a_long_gateway_id_is_hashed_in_the_resource_id_as_in_its_file_name() -> None:
    long_id = "litellm:custom_llm_provider:openai;model_id:abc/def+ghi=;video_id:" + "x" * 200

    resource = video_resource_id(long_id)

    assert resource.startswith("sora.video.litellm_custom_llm_provider_openai_model_id_abc_def_ghi_")
    assert len(resource) <= len("sora.video.") + 64 + 17
    assert video_resource_id(long_id + "y") != resource
    assert video_resource_id("video_123") == "sora.video.video_123"
