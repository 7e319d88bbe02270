"""The sora-watcher: one long-lived run that waits for the jobs of every suspended run.

A run of ``text_to_video(wait="suspend")`` (or of the batch flow) journals its
jobs and suspends (see ``flows/_suspend.py``). This flow finds such runs through
the Prefect API (flow runs of the suspendable flows in state ``Suspended``),
reads each one's outstanding jobs from its journal (where the run's own
parameters say it is), polls every job on one client on the usual poll schedule,
and when all of a run's jobs have ended emits their ``sora.video.completed`` /
``failed`` / ``cancelled`` / ``expired`` events with the run related as
``suspended-run`` (a batch is resumed once per wave, not once per video). The ``sora-resume-suspended-runs``
automation (:data:`RESUME_AUTOMATION`, created here if missing) resumes the run
named there. Everything it knows lives in the server and the journals, so a
watcher killed and started again carries on; an event whose run is still
suspended ``reemit_seconds`` later is emitted again (a resume is idempotent).

The watcher never creates, remixes or downloads anything: it only reads jobs.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from prefect import flow
from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateName,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.events.schemas.automations import AutomationCore

from prefect_sora._errors import ContentExpired, JobFailed, SoraError
from prefect_sora._models import Video
from prefect_sora._transport.client import SoraClient
from prefect_sora._transport.waiting import wait_for_video
from prefect_sora.blocks._credentials import SoraCredentials
from prefect_sora.flows._common import journal_for
from prefect_sora.flows._credentials import resolve_credentials
from prefect_sora.flows._storage import resolve_storage
from prefect_sora.flows._suspend import SUSPENDED_RUN_ROLE
from prefect_sora.tasks import _events as events
from prefect_sora.tasks._common import run_logger

#: The flows whose suspended runs are watched (their runs journal their job under their parameters).
SUSPENDABLE_FLOWS = ("sora-text-to-video", "sora-batch-text-to-video")
#: The automation that resumes the run an ending event names; also shipped as automations/resume-suspended-runs.yaml.
RESUME_AUTOMATION: dict[str, Any] = {
    "name": "sora-resume-suspended-runs",
    "description": "Resume a run suspended by wait='suspend' when the sora-watcher sees its video end.",
    "enabled": True,
    "trigger": {
        "type": "event",
        "posture": "Reactive",
        "match": {"prefect.resource.id": "sora.video.*"},
        "match_related": {"prefect.resource.role": SUSPENDED_RUN_ROLE},
        "expect": ["sora.video.completed", "sora.video.failed", "sora.video.cancelled", "sora.video.expired"],
        "threshold": 1,
        "within": 0,
    },
    "actions": [{"type": "resume-flow-run"}],
}
_PAGE = 200
#: What a followed job ends in; anything else is a poll that failed, and the job is followed again.
_ENDED = (Video, JobFailed, ContentExpired)


@dataclass
class _Watch:
    """One suspended run and its outstanding jobs, and when their ending events were last emitted."""

    run_id: str
    run_name: str
    video_ids: tuple[str, ...]
    #: The Suspended state's id: a run resumed and suspended again (a batch's next wave) is read afresh.
    suspension: str
    emitted_at: float | None = None

    def resource(self) -> dict[str, str]:
        return {
            "prefect.resource.id": f"prefect.flow-run.{self.run_id}",
            "prefect.resource.role": SUSPENDED_RUN_ROLE,
            "prefect.resource.name": self.run_name,
        }


@dataclass
class _Watcher:
    client: SoraClient
    credentials: SoraCredentials
    reemit_seconds: float
    watches: dict[str, _Watch] = field(default_factory=dict)
    #: One wait per job, however many runs wait on it.
    waits: dict[str, asyncio.Task[Video | SoraError]] = field(default_factory=dict)
    #: Runs whose journal knows no outstanding job, with their suspension: reported once, never polled or resumed.
    unknown: dict[str, str] = field(default_factory=dict)
    #: Ending events emitted (again ones included).
    emitted: int = 0

    async def cycle(self, prefect: PrefectClient) -> None:
        logger = run_logger(__name__)
        runs = {str(run.id): run for run in await suspended_runs(prefect)}
        suspensions = {run_id: str(run.state_id) for run_id, run in runs.items()}
        for run_id in list(self.watches):  # resumed (and perhaps suspended again), cancelled or deleted
            if suspensions.get(run_id) != self.watches[run_id].suspension:
                del self.watches[run_id]
        self.unknown = {run_id: seen for run_id, seen in self.unknown.items() if suspensions.get(run_id) == seen}
        for run_id, run in runs.items():
            if run_id in self.watches or run_id in self.unknown:
                continue
            try:
                video_ids = await outstanding_jobs(run)
            except Exception as exc:  # a journal that cannot be read (storage gone, a block deleted)
                logger.warning("Suspended run %s (%s): its journal cannot be read (%s)", run.name, run_id, exc)
                video_ids = []
            if not video_ids:
                self.unknown[run_id] = suspensions[run_id]
                logger.warning(
                    "Suspended run %s (%s): its journal holds no job to wait for; not watched", run.name, run_id
                )
                continue
            logger.info("Watching %s of suspended run %s", _videos(video_ids, first="video"), run.name)
            self.watches[run_id] = _Watch(run_id, run.name, tuple(video_ids), suspensions[run_id])
        wanted = {video_id for watch in self.watches.values() for video_id in watch.video_ids}
        for video_id in set(self.waits) - wanted:
            self.waits.pop(video_id).cancel()
        for video_id in wanted - set(self.waits):
            self.waits[video_id] = asyncio.create_task(self._follow(video_id))
        now = time.monotonic()
        for watch in self.watches.values():
            waits = [self.waits[video_id] for video_id in watch.video_ids]
            if not all(wait.done() for wait in waits):
                continue
            outcomes = [wait.result() for wait in waits]
            lost = [v for v, o in zip(watch.video_ids, outcomes, strict=True) if not isinstance(o, _ENDED)]
            for video_id, outcome in zip(watch.video_ids, outcomes, strict=True):
                if video_id in lost:
                    # A poll that failed past the client's retries: follow the job afresh next cycle.
                    logger.warning("Video %s: %s; polling it again", video_id, outcome)
                    self.waits.pop(video_id, None)
            if lost or (watch.emitted_at is not None and now - watch.emitted_at < self.reemit_seconds):
                continue
            again = " again (the run is still suspended)" if watch.emitted_at is not None else ""
            logger.info("%s ended; resuming run %s%s", _videos(watch.video_ids), watch.run_name, again)
            # Every job's ending event the first time; one is enough to resume the run again.
            for outcome in outcomes if watch.emitted_at is None else outcomes[:1]:
                if isinstance(outcome, Video):
                    events.completed(outcome, credentials=self.credentials, related=[watch.resource()])
                elif isinstance(outcome, JobFailed | ContentExpired):  # always, as nothing was lost
                    events.ended(outcome, credentials=self.credentials, related=[watch.resource()])
                self.emitted += 1
            watch.emitted_at = now

    async def _follow(self, video_id: str) -> Video | SoraError:
        # No deadline here: the suspended run's own timeout governs it, not the watcher's.
        try:
            return await wait_for_video(self.client, video_id, timeout=None)
        except SoraError as exc:
            return exc

    def close(self) -> None:
        for wait in self.waits.values():
            wait.cancel()


async def suspended_runs(prefect: PrefectClient) -> list[FlowRun]:
    """Every run of the suspendable flows that is ``Suspended`` (paused, to be rescheduled), page by page."""
    runs: list[FlowRun] = []
    while True:
        page = await prefect.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=list(SUSPENDABLE_FLOWS))),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(
                    type=FlowRunFilterStateType(any_=[StateType.PAUSED]),
                    name=FlowRunFilterStateName(any_=["Suspended"]),
                )
            ),
            limit=_PAGE,
            offset=len(runs),
        )
        runs.extend(page)
        if len(page) < _PAGE:
            return runs


async def outstanding_jobs(run: FlowRun) -> list[str]:
    """The ids of the jobs a suspended run waits on, from its journal; empty when the journal knows none.

    The journal is found as the run found it: from its ``out``, ``storage`` (a saved
    block's name), ``journal_url``, ``storage_options`` and ``idempotency_key``
    (default: the run's id). A batch's ``out`` is a folder (it has ``requests``). A
    relative ``out`` is relative to where the watcher runs: start it where the
    flows run (the deployments' ``working_dir``).
    """
    params = run.parameters
    storage = params.get("storage") or None
    if storage is not None and not isinstance(storage, str):
        return []  # a block given whole, not by name: its secrets are not in the parameters
    target = await resolve_storage(
        storage, out=params.get("out") or "videos/", storage_options=params.get("storage_options") or None
    )
    out = target.out
    if "requests" in params and not out.endswith("/"):
        out += "/"  # as the batch flow reads it
    key = params.get("idempotency_key") or str(run.id)
    journal = journal_for(out, key, params.get("journal_url") or None, target.storage_options)
    entries = await journal.entries()
    return [e.video_id for e in sorted(entries, key=lambda e: e.index) if e.stage == "submitted" and e.video_id]


def _videos(video_ids: tuple[str, ...] | list[str], first: str = "Video") -> str:
    """ "Video X" or "3 videos (X, Y, Z)" for the watcher's log."""
    if len(video_ids) == 1:
        return f"{first} {video_ids[0]}"
    shown = ", ".join(video_ids[:3]) + (", ..." if len(video_ids) > 3 else "")
    return f"{len(video_ids)} videos ({shown})"


async def ensure_resume_automation(prefect: PrefectClient) -> bool:
    """Create :data:`RESUME_AUTOMATION` unless an automation of its name exists; True if created."""
    if await prefect.read_automations_by_name(RESUME_AUTOMATION["name"]):
        return False
    await prefect.create_automation(AutomationCore.model_validate(RESUME_AUTOMATION))
    return True


@flow(name="sora-watcher", log_prints=False)
async def sora_watcher(
    credentials: SoraCredentials | str | None = None,
    interval_seconds: float = 10.0,
    max_minutes: float | None = None,
    reemit_seconds: float = 60.0,
    create_automation: bool = True,
) -> int:
    """Wait for the jobs of every run suspended by `wait="suspend"` and have each run resumed when its job ends.

    Run it as one long-lived deployment (`sora-watcher` in prefect.yaml) where the
    flows run. Each cycle it lists the suspended runs, reads each new one's job from
    its journal, and emits the ending event of any job that ended, related to the
    run as `suspended-run`; the `sora-resume-suspended-runs` automation resumes the
    run. All jobs are polled on one client on the poll schedule; nothing is created.

    Args:
        credentials: A `SoraCredentials` block, a saved block's name, or None for
            `SORA_API_KEY` / `SORA_BASE_URL` (the key the jobs were created with).
        interval_seconds: Seconds between looks for suspended runs (jobs are polled on their own schedule).
        max_minutes: Stop after this long (None: run until cancelled).
        reemit_seconds: Emit an ending event again if its run is still suspended this long after.
        create_automation: Create the resume automation if no automation of its name exists.

    Returns:
        How many ending events it emitted.

    Example:
        ```python
        from prefect_sora.flows import sora_watcher

        # Usually a deployment: prefect deployment run sora-watcher/sora-watcher
        sora_watcher(credentials="sora", interval_seconds=10, max_minutes=1)
        ```
    """
    creds = await resolve_credentials(credentials)
    logger = run_logger(__name__)
    stop = time.monotonic() + max_minutes * 60 if max_minutes is not None else None
    async with get_client() as prefect, creds.get_client() as client:
        if create_automation and await ensure_resume_automation(prefect):
            logger.info("Created the automation %s", RESUME_AUTOMATION["name"])
        watcher = _Watcher(client, creds, reemit_seconds)
        try:
            while stop is None or time.monotonic() < stop:
                await watcher.cycle(prefect)
                await asyncio.sleep(interval_seconds)
        finally:
            watcher.close()
    return watcher.emitted
