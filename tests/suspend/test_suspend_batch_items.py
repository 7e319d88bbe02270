"""A suspending batch's items, taken as far as they go without waiting, against the emulator.

What the batch flow does between its suspensions (``produce_items(wait="suspend")``),
run here in this process without a deployment: each call is what one resumed run
does. The whole flow suspended and resumed by a real worker and watcher is in
``test_suspend.py``.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from prefect_sora._durable.journal import Journal
from prefect_sora._models import VideoRequest
from prefect_sora._pricing import estimate as estimate_price
from prefect_sora.blocks import SoraCredentials
from prefect_sora.emulator import Emulator
from prefect_sora.flows._common import journal_for
from prefect_sora.flows._items import produce_items
from prefect_sora.flows._pipeline import Job, Policy
from prefect_sora.flows._watcher import outstanding_jobs


def _jobs(count: int, seconds: int) -> list[Job]:
    estimate = estimate_price("sora-2", "720x1280", 4)
    return [
        Job(index=i, request=VideoRequest(prompt=f"Wave {i} [emulator:seconds={seconds}]"), estimate=estimate)
        for i in range(count)
    ]


async def _pass(jobs: list[Job], journal: Journal, folder: str, credentials: SoraCredentials, concurrency: int):
    """One run's pass: every item as far as it goes without waiting."""
    entries = [await journal.load(job.index, job.fingerprint()) for job in jobs]
    return await produce_items(
        jobs,
        entries,
        credentials=credentials,
        journal=journal,
        folder=folder,
        concurrency=concurrency,
        timeout_seconds=60,
        policy=Policy(),
        storage_options=None,
        wait="suspend",
    )


