"""The pure poll schedule on simulated jobs: few GETs, prompt detection, whatever the progress curve.

The schedule may not know the service's progress curve, so it is driven here through
the emulator's own job model (``plan_job``, ``Slots``, ``Job.status_at``: a queued
phase, jobs waiting for a ``max_running`` slot, the race-creep-run curve) at lengths
from 10 s to 10 minutes, and through other curves on the same plans; it must stay
prompt on each. No I/O and no sleeping: a job is a function of a virtual clock, and
the wait loop of ``wait_for_video`` is replayed against it.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from prefect_sora._transport.polling import PollSchedule, expected_duration
from prefect_sora.emulator._config import EmulatorConfig
from prefect_sora.emulator._directives import Directives
from prefect_sora.emulator._jobs import Job, Slots, plan_job, progress_at

Curve = Callable[[float], int]
PRIOR = expected_duration("8", "1280x720")  # 20 s, whatever the job's real length


@dataclass(frozen=True)
class Waited:
    gets: int
    late: float
    sdk_gets: int  # what once-a-second polling from submission makes: ceil(T) + 1


def emulator_jobs(length: float, seed: int, *, jobs: int = 20, max_running: int | None = 10) -> list[Job]:
    """A batch as the emulator plans it: created at once, lengths within 10 % of `length`."""
    config = EmulatorConfig(
        seed=seed,
        job_seconds_range=(0.9 * length, 1.1 * length),
        queue_seconds_range=(0.5, 4.0),
        max_running=max_running,
    )
    slots, found = Slots(), []
    for seq in range(jobs):
        plan = plan_job(config, seq=seq, now=0.0, directives=Directives())
        slots.admit(plan, config.max_running)
        found.append(
            Job(
                id=f"video_{seq}",
                model="sora-2",
                size="1280x720",
                seconds="8",
                quality="standard",
                prompt="",
                remixed_from_video_id=None,
                plan=plan,
            )
        )
    return found


def wait(job: Job, curve: Curve | None = None, *, late_by: Callable[[], float] | None = None) -> Waited:
    """Replay the wait loop on `job` from its submission at t=0; `curve` replaces the emulator's."""
    plan = job.plan
    assert plan.ends_at is not None
    schedule = PollSchedule(started=0.0, expected_seconds=PRIOR)
    now, gets, status, progress = 0.0, 0, "queued", 0
    while status != "completed":
        schedule.observe(now, status, progress)
        now += schedule.next_delay(now) + (late_by() if late_by else 0.0)
        status, progress = job.status_at(now)
        if curve is not None and status == "in_progress":
            progress = curve((now - plan.started_at) / (plan.ends_at - plan.started_at))
        gets += 1
        assert gets < 1000, "the schedule never saw the job complete"
    return Waited(gets, now - plan.ends_at, math.ceil(plan.ends_at) + 1)


def run_many(length: float, curve: Curve | None = None, seeds: range = range(1, 11), **kwargs: object) -> list[Waited]:
    return [wait(job, curve, **kwargs) for seed in seeds for job in emulator_jobs(length, seed)]  # type: ignore[arg-type]


def p95(values: list[float]) -> float:
    return sorted(values)[math.ceil(0.95 * len(values)) - 1]


def gets_ratio(waits: list[Waited]) -> float:
    return sum(w.gets for w in waits) / sum(w.sdk_gets for w in waits)


def _shown(value: float) -> int:
    return min(99, max(0, int(value)))


CURVES: dict[str, Curve] = {
    "linear": lambda x: _shown(100 * x),
    "slow-start": lambda x: _shown(100 * x * x),
    "fast-start": lambda x: _shown(100 * math.sqrt(x)),
}

# GETs per job as a share of once-a-second polling's, per length: at most a fifth from a
# minute on, falling as jobs get longer (a long job's middle needs few reads).
GETS_SHARE = {10.0: 0.25, 30.0: 0.2, 60.0: 0.15, 120.0: 0.1, 300.0: 0.07, 600.0: 0.06}


