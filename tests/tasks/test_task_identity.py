"""Through a gateway that echoes another id for each job (a LiteLLM proxy), the tasks keep the created id.

The emulator's ``echo_id="reencoded"`` answers every status read with LiteLLM's re-encoded id
(model part empty) and refuses any request by that id, as the real proxy routes it to
another upstream; ``stats()["misrouted"]`` counts such requests.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from prefect import flow

from prefect_sora._durable.storage import file_name
from prefect_sora._errors import JobFailed, WaitTimeout
from prefect_sora._models import Video
from prefect_sora.blocks import SoraCredentials
from prefect_sora.emulator import Emulator, EmulatorConfig
from prefect_sora.tasks import await_video, fetch_video, submit_edit, submit_extension, submit_remix, submit_video


@pytest.fixture
def sora_emulator_config() -> EmulatorConfig:
    return EmulatorConfig(profile="litellm", echo_id="reencoded", job_seconds=0.2, poll_after_ms=20)


def echoes_in(records: list[logging.LogRecord], videos: list[Video]) -> list[str]:
    """The log lines that name a job by an id a status answer echoed."""
    echoed = {video.echoed_id for video in videos if video.echoed_id}
    return [r.getMessage() for r in records if any(e in r.getMessage() for e in echoed)]


def test_submit_await_and_fetch_keep_the_created_id(
    credentials: SoraCredentials, sora_emulator: Emulator, tmp_path: Path, log_records: pytest.LogCaptureFixture
) -> None:
    @flow
    def generate() -> tuple[Video, Video, Any]:
        submitted = submit_video(credentials, prompt="Dunes at noon")
        completed = await_video(credentials, video=submitted, timeout_seconds=60)
        return submitted, completed, fetch_video(credentials, video=completed, destination=f"{tmp_path}/videos/")

    submitted, completed, stored = generate()

    assert completed.id == submitted.id and completed.echoed_id not in (None, submitted.id)
    assert stored.video_id == submitted.id
    assert Path(stored.url.removeprefix("file://")).name == file_name(submitted.id, "video", "video/mp4")
    stats = sora_emulator.stats()
    assert stats["misrouted"] == 0 and stats["downloads"] == {submitted.id: {"video": 1}}
    assert echoes_in(log_records.records, [completed]) == []


def test_a_failed_job_and_a_passed_deadline_name_the_created_id(
    credentials: SoraCredentials, sora_emulator: Emulator
) -> None:
    @flow
    def both() -> tuple[Video, Any, Video, Any]:
        failing = submit_video(credentials, prompt="Fails [emulator:fail=moderation_blocked]")
        stuck = submit_video(credentials, prompt="Never ends [emulator:stuck]")
        failed = await_video(credentials, video=failing.id, return_state=True)
        timed_out = await_video(
            credentials, video=stuck.id, timeout_seconds=1.0, poll_window_seconds=0.4, return_state=True
        )
        return failing, failed.result(raise_on_failure=False), stuck, timed_out.result(raise_on_failure=False)

    failing, failed, stuck, timed_out = both()

    assert isinstance(failed, JobFailed) and failed.video_id == failing.id and failed.code == "moderation_blocked"
    assert isinstance(timed_out, WaitTimeout) and timed_out.video_id == stuck.id and stuck.id in str(timed_out)
    assert sora_emulator.stats()["misrouted"] == 0


def test_an_extension_and_an_edit_of_a_waited_video_keep_their_created_ids(
    credentials: SoraCredentials, sora_emulator: Emulator
) -> None:
    @flow
    def derive() -> tuple[Video, list[Video], list[Video]]:
        source = await_video(
            credentials, video=submit_video(credentials, prompt="A kite", seconds=4), timeout_seconds=60
        )
        jobs = [
            submit_extension(credentials, video=source, prompt="The kite climbs", seconds=4),
            submit_edit(credentials, video=source.id, prompt="A red kite"),
        ]
        return source, jobs, [await_video(credentials, video=job, timeout_seconds=60) for job in jobs]

    source, jobs, done = derive()

    assert [video.id for video in done] == [job.id for job in jobs]
    assert all(sora_emulator.plan(job.id)["source_video_id"] == source.id for job in jobs)
    assert sora_emulator.stats()["misrouted"] == 0


def test_a_remix_of_a_waited_video_keeps_its_created_id(api_key: str) -> None:
    # LiteLLM does not serve remixes; a gateway with plain ids that echoes others does.
    with Emulator(profile="openai", echo_id="reencoded", job_seconds=0.2, poll_after_ms=20) as emulator:
        credentials = SoraCredentials(api_key=api_key, base_url=emulator.base_url)

        @flow
        def remix() -> tuple[Video, Video, Video]:
            source = await_video(credentials, video=submit_video(credentials, prompt="A kite"), timeout_seconds=60)
            job = submit_remix(credentials, video=source, prompt="A blue kite")
            return source, job, await_video(credentials, video=job, timeout_seconds=60)

        source, job, done = remix()

        assert done.id == job.id and done.remixed_from_video_id == source.id
        assert emulator.stats()["misrouted"] == 0 and emulator.stats()["remixes"] == 1
