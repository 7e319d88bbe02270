"""A defective video's last event is sora.video.defective, with the evidence, and never sora.video.stored."""

from __future__ import annotations

import asyncio

from events_helpers import named, read_events

from prefect_sora._models import VideoRequest
from prefect_sora.blocks import SoraCredentials
from prefect_sora.emulator import Emulator
from prefect_sora.flows import batch_text_to_video


def test_a_defective_item_ends_its_events_with_defective_carrying_url_sha256_and_problems(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str, api_url: str
) -> None:
    requests = [VideoRequest(prompt="A sound one"), VideoRequest(prompt="Too small [emulator:defect=small]")]
    state = asyncio.run(batch_text_to_video(requests, out=out, credentials=credentials, return_state=True))
    sound, defective = state.result(raise_on_failure=False).result.items
    run = f"prefect.flow-run.{state.state_details.flow_run_id}"

    events = read_events(api_url, related=run, until=lambda found: len(found) >= 6)

    of = {
        item.video_id: [e for e in events if e["resource"]["sora.video.id"] == item.video_id]
        for item in (sound, defective)
    }
    assert named(of[sound.video_id]) == ["sora.video.submitted", "sora.video.completed", "sora.video.stored"]
    assert named(of[defective.video_id]) == ["sora.video.submitted", "sora.video.completed", "sora.video.defective"]
    payload = of[defective.video_id][-1]["payload"]
    assert (payload["url"], payload["sha256"]) == (defective.url, defective.sha256)
    assert payload["problems"] == ["size: expected 720x1280, found 640x360"] and payload["actual_usd"] == "0.40"
