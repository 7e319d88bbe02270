"""When to ask about a job again: a poll schedule that predicts completion.

Every GET costs rate limit, and every second polled too late is a second of
delay. The official SDK polls once a second; this schedule instead estimates
when the job will finish from what a client really knows about it, and polls
once just after that. Pure: the I/O loop lives in :mod:`prefect_sora.waiting`.

What a client knows, and nothing else, goes in: the job's status and
``progress`` at the moments it was read, its ``seconds`` and ``size`` (a prior
for its duration, see :func:`expected_duration`), when it was created, and the
server's ``openai-poll-after-ms``. The shape of the progress curve is NOT known
(the service only calls ``progress`` approximate; in practice it races to about
60 %, creeps, then runs to the end), so the schedule must stay sound for any
monotone curve. The design, and why:

1. **Before any progress** there is nothing to extrapolate. Polls come every
   third of the prior, the time in which a job of this length could plausibly
   both start and finish unseen, and the first one waits that long too:
   polling a job that cannot be done yet buys nothing. A server that sends a
   poll-after hint is taken at its word instead, backing off from the hint.
2. **Once progress moves**, the end is estimated from the average rate since
   the job started (the start lies between the last read without progress and
   the first read with it, narrowed by extrapolating the first two readings
   back to zero), from the recent rate (the last two reads whose progress
   differs) and, when the last three reads show progress speeding up, from
   that acceleration. The schedule believes the **earliest**. A curve that
   races ahead then creeps fools the recent rate late and the average early; a
   curve that starts slow fools the average late and the recent rate less, and
   the acceleration not at all; so the earliest errs towards one more GET
   rather than a late detection. Shown progress is taken as one point higher,
   since services round it down.
3. **Land on the prediction while it is far, just past it once it is near.**
   A prediction is assumed wrong by up to ``trust`` (30 %) of the time it
   looks ahead. While that error is larger than ``aim`` (1 s) the next poll
   lands on the predicted end, to correct it; once it is smaller the poll is
   aimed ``aim`` past the end: a poll that lands a moment before the end is
   wasted and costs a whole extra interval, one that lands a moment after
   costs only that moment.
4. **Trust an extrapolation no further than the history it rests on**: never
   sleep longer than the job has been running. A prediction from a short
   history is checked before it can be badly wrong, and a good one is reached
   by doubling in a few steps.
5. **Past the predicted end**, poll every ``tail_delay``; if progress has stood
   still for a while (a stuck job), back off in proportion to how long.
6. The server's ``openai-poll-after-ms`` is honoured as the shortest sleep
   throughout; ``max_delay`` caps any sleep.

Against the emulator (20 jobs of 8-30 s, queued, 10 slots, its race-creep-run
curve) this makes 0.19 of the SDK's GETs per job, detecting completion 0.7 s
late at the median and 1.6 s at the 95th percentile (the schedule before this
design: 0.26 of the GETs, 11 s at the 95th percentile); see BENCHMARKS.md and
``python bench/run.py --only polling``. ``tests/bench/test_poll_schedule.py``
drives it through other curves too (linear, slow start, fast start). The cost
it cannot avoid is the prior: a job whose ``seconds`` and ``size`` suggest a
much shorter run than it really takes is polled every third of that prior
while it queues (4 s clips on the same jobs: 0.29 of the SDK's GETs).
"""

from __future__ import annotations

