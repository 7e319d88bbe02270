"""The ``openai-poll-after-ms`` hint: when a client should ask about an unfinished job again.

The real API may send it on any answer about a job; the official SDK sleeps exactly
that long between polls. The emulator knows each job's plan, so by default it says
what a server with perfect knowledge would: come back just after the job is due to
end. Without it a client falls back on its own prior (a third of the expected
duration before the first poll), seconds of sleep against the emulator's
fraction-of-a-second jobs.
"""

from __future__ import annotations

import math

from prefect_sora.emulator._jobs import PENDING, Job

#: Bounds of the derived hint: a job about to end is still given a moment, and one far
#: from it (or stuck) is asked about again within a couple of seconds, so that
#: progress keeps showing.
MIN_HINT_MS = 20
MAX_HINT_MS = 2000
#: Past the planned end, so the poll lands after it and not a hair before.
MARGIN_MS = 10


def poll_after_ms(job: Job, now: float, configured: int | None) -> int | None:
    """The hint an answer about ``job`` carries at ``now``, or None (no header).

    Args:
        job: The job the answer is about.
        now: The emulator's clock.
        configured: ``EmulatorConfig.poll_after_ms``: None derives the hint from the
            job's planned end, 0 sends none (as LiteLLM's proxy and most gateways),
            any other value is sent as is.

    Returns:
        None once the job has ended (nothing more to ask), else milliseconds.
    """
    if configured == 0 or job.status_at(now)[0] not in PENDING:
        return None
    if configured is not None:
        return configured
    ends_at = job.plan.ends_at
    if ends_at is None or not math.isfinite(ends_at):  # stuck, held, or queued behind one: no end in view
        return MAX_HINT_MS
    remaining = math.ceil((ends_at - now) * 1000) + MARGIN_MS
    return max(MIN_HINT_MS, min(MAX_HINT_MS, remaining))