@pytest.mark.parametrize("length", list(GETS_SHARE))
def test_emulator_jobs_from_10_s_to_10_min_are_seen_within_2_s_at_p95_with_a_fraction_of_the_sdks_gets(
    length: float,
) -> None:
    waits = run_many(length)  # 200 jobs, half of them queued behind a 10-slot cap

    assert len(waits) == 200
    assert p95([w.late for w in waits]) <= 2.0
    assert max(w.late for w in waits) <= 2.5
    assert gets_ratio(waits) <= GETS_SHARE[length]


def test_sixty_second_jobs_cost_no_more_gets_than_the_schedule_before_the_tail_fix() -> None:
    waits = run_many(60.0)

    # The earlier schedule made 12.3 GETs per job here, and saw some of these jobs up to 4 s late.
    assert sum(w.gets for w in waits) / len(waits) <= 12.3
    assert statistics.median(w.late for w in waits) <= 1.5


@pytest.mark.parametrize("name", list(CURVES))
@pytest.mark.parametrize(("length", "share"), [(10.0, 0.3), (60.0, 0.2), (600.0, 0.1)])
def test_other_curves_are_seen_promptly_too(name: str, length: float, share: float) -> None:
    waits = run_many(length, CURVES[name])

    # Looser than on the emulator's curve: a slow start still accelerating into its end
    # is predicted up to a second early or late by three-read extrapolation.
    assert p95([w.late for w in waits]) <= 3.0
    assert gets_ratio(waits) <= share


def test_a_long_plateau_or_coarse_steps_delay_detection_by_a_bounded_share_of_the_job() -> None:
    def plateau(x: float) -> int:  # half in a fifth of the run, then nothing until 80 %
        return _shown(250 * x) if x < 0.2 else 50 if x < 0.8 else _shown(50 + 245 * (x - 0.8))

    def coarse(x: float) -> int:
        return _shown(100 * x) // 10 * 10

    for curve in (plateau, coarse):
        for length in (60.0, 600.0):
            waits = run_many(length, curve, seeds=range(1, 4))
            assert max(w.late for w in waits) <= 0.35 * length
            assert gets_ratio(waits) <= 0.2


def test_polls_held_back_by_a_rate_limit_are_planned_from_when_they_happened() -> None:
    rng = random.Random(5)
    waits = run_many(60.0, seeds=range(1, 4), late_by=lambda: rng.uniform(0.0, 1.0))

    # Every poll up to 1 s late: detection is at most that much later, and no GET is added.
    assert p95([w.late for w in waits]) <= 3.0
    assert sum(w.gets for w in waits) <= sum(w.gets for w in run_many(60.0, seeds=range(1, 4)))


def test_a_job_that_never_reports_progress_is_polled_every_third_of_the_prior_then_less_as_it_waits() -> None:
    schedule = PollSchedule(started=0.0, expected_seconds=30.0)
    schedule.observe(0.0, "queued", 0.0)

    assert schedule.next_delay(0.0) == pytest.approx(10.0)
    schedule.observe(10.0, "in_progress", 0.0)
    assert schedule.next_delay(10.0) == pytest.approx(10.0)
    schedule.observe(80.0, "queued", 0.0)
    assert schedule.next_delay(80.0) == pytest.approx(20.0)  # a quarter of the wait
    assert schedule.next_delay(400.0) == pytest.approx(30.0)  # never more than the prior


def test_a_server_hint_starts_the_backoff_before_progress_and_floors_it_after() -> None:
    schedule = PollSchedule(started=0.0, expected_seconds=30.0)
    schedule.observe(0.0, "queued", 0.0)
    assert schedule.next_delay(0.0, hint=0.05) == pytest.approx(0.2)  # min_delay still holds
    assert schedule.next_delay(4.0, hint=0.05) == pytest.approx(4.0)  # doubling from the hint
    assert schedule.next_delay(40.0, hint=0.05) == pytest.approx(10.0)  # up to a third of the prior

    schedule.observe(41.0, "in_progress", 98.0)
    assert schedule.next_delay(41.0, hint=5.0) >= 5.0