import math
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
        aim: Seconds past the predicted end that the last poll is aimed at.
        trust: Assumed error of a prediction, as a share of the time it looks
            ahead; the poll is aimed past the end only once that error is
            within ``aim``, before that it lands on the prediction to correct it.
    """

    started: float
    expected_seconds: float = 60.0
    min_delay: float = 0.2
    max_delay: float = 30.0
    tail_delay: float = 1.0
    aim: float = 1.0
    trust: float = 0.3
    observations: list[Observation] = field(default_factory=list)

    def observe(self, at: float, status: str, progress: float) -> None:
        """Record one read of the job."""
        self.observations.append(Observation(at, status, progress))

    def predicted_end(self) -> float:
        """Monotonic time the job is predicted to reach a terminal status."""
        estimate = self._estimate()
        if estimate is None or estimate[1] is None:
            return self.started + self.expected_seconds
        return estimate[1]

    def next_delay(self, now: float, hint: float | None = None) -> float:
        """Seconds to sleep before the next poll.

        Args:
            now: The current monotonic time.
            hint: The server's ``openai-poll-after-ms`` in seconds, if it sent one;
                honoured as the shortest sleep.
        """
        estimate = self._estimate()
        if estimate is None:
            cadence = max(self.min_delay, self.expected_seconds / 3)
            first = hint if hint is not None else cadence
            delay = min(max(now - self.started, first), cadence)
        else:
            began, end = estimate
            remaining = (end if end is not None else self.started + self.expected_seconds) - now
            if remaining > 0:
                delay = remaining + (self.aim if remaining * self.trust <= self.aim else 0.0)
            else:
                delay = max(self.tail_delay, (now - self._steady_since()) / 2)
            delay = min(delay, max(self.tail_delay, now - began))
        delay = min(self.max_delay, max(self.min_delay, delay))
        if hint is not None:
            delay = max(delay, min(hint, self.max_delay))
        return delay

    def _estimate(self) -> tuple[float, float | None] | None:
        """(when the job began running, when it will end), None before any progress."""
        observations = self.observations
        running = [o for o in observations if o.progress > 0]
        if not running:
            return None
        first, last = running[0], running[-1]
        # The job began after the last read without progress and before the first with it.
        earliest = max((o.at for o in observations if o.progress <= 0 and o.at < first.at), default=self.started)
        earliest = min(earliest, first.at)
        rose = next((o for o in running if o.progress > first.progress), None)
        if rose is not None:
            back = first.at - first.progress * (rose.at - first.at) / (rose.progress - first.progress)
            began = min(first.at, max(earliest, back))
        else:
            began = (earliest + first.at) / 2
        ends = []
        if last.at > began:
            shown = min(100.0, last.progress + 1.0)  # progress is rounded down
            ends.append(began + (last.at - began) * 100.0 / shown)
        distinct = _distinct_tail(running)
        if len(distinct) >= 2:
            previous = distinct[1]
            rate = (last.progress - previous.progress) / (last.at - previous.at)
            ends.append(last.at + (100.0 - last.progress) / rate)
        if len(distinct) >= 3 and (accelerating := _accelerating_end(*distinct)) is not None:
            ends.append(accelerating)
        return began, (min(ends) if ends else None)

    def _steady_since(self) -> float:
        """When the job's progress last changed (the first read showing its current value)."""
        observations = self.observations
        since = observations[-1].at
        for observation in reversed(observations):
            if observation.progress != observations[-1].progress:
                break
            since = observation.at
        return since


def _distinct_tail(running: list[Observation]) -> list[Observation]:
    """The last three reads at which progress had risen, newest first."""
    tail: list[Observation] = []
    for observation in reversed(running):
        if not tail or observation.progress < tail[-1].progress:
            tail.append(observation)
            if len(tail) == 3:
                break
    return tail


def _accelerating_end(last: Observation, middle: Observation, oldest: Observation) -> float | None:
    """Where a steadily accelerating progress reaches 100; None unless it is accelerating.

    The recent rate looks backwards, so on a curve that speeds up it predicts late;
    extrapolating the acceleration seen over three reads corrects that.
    """
    before = (middle.progress - oldest.progress) / (middle.at - oldest.at)
    after = (last.progress - middle.progress) / (last.at - middle.at)
    acceleration = (after - before) / ((last.at - oldest.at) / 2)
    if acceleration <= 0:
        return None
    speed = after + acceleration * (last.at - middle.at) / 2  # the rate at `last`, not mid-interval
    left = 100.0 - last.progress
    return last.at + (math.sqrt(speed * speed + 2 * acceleration * left) - speed) / acceleration


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
