"""Through a gateway that echoes another id for each job (a LiteLLM proxy), the flows report and journal the created id.

With ``echo_id="reencoded"`` the emulator answers every status read with LiteLLM's
re-encoded id (model part empty) and refuses any request by it, as the real proxy routes
it to another upstream (``stats()["misrouted"]`` counts them). Results, errors, the
journal and the run's artifacts must all name the id the create answered.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from flow_helpers import artifacts_of, local_path

from prefect_sora._durable.journal import Journal
from prefect_sora._errors import BatchIncomplete, VideoNotStored
from prefect_sora._models import VideoRequest
from prefect_sora.blocks import SoraCredentials
from prefect_sora.emulator import Emulator, EmulatorConfig
from prefect_sora.emulator._echo import echoed_video_id
from prefect_sora.emulator._ids import decode_litellm_id
from prefect_sora.flows import batch_text_to_video, remix_video, text_to_video


@pytest.fixture
def sora_emulator_config() -> EmulatorConfig:
    return EmulatorConfig(profile="litellm", echo_id="reencoded", job_seconds=0.2, poll_after_ms=20)


def created_by(emulator: Emulator, video_id: str | None, model: str = "sora-2") -> None:
    """``video_id`` is an id a create answered: the emulator holds it, and it names its model."""
    assert video_id is not None and emulator.plan(video_id)["id"] == video_id
    parts = decode_litellm_id(video_id)
    assert parts is not None and parts["model_id"] == model, parts


async def journal_of(tmp_path: Path, key: str) -> dict[int, Any]:
    return {entry.index: entry for entry in await Journal(f"{tmp_path}/journal", key).entries()}


def test_text_to_video_stores_reports_and_journals_the_created_id(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str, tmp_path: Path
) -> None:
    state = asyncio.run(
        text_to_video(
            "A harbour at dusk",
            out=out,
            credentials=credentials,
            idempotency_key="harbour-1",
            journal_url=f"{tmp_path}/journal",
            return_state=True,
        )
    )
    result = state.result()

    created_by(sora_emulator, result.video_id)
    assert result.status == "stored" and local_path(result.url or "").name.startswith("video_")
    assert sora_emulator.stats()["misrouted"] == 0
    entry = asyncio.run(journal_of(tmp_path, "harbour-1"))[0]
    assert entry.video_id == result.video_id and entry.stored is not None
    assert entry.stored.video_id == result.video_id
    echoed = echoed_video_id(result.video_id or "")
    artifacts = asyncio.run(artifacts_of(state.state_details.flow_run_id))
    shown = json.dumps([[a.data, a.description] for a in artifacts], default=str)
    assert artifacts and result.video_id in shown and echoed not in shown


def test_a_batch_reports_and_journals_every_item_by_its_created_id(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str, tmp_path: Path
) -> None:
    requests = [VideoRequest(prompt=f"Boats, take {n}") for n in range(2)]
    requests.append(VideoRequest(prompt="Refused [emulator:fail=moderation_blocked]"))

    with pytest.raises(BatchIncomplete) as raised:
        asyncio.run(
            batch_text_to_video(
                requests, out=out, credentials=credentials, idempotency_key="boats-1", journal_url=f"{tmp_path}/journal"
            )
        )

    items = raised.value.result.items
    assert [item.status for item in items] == ["stored", "stored", "failed"]
    for item in items:
        created_by(sora_emulator, item.video_id)
    assert items[2].error_code == "moderation_blocked" and items[2].failed_video_ids == [items[2].video_id]
    assert items[2].video_id in str(raised.value)
    journal = asyncio.run(journal_of(tmp_path, "boats-1"))
    assert [journal[n].video_id for n in (0, 1)] == [items[0].video_id, items[1].video_id]
    assert journal[2].failed_ids == [items[2].video_id]
    stats = sora_emulator.stats()
    assert stats["misrouted"] == 0 and stats["creates"] == 3


def test_a_rerun_resumes_the_created_id_without_a_new_create(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str, tmp_path: Path
) -> None:
    run = {"out": out, "credentials": credentials, "idempotency_key": "slow-1", "journal_url": f"{tmp_path}/journal"}
    prompt = "A slow sunrise [emulator:seconds=4]"

    with pytest.raises(VideoNotStored) as timed_out:
        asyncio.run(text_to_video(prompt, timeout_seconds=0.5, **run))
    first = timed_out.value.result
    again = asyncio.run(text_to_video(prompt, timeout_seconds=60, **run))

    assert first.status == "timed_out" and first.error_type == "WaitTimeout"
    created_by(sora_emulator, first.video_id)
    assert first.video_id in (first.error or "")
    assert asyncio.run(journal_of(tmp_path, "slow-1"))[0].video_id == first.video_id
    assert (again.status, again.video_id, again.resumed) == ("stored", first.video_id, True)
    stats = sora_emulator.stats()
    assert stats["creates"] == 1 and stats["misrouted"] == 0


def test_a_remix_flow_starts_from_the_created_id_and_reports_its_own(api_key: str, out: str) -> None:
    # LiteLLM does not serve remixes; a gateway with plain ids that echoes others does.
    with Emulator(profile="openai", echo_id="reencoded", job_seconds=0.2, poll_after_ms=20) as emulator:
        credentials = SoraCredentials(api_key=api_key, base_url=emulator.base_url)
        source = asyncio.run(text_to_video("A red kite", out=out, credentials=credentials))
        remix = asyncio.run(remix_video(source.video_id or "", "A blue kite", out=out, credentials=credentials))

        assert remix.status == "stored" and remix.video_id not in (None, source.video_id)
        plan = emulator.plan(remix.video_id or "")
        assert plan["id"] == remix.video_id and plan["source_video_id"] == source.video_id
        assert emulator.stats()["misrouted"] == 0 and emulator.stats()["remixes"] == 1