def _until_ended(emulator: Emulator, ids: list[str], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        jobs = emulator.stats()["jobs_by_status"]
        if jobs["queued"] + jobs["in_progress"] == 0:
            return
        time.sleep(0.2)
    raise AssertionError(f"jobs {ids} never ended")


def test_a_suspending_batch_submits_at_most_concurrency_jobs_per_pass_and_pays_once_for_each(
    prefect_server: None, tmp_path: Path
) -> None:
    with Emulator(job_seconds=1, poll_after_ms=100) as emulator:
        credentials = SoraCredentials(api_key="sk-batch-suspend", base_url=emulator.base_url)
        folder = f"{tmp_path}/videos/"
        journal = journal_for(folder, "waves", None, None)
        jobs = _jobs(3, seconds=2)

        first = asyncio.run(_pass(jobs, journal, folder, credentials, concurrency=2))
        # Two jobs generating (created, not waited for), the third not submitted: nothing stored yet.
        assert [r.status for r in first] == ["pending"] * 3
        assert [r.video_id is not None for r in first] == [True, True, False]
        assert emulator.stats()["creates"] == 2
        assert emulator.stats()["downloads_total"] == 0
        assert not list(Path(folder).glob("*.mp4"))
        # What the watcher waits on: the journal's two submitted jobs.
        run = SimpleNamespace(id="run-1", parameters={"requests": [], "out": folder[:-1], "idempotency_key": "waves"})
        assert asyncio.run(outstanding_jobs(run)) == [first[0].video_id, first[1].video_id]  # type: ignore[arg-type]

        _until_ended(emulator, [r.video_id for r in first[:2]])
        second = asyncio.run(_pass(jobs, journal, folder, credentials, concurrency=2))
        # The two ended jobs stored (no new create for them), the third submitted now.
        assert [r.status for r in second] == ["stored", "stored", "pending"]
        assert [r.video_id for r in second[:2]] == [r.video_id for r in first[:2]]
        assert emulator.stats()["creates"] == 3

        _until_ended(emulator, [second[2].video_id])
        third = asyncio.run(_pass(jobs, journal, folder, credentials, concurrency=2))
        assert [r.status for r in third] == ["stored"] * 3
        assert emulator.stats()["creates"] == 3  # one create per video, over three passes
        assert len(list(Path(folder).glob("*.mp4"))) == 3
        assert asyncio.run(outstanding_jobs(run)) == []  # type: ignore[arg-type]


def test_a_failed_job_ends_its_item_failed_and_frees_its_place_for_the_next(
    prefect_server: None, tmp_path: Path
) -> None:
    with Emulator(job_seconds=1, poll_after_ms=100) as emulator:
        credentials = SoraCredentials(api_key="sk-batch-suspend", base_url=emulator.base_url)
        folder = f"{tmp_path}/videos/"
        journal = journal_for(folder, "failing", None, None)
        estimate = _jobs(1, 1)[0].estimate
        jobs = [
            Job(index=0, request=VideoRequest(prompt="A fox [emulator:fail=moderation_blocked]"), estimate=estimate),
            Job(index=1, request=VideoRequest(prompt="An owl [emulator:seconds=1]"), estimate=estimate),
        ]

        first = asyncio.run(_pass(jobs, journal, folder, credentials, concurrency=1))
        assert [(r.status, r.video_id is not None) for r in first] == [("pending", True), ("pending", False)]

        _until_ended(emulator, [first[0].video_id])
        second = asyncio.run(_pass(jobs, journal, folder, credentials, concurrency=1))
        assert second[0].status == "failed" and second[0].video_id == first[0].video_id
        assert second[0].actual_usd == 0
        assert second[1].status == "pending" and second[1].video_id is not None
        assert emulator.stats()["creates"] == 2


@pytest.mark.parametrize("out", ["videos", "videos/"])
def test_the_watcher_finds_a_batch_journal_whether_or_not_out_ends_with_a_slash(
    tmp_path: Path, out: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    journal = journal_for("videos/", "key-1", None, None)
    job = _jobs(1, 1)[0]

    async def record() -> None:
        entry = await journal.load(0, job.fingerprint())
        await journal.save(entry.to_submitted("video_abc"))

    asyncio.run(record())
    run = SimpleNamespace(id="run-2", parameters={"requests": [{}], "out": out, "idempotency_key": "key-1"})
    assert asyncio.run(outstanding_jobs(run)) == ["video_abc"]  # type: ignore[arg-type]
    single = SimpleNamespace(id="run-3", parameters={"out": "videos/clip.mp4", "idempotency_key": "key-1"})
    assert asyncio.run(outstanding_jobs(single)) == ["video_abc"]  # type: ignore[arg-type]


def test_the_watcher_reads_a_batch_run_suspended_again_afresh_and_follows_its_next_wave(
    prefect_server: None, tmp_path: Path
) -> None:
    """A batch run resumed and suspended again (its next wave) between two looks is watched for its new jobs.

    A real server holds the run and its states; the suspensions are set on it directly.
    """
    from prefect.client.orchestration import get_client
    from prefect.states import Running, Suspended

    from prefect_sora.flows import batch_text_to_video
    from prefect_sora.flows._watcher import _Watcher

    folder = f"{tmp_path}/videos/"
    journal = journal_for(folder, "two-waves", None, None)
    jobs = _jobs(2, seconds=60)

    async def scenario() -> tuple[tuple[str, ...], tuple[str, ...]]:
        with Emulator(job_seconds=60) as emulator:
            credentials = SoraCredentials(api_key="sk-batch-suspend", base_url=emulator.base_url)
            params = {"requests": [], "out": folder, "idempotency_key": "two-waves", "wait": "suspend"}
            async with get_client() as prefect, credentials.get_client() as client:
                run = await prefect.create_flow_run(batch_text_to_video, parameters=params)
                watcher = _Watcher(client, credentials, reemit_seconds=60)
                try:
                    await _pass(jobs[:1], journal, folder, credentials, concurrency=1)  # the first wave
                    await prefect.set_flow_run_state(run.id, Suspended(pause_key="sora-wait-1"), force=True)
                    await watcher.cycle(prefect)
                    first = watcher.watches[str(run.id)].video_ids
                    # Resumed, the second item submitted, suspended again: all before the watcher's next look.
                    await prefect.set_flow_run_state(run.id, Running(), force=True)
                    await _pass(jobs, journal, folder, credentials, concurrency=2)
                    await prefect.set_flow_run_state(run.id, Suspended(pause_key="sora-wait-2"), force=True)
                    await watcher.cycle(prefect)
                    return first, watcher.watches[str(run.id)].video_ids
                finally:
                    watcher.close()
                    await prefect.set_flow_run_state(run.id, Running(), force=True)

    first, second = asyncio.run(scenario())
    assert len(first) == 1
    assert len(second) == 2 and second[0] == first[0]