def test_a_prediction_is_not_trusted_beyond_the_history_it_rests_on() -> None:
    schedule = PollSchedule(started=0.0, expected_seconds=20.0, max_delay=1000.0)
    schedule.observe(0.0, "queued", 0.0)
    schedule.observe(6.0, "in_progress", 1.0)  # began between 0 and 6 s: about 3 s of history
    schedule.observe(8.0, "in_progress", 2.0)  # a crawl that predicts ~90 s more

    assert schedule.predicted_end() > 60.0
    assert schedule.next_delay(8.0) <= 8.0 - 0.0


def test_a_far_prediction_is_polled_before_it_and_a_near_one_just_past() -> None:
    schedule = PollSchedule(started=0.0, expected_seconds=20.0)
    schedule.observe(0.0, "queued", 0.0)
    for at in (5.0, 10.0):
        schedule.observe(at, "in_progress", at * 5.0 - 1.0)  # a steady 5 %/s from t=0
    end = schedule.predicted_end()
    assert 19.0 <= end <= 20.5
    # 10 s ahead the prediction may be 3 s late: poll early enough to see even that within `lateness`.
    ahead = end - 10.0
    assert schedule.next_delay(10.0) == pytest.approx(ahead * (1 - schedule.trust) + schedule.lateness)
    assert schedule.next_delay(10.0) < ahead

    schedule.observe(17.5, "in_progress", 86.0)
    end = schedule.predicted_end()
    # 2.5 s ahead the error is small: land just past the end.
    assert schedule.next_delay(17.5) == pytest.approx(end - 17.5 + schedule.aim)


def test_a_prediction_holds_until_progress_moves_so_the_last_points_of_a_long_job_are_not_chased() -> None:
    schedule = PollSchedule(started=0.0, expected_seconds=20.0)
    schedule.observe(0.0, "queued", 0.0)
    for at, progress in ((100.0, 16.0), (300.0, 48.0), (600.0, 96.0), (620.0, 98.0)):
        schedule.observe(at, "in_progress", progress)
    end = schedule.predicted_end()
    assert 620.0 < end < 640.0

    # Reads that still show 98 % do not push the end back; once it passes, every tail_delay.
    for at in (end - 1.0, end + 1.0, end + 2.5):
        schedule.observe(at, "in_progress", 98.0)
        assert schedule.predicted_end() == pytest.approx(end)
    assert schedule.next_delay(end + 2.5) == pytest.approx(schedule.tail_delay)


def test_a_stuck_job_backs_off_to_max_delay_and_costs_a_few_dozen_gets_an_hour() -> None:
    schedule = PollSchedule(started=0.0, expected_seconds=20.0)
    schedule.observe(0.0, "queued", 0.0)
    schedule.observe(5.0, "in_progress", 50.0)
    schedule.observe(10.0, "in_progress", 99.0)
    now, gets, delays = 10.0, 0, []
    while now < 3600.0:
        delays.append(schedule.next_delay(now))
        now += delays[-1]
        schedule.observe(now, "in_progress", 99.0)
        gets += 1

    assert delays == sorted(delays)  # never polled faster the longer it stands still
    assert delays[-1] == schedule.max_delay
    assert gets <= 150  # once a second would be 3,590


def test_the_prior_grows_with_length_and_pixels() -> None:
    assert expected_duration("4", "720x1280") == 10.0
    assert expected_duration("8", "1280x720") == 20.0
    assert expected_duration("12", "1920x1080") > expected_duration("12", "1280x720")
    assert expected_duration(None, "bad") == 20.0


def test_the_emulators_curve_is_the_one_simulated() -> None:
    # The simulations above read progress through Job.status_at; this pins down that it is
    # the race-creep-run curve the module docstring describes (a plateau, then a run to 99).
    assert progress_at(0.4, plateau=60.0) == 60
    assert progress_at(0.6, plateau=60.0) == 64
    assert progress_at(0.99, plateau=60.0) == 98
