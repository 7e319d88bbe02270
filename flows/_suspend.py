"""Waiting without a worker: a deployment's run suspends while its jobs generate.

With ``wait="suspend"`` a single-video flow submits and journals its job as
always, then, if the job is still pending, calls Prefect's ``suspend_flow_run``.
A batch takes every item as far as it goes without waiting (stored, failed, or
submitted and pending; at most ``concurrency`` jobs outstanding), then suspends:
the run's process exits and its infrastructure is released. The ``sora-watcher``
deployment (``flows/_watcher.py``) polls the run's jobs and, once they have all
ended, emits their ending events with the run related as ``suspended-run``; an
automation's ``resume-flow-run`` action resumes the run, which reruns from the
top, finds its jobs in the journal (no new create), and takes each to a stored
file, or to ``Failed`` with the job's reason; a batch with items not yet
submitted submits the next ones and suspends again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from prefect.client.orchestration import get_client
from prefect.context import FlowRunContext
from prefect.flow_runs import asuspend_flow_run

from prefect_sora._errors import InvalidParameter
from prefect_sora._models import Video
from prefect_sora._transport.client import SoraClient
from prefect_sora._transport.statuses import status_category
from prefect_sora.flows._pipeline import JobPending
from prefect_sora.flows._steps import ClientSteps, TaskSteps
from prefect_sora.tasks._common import run_logger

#: How a single-video flow waits for its job: in its own process, or suspended.
WaitMode = Literal["poll", "suspend"]
#: The role of the suspended run in the events the watcher emits for its job.
SUSPENDED_RUN_ROLE = "suspended-run"
#: Pause keys this module proposes start so (Prefect refuses a key it has seen on the run).
PAUSE_KEY_PREFIX = "sora-wait-"


def check_wait(wait: str) -> WaitMode:
    """``wait`` itself, refused before any request when it cannot work here.

    Raises:
        InvalidParameter: ``wait`` is neither ``poll`` nor ``suspend``, or is
            ``suspend`` outside a flow run of a deployment (Prefect reschedules a
            resumed run through its deployment; nothing else could rerun it).
    """
    if wait == "poll":
        return "poll"
    if wait != "suspend":
        raise InvalidParameter("wait", wait, "must be 'poll' or 'suspend'")
    context = FlowRunContext.get()
    if context is None or context.flow_run is None or context.flow_run.deployment_id is None:
        raise InvalidParameter("wait", wait, "needs a flow run of a deployment (use wait='poll' elsewhere)")
    if context.flow_run.parent_task_run_id is not None:
        raise InvalidParameter("wait", wait, "a subflow cannot be suspended (use wait='poll')")
    return "suspend"


@dataclass
class SuspendingSteps(TaskSteps):
    """The atomic tasks, except that a pending job suspends the run instead of being polled."""

    async def wait(self, video: Video | str) -> Video:
        """A pending job (as created, or as one GET reads it) suspends the run; any other goes on as with ``poll``.

        The job was journaled before this is called, so the rerun after the resume
        finds it. A run resumed before its job ended (by hand, from the UI) reads
        the job again and suspends again, under a new pause key.
        """
        if isinstance(video, Video):
            current = video  # the create's own answer: no client, no GET needed to know it is pending
        else:
            async with self.credentials.get_client() as client:
                current = await client.retrieve_video(video)
        if not _pending(current):
            return await super().wait(current)  # handed the Video itself, the task decides at once: no second GET
        video_id = video if isinstance(video, str) else video.id  # the id we were given, whatever a GET echoes
        await suspend_run(f"Video {video_id} is {current.status} ({current.progress}%)")
        # Prefect refused the suspension (the key fired before): wait in this process instead.
        return await super().wait(current)


@dataclass
class DeferringSteps(ClientSteps):
    """The batch's steps on one client, except that a pending job ends its item ``pending`` at once.

    The batch flow then suspends the run once every item has been taken as far as it
    can go without waiting (see ``batch_text_to_video``).
    """

    async def wait(self, video: Video | str) -> Video:
        current = await _current(self.client, video)
        if _pending(current):
            raise JobPending(current)
        return await super().wait(current)


async def suspend_run(why: str) -> None:
    """Suspend this run under a key it has not used; returns only if Prefect refused to.

    Raises Prefect's ``Pause`` signal otherwise: the run's process exits, and the
    resumed run starts again from the top.
    """
    key = await _next_pause_key()
    run_logger(__name__).info("%s; suspending this run until the sora-watcher sees it end", why)
    # No suspension timeout: the journal keeps the jobs, however long the run waits to be resumed.
    await asuspend_flow_run(key=key)


async def _current(client: SoraClient, video: Video | str) -> Video:
    """The job as the create answered it, or as one GET reads it now."""
    return video if isinstance(video, Video) else await client.retrieve_video(video)


def _pending(video: Video) -> bool:
    return status_category(video.status) in ("pending", "unknown")


async def _next_pause_key() -> str:
    """A key this run has not been suspended under (read from the server: the context's copy is stale)."""
    context = FlowRunContext.get()
    assert context is not None and context.flow_run is not None  # check_wait made sure
    async with get_client() as client:
        run = await client.read_flow_run(context.flow_run.id)
    used = {key for key in run.empirical_policy.pause_keys or () if key.startswith(PAUSE_KEY_PREFIX)}
    return f"{PAUSE_KEY_PREFIX}{len(used) + 1}"
