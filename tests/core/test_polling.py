"""The pure poll schedule on simulated jobs: few GETs, prompt detection, whatever the progress curve.

The schedule may not know the service's progress curve, so it is driven here through
several (the emulator's race-creep-run, linear, slow start, fast start, coarse steps,
none at all) and must stay prompt on each. No I/O: a job is a function of time.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable

import pytest

from prefect_sora.emulator.jobs import progress_at
from prefect_sora.polling import PollSchedule, expected_duration

Curve = Callable[[float], int]


def _race_creep_run(rng: random.Random) -> Curve:
    plateau = rng.uniform(55.0, 70.0)
    return lambda x: progress_at(x, plateau=plateau)


CURVES: dict[str, Callable[[random.Random], Curve]] = {
    "race-creep-run": _race_creep_run,
    "linear": lambda rng: lambda x: min(99, int(100 * x)),
    "slow-start": lambda rng: lambda x: min(99, int(100 * x * x)),
    "fast-start": lambda rng: lambda x: min(99, int(100 * x**0.5)),
}


def simulate(curve: Curve, *, queued: float, running: float, prior: float) -> tuple[int, float]:
    """Wait on one simulated job from its submission at t=0; (GETs, seconds detected late)."""
    end = queued + running
    schedule = PollSchedule(started=0.0, expected_seconds=prior)
    now = 0.0
    schedule.observe(now, "queued", 0.0)
    polls = 0
    while True:
        now += schedule.next_delay(now)
        polls += 1
        if now >= end:
            return polls, now - end
        status, progress = ("queued", 0) if now < queued else ("in_progress", curve((now - queued) / running))
        schedule.observe(now, status, progress)
        assert polls < 200, "the schedule never reached the end"


def run_many(name: str, seed: int = 7, jobs: int = 60) -> tuple[list[int], list[float], list[int]]:
    """GETs, delays, and the GETs once-a-second polling would have made, over `jobs` jobs of 8-30 s."""
    rng = random.Random(seed)
    polls, delays, sdk = [], [], []
    for _ in range(jobs):
        total, queued = rng.uniform(8.0, 30.0), rng.uniform(0.5, 4.0)
        n, late = simulate(CURVES[name](rng), queued=queued, running=total - queued, prior=20.0)
        polls.append(n)
        delays.append(late)
        sdk.append(int(total) + 1)
    return polls, delays, sdk


@pytest.mark.parametrize("name", list(CURVES))
def test_every_curve_is_detected_promptly_with_a_fraction_of_once_a_second_polling(name: str) -> None:
    polls, delays, sdk = run_many(name)

    assert sum(polls) / sum(sdk) <= 0.3, f"{name}: {sum(polls)} GETs against {sum(sdk)} at once a second"
    assert statistics.median(delays) <= 1.1
    assert sorted(delays)[int(0.95 * len(delays))] <= 2.0
    assert max(delays) <= 3.5


def test_the_emulator_curve_costs_about_a_fifth_of_once_a_second_polling() -> None:
    polls, _, sdk = run_many("race-creep-run", jobs=200)

    assert sum(polls) / sum(sdk) <= 0.24


def test_a_job_that_never_reports_progress_is_polled_every_third_of_the_prior() -> None:
    schedule = PollSchedule(started=0.0, expected_seconds=30.0)
    schedule.observe(0.0, "queued", 0.0)

    assert schedule.next_delay(0.0) == pytest.approx(10.0)
    schedule.observe(10.0, "in_progress", 0.0)
    assert schedule.next_delay(10.0) == pytest.approx(10.0)


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


def test_a_far_prediction_is_polled_on_and_a_near_one_just_past() -> None:
    schedule = PollSchedule(started=0.0, expected_seconds=20.0)
    schedule.observe(0.0, "queued", 0.0)
    for at in (5.0, 10.0):
        schedule.observe(at, "in_progress", at * 5.0 - 1.0)  # a steady 5 %/s from t=0
    end = schedule.predicted_end()
    assert 19.0 <= end <= 20.5
    # 10 s ahead, the prediction may be seconds off: land on it, to correct it.
    assert schedule.next_delay(10.0) == pytest.approx(end - 10.0)

    schedule.observe(17.5, "in_progress", 86.0)
    end = schedule.predicted_end()
    # 2.5 s ahead, the error is within `aim`: land just past the end.
    assert schedule.next_delay(17.5) == pytest.approx(end - 17.5 + schedule.aim)


def test_a_stuck_job_is_backed_off_in_proportion_to_how_long_it_stood_still() -> None:
    schedule = PollSchedule(started=0.0, expected_seconds=20.0)
    schedule.observe(0.0, "queued", 0.0)
    schedule.observe(5.0, "in_progress", 50.0)
    schedule.observe(10.0, "in_progress", 99.0)
    for at in (12.0, 20.0, 40.0):
        schedule.observe(at, "in_progress", 99.0)

    assert schedule.next_delay(40.0) == pytest.approx(15.0)  # half of the 30 s at 99 %
    assert PollSchedule(started=0.0, max_delay=30.0).next_delay(0.0) <= 30.0


def test_the_prior_grows_with_length_and_pixels() -> None:
    assert expected_duration("4", "720x1280") == 10.0
    assert expected_duration("8", "1280x720") == 20.0
    assert expected_duration("12", "1920x1080") > expected_duration("12", "1280x720")
    assert expected_duration(None, "bad") == 20.0
