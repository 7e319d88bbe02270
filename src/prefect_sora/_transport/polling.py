"""When to ask about a job again: a poll schedule that predicts completion.

Every GET costs rate limit, and every second polled too late is a second of
delay. The official SDK polls once a second; this schedule instead estimates
when the job will finish from what a client really knows about it, and polls
once just after that. Pure: the I/O loop lives in :mod:`prefect_sora._transport.waiting`.

What a client knows, and nothing else, goes in: the job's status and
``progress`` at the moments it was read (the times the reads really happened,
however late a rate limit made them), its ``seconds`` and ``size`` (a prior for
its duration, see :func:`expected_duration`), when it was created, and the
server's ``openai-poll-after-ms``. The shape of the progress curve is NOT known
(the service only calls ``progress`` approximate; in practice it races to about
60 %, creeps, then runs to the end and slows into it), so the schedule must stay
sound for any monotone curve. The design, and why:

1. **Before any progress** there is nothing to extrapolate. Polls come every
   third of the prior, the time in which a job of this length could plausibly
   both start and finish unseen, and the first one waits that long too:
   polling a job that cannot be done yet buys nothing. A job that has waited
   long (queued behind others) is polled less often, by a quarter of its wait,
   up to the prior itself. A server that sends a poll-after hint is taken at
   its word instead, backing off from the hint.
2. **Once progress moves**, the end is estimated from the average rate since
   the job started, from the recent rate (the last two reads whose progress
   differs) and, when the last three reads show progress speeding up, from
   that acceleration. The schedule believes the **earliest**: each estimate is
   fooled late by some curve (the average by a slow start, the recent rate by
   a creep), so the earliest errs towards one more GET rather than a late
   detection. Shown progress is taken as one point higher, since services
   round it down. The start lies between the last read without progress and
   the first read with it; extrapolating the first two readings back to zero
   places it, unless that lands before the bracket (progress that races at
   first): then its middle, since the bracket's early edge would date the
   start too early and every average-rate estimate too late.
3. **A prediction holds until progress moves.** Repeated reads of the same
   progress make the rate estimates recede a little at a time (the job seems
   slower), so a schedule that re-predicted on every read would chase an end
   that keeps stepping away, never overdue, polling every few seconds and
   landing seconds late (a job that sits at 98 % for its last half-minute).
   The end predicted when the current progress was first seen stays in force
   if it is earlier; once it has passed, the job is overdue.
4. **Poll at the first moment that is both ``aim`` past the predicted end and
   no more than ``lateness`` past the earliest the job could end**, taking a
   prediction to be wrong by up to ``trust`` (30 %) of the time it looks
   ahead. Near the end the first bound holds: the poll lands just after the
   prediction (a poll a moment before the end is wasted and costs a whole
   extra interval, one a moment after costs only that moment). Far from it
   the second does: the poll lands before the prediction, early enough that
   even a job that finishes ``trust`` sooner than predicted is seen within
   ``lateness``, and the read there corrects the prediction. Landing on a far
   prediction instead is one GET cheaper and seconds late whenever progress
   speeds up after it (the creep's end).
5. **Trust an extrapolation no further than the history it rests on**: never
   sleep longer than the job has been running. A prediction from a short
   history is checked before it can be badly wrong, and a good one is reached
   by doubling in a few steps.
6. **Overdue**, poll every ``tail_delay``. A job whose progress stands still
   is backed off by how long it has stood still, squared, over how long it has
   run: a stand-still that is a small share of the run (the last points of a
   long job) keeps the tail's pace, one as long as the run (a stuck job)
   backs off by about half its length each time, up to ``max_delay``.
7. The server's ``openai-poll-after-ms`` is honoured as the shortest sleep
   throughout; ``max_delay`` caps any sleep.

Figures (GETs per job against the SDK, detection delays, 10 s to 10 minute
jobs, other curves) are in BENCHMARKS.md; ``python bench/poll_simulation.py``
replays the schedule on the emulator's own job model on a virtual clock, and
``python bench/run.py --only polling`` measures it live. ``tests/core/test_polling.py``
holds it to its promises on simulated jobs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
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
        tail_delay: Spacing of polls once the job is overdue, and the shortest
            sleep once progress is seen.
        aim: Seconds past the predicted end that a poll near it is aimed at.
        trust: Assumed error of a prediction, as a share of the time it looks ahead.
        lateness: Seconds a poll may land after the earliest end that ``trust``
            allows; what bounds the detection delay of a prediction that was late.
    """

    started: float
    expected_seconds: float = 60.0
    min_delay: float = 0.2
    max_delay: float = 30.0
    tail_delay: float = 1.5
    aim: float = 1.3
    trust: float = 0.3
    lateness: float = 2.4
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
            waited = now - self.started
            cadence = max(self.min_delay, self.expected_seconds / 3, min(self.expected_seconds, waited / 4))
            first = hint if hint is not None else cadence
            delay = min(max(waited, first), cadence)
        else:
            began, end = estimate
            remaining = (end if end is not None else self.started + self.expected_seconds) - now
            if remaining > 0:
                delay = min(remaining + self.aim, remaining * (1 - self.trust) + self.lateness)
            else:
                delay = self.tail_delay
            running = max(now - began, 1e-9)
            still = now - self._steady_since()
            delay = max(self.tail_delay, delay, still * still / running / 2)
            delay = min(delay, max(self.tail_delay, running))
        delay = min(self.max_delay, max(self.min_delay, delay))
        if hint is not None:
            delay = max(delay, min(hint, self.max_delay))
        return delay

    def _estimate(self) -> tuple[float, float | None] | None:
        """(when the job began running, when it will end), None before any progress.

        The end is the earlier of the prediction from every read and the one made
        when the current progress was first shown (rule 3 of the module docstring).
        """
        observations = self.observations
        estimate = _fit(observations, self.started)
        if estimate is None or estimate[1] is None:
            return estimate
        first_shown = len(observations) - 1
        while first_shown > 0 and observations[first_shown - 1].progress == observations[-1].progress:
            first_shown -= 1
        anchored = _fit(observations[: first_shown + 1], self.started)
        if anchored is not None and anchored[1] is not None and anchored[1] < estimate[1]:
            return estimate[0], anchored[1]
        return estimate

    def _steady_since(self) -> float:
        """When the job's progress last changed (the first read showing its current value)."""
        observations = self.observations
        since = observations[-1].at
        for observation in reversed(observations):
            if observation.progress != observations[-1].progress:
                break
            since = observation.at
        return since


def _fit(observations: Sequence[Observation], started: float) -> tuple[float, float | None] | None:
    """(when the job began running, the earliest estimate of its end) from these reads."""
    running = [o for o in observations if o.progress > 0]
    if not running:
        return None
    first, last = running[0], running[-1]
    # The job began after the last read without progress and before the first with it.
    earliest = max((o.at for o in observations if o.progress <= 0 and o.at < first.at), default=started)
    earliest = min(earliest, first.at)
    rose = next((o for o in running if o.progress > first.progress), None)
    began = (earliest + first.at) / 2
    if rose is not None:
        back = first.at - first.progress * (rose.at - first.at) / (rose.progress - first.progress)
        if back >= earliest:
            began = min(first.at, back)
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
