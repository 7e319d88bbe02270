"""When to ask about a job again: a poll schedule that predicts completion.

Every GET costs rate limit, and every second polled too late is a second of
delay. The official SDK polls once a second; this schedule instead estimates
when the job will finish from what the job says about itself (``progress``
over time, its length and size before progress is known, the server's
``openai-poll-after-ms`` hint) and sleeps until shortly before then, polling
densely only near the predicted end. Pure: the I/O loop lives in
:mod:`prefect_sora.waiting`.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Observation:
    """One status read: when (monotonic seconds), what status, what progress."""

    at: float
    status: str
    progress: float


@dataclass
class PollSchedule:
    """The next delay before polling a job, from what has been seen so far.

    Attributes:
        started: Monotonic time the job was submitted (or the wait began).
        expected_seconds: Prior guess of the whole job's duration, used before
            progress tells more (see :func:`expected_duration`).
        min_delay: Floor of one sleep.
        max_delay: Ceiling of one sleep, so a wrong estimate is corrected in time.
        tail_delay: Spacing of polls once the predicted end has passed.
        lead: Fraction of the predicted remaining time slept while far from the end.
    """

    started: float
    expected_seconds: float = 60.0
    min_delay: float = 0.2
    max_delay: float = 30.0
    tail_delay: float = 0.75
    lead: float = 0.8
    observations: list[Observation] = field(default_factory=list)

    def observe(self, at: float, status: str, progress: float) -> None:
        """Record one read of the job."""
        self.observations.append(Observation(at, status, progress))

    def predicted_end(self) -> float:
        """Monotonic time the job is predicted to reach a terminal status."""
        running = [o for o in self.observations if o.progress > 0]
        if len(running) >= 2:
            first, last = running[0], running[-1]
            if last.progress > first.progress and last.at > first.at:
                rate = (last.progress - first.progress) / (last.at - first.at)
                return last.at + (100.0 - last.progress) / rate
        if running:
            last = running[-1]
            # Progress began some time after the last read that saw none.
            idle = [o.at for o in self.observations if o.progress <= 0 and o.at < last.at]
            began = (max(idle) + last.at) / 2 if idle else self.started
            if last.at > began:
                return last.at + (100.0 - last.progress) * (last.at - began) / last.progress
        return self.started + self.expected_seconds

    def next_delay(self, now: float, hint: float | None = None) -> float:
        """Seconds to sleep before the next poll.

        Args:
            now: The current monotonic time.
            hint: The server's ``openai-poll-after-ms`` in seconds, if it sent one;
                honoured as the shortest sleep.
        """
        remaining = self.predicted_end() - now
        if not any(o.progress > 0 for o in self.observations):
            # Nothing known yet: back off geometrically from the submission, never
            # beyond a third of the prior, so a short job is not overslept.
            elapsed = now - self.started
            delay = min(max(elapsed, 1.0), max(self.min_delay, self.expected_seconds / 3))
        elif remaining <= 0:
            delay = self.tail_delay
        elif remaining <= 2 * self.tail_delay or (len(self.observations) >= 2 and remaining < 4):
            # Close to the end: aim just past it rather than creeping up on it.
            delay = remaining + self.min_delay
        else:
            delay = remaining * self.lead
        delay = min(self.max_delay, max(self.min_delay, delay))
        if hint is not None:
            delay = max(delay, min(hint, self.max_delay))
        return delay


def expected_duration(seconds: str | int | None, size: str | None) -> float:
    """A prior for how long a job takes before its progress says more.

    Generation time grows with clip length and pixel count; the constants
    are deliberately modest so the first poll comes early rather than late.
    """
    try:
        length = float(seconds) if seconds is not None else 8.0
    except ValueError:
        length = 8.0
    pixels = 1.0
    if size and "x" in size:
        try:
            width, height = (int(part) for part in size.split("x", 1))
            pixels = max(1.0, width * height / (1280 * 720))
        except ValueError:
            pass
    return 2.5 * length * pixels
