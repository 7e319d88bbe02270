"""Pacing under a gateway's limits: the token bucket's arithmetic on a fake clock, the pacer's order, and the wire.

The emulator enforces the limits here (``rpm`` as a token bucket, ``max_running_jobs``) and
counts every request per key, 429s included, on its side of the wire.
"""

from __future__ import annotations

import asyncio
import contextvars
import heapq
import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from prefect_sora._errors import InvalidParameter, RateLimited
from prefect_sora._pacing.pacer import Pacer, Priority, forget_pacers, pacer_for
from prefect_sora._pacing.token_bucket import RateHeaders, TokenBucket, pace_for, parse_duration
from prefect_sora._transport.client import SoraClient
from prefect_sora._transport.retries import RetryPolicy
from prefect_sora._validation import validate_request
from prefect_sora.emulator import Emulator

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def _fresh_pacers() -> Iterator[None]:
    """Each test starts as a fresh process would: no pacer has learned anything yet."""
    forget_pacers()
    yield
    forget_pacers()


def peak_per_window(times: list[float], window: float = 60.0) -> int:
    """Most events in any half-open window of ``window`` seconds (as the emulator counts arrivals)."""
    times, peak, first = sorted(times), 0, 0
    for last, at in enumerate(times):
        while times[first] <= at - window:
            first += 1
        peak = max(peak, last - first + 1)
    return peak


def drive(bucket: TokenBucket, seconds: float, *, start: float = 0.0, answer: bool = False) -> list[float]:
    """Send whenever the bucket allows, for ``seconds`` of fake time; the send times.

    With ``answer``, each request is answered 200 (no rate headers) 50 ms later.
    """
    now, sent = start, []
    while now < start + seconds:
        wait = bucket.wait(now)
        if wait > 0:
            now += wait
            continue
        number = bucket.take(now)
        if answer:
            bucket.answer(number, 200, RateHeaders(), now + 0.05)
        sent.append(now)
    return sent


def simulate(
    limit_rpm: int, burst: int, *, workers: int = 16, rtt: float = 0.05, seconds: float = 600.0
) -> dict[str, int]:
    """A client with endless demand against a token-bucket gateway that announces nothing, on fake time."""
    bucket = TokenBucket()
    tokens, updated, refill = float(burst), 0.0, limit_rpm / 60
    ready = [(0.0, worker) for worker in range(workers)]
    counts = {"ok": 0, "429": 0}
    while ready:
        now, worker = heapq.heappop(ready)
        if now > seconds:
            break
        wait = bucket.wait(now)
        if wait > 0:
            heapq.heappush(ready, (now + wait, worker))
            continue
        number = bucket.take(now)
        arrival = now + rtt / 2
        tokens, updated = min(burst, tokens + (arrival - updated) * refill), arrival
        accepted = tokens >= 1
        tokens -= 1 if accepted else 0
        bucket.answer(number, 200 if accepted else 429, RateHeaders(), now + rtt)
        if not accepted:
            bucket.rate_limited(number, (1 - tokens) / refill, now + rtt)
        counts["ok" if accepted else "429"] += 1
        heapq.heappush(ready, (now + rtt, worker))
    return counts


# -- the bucket, on a fake clock ---------------------------------------------------------


@pytest.mark.parametrize("rpm", [1, 7, 60, 120, 375, 600])
def test_a_configured_token_bucket_never_lets_more_than_the_limit_into_any_minute(rpm: int) -> None:
    bucket = TokenBucket()
    bucket.configure(rpm, now=0.0)

    sent = drive(bucket, 600.0)

    assert peak_per_window(sent) <= rpm
    if rpm >= 60:  # and it is not timid about it: at least 95 % of the limit, minute after minute
        assert len(sent) >= 0.95 * rpm * 10


def test_an_announced_limit_sets_the_pace_from_the_first_answer() -> None:
    bucket = TokenBucket()
    number = bucket.take(0.0)

    bucket.answer(number, 200, RateHeaders(limit=120, remaining=11), now=0.05)

    burst, rate = pace_for(120, 0.97)
    assert (bucket.announced, bucket.rate, bucket.burst) == (120, rate, burst)
    assert peak_per_window(drive(bucket, 300.0, start=0.05)) <= 120


def test_no_announced_limit_means_no_pacing_until_a_429() -> None:
    bucket = TokenBucket()
    bucket.answer(bucket.take(0.0), 200, RateHeaders(), now=0.05)

    assert bucket.rate is None
    assert all(bucket.wait(0.05) == 0 for _ in range(1000) if bucket.take(0.05))


def test_remaining_counts_the_requests_still_in_flight() -> None:
    bucket = TokenBucket()
    bucket.configure(600, now=0.0)  # burst 10
    numbers = [bucket.take(0.0) for _ in range(5)]

    # The gateway had 2 left after the first request; four more are on their way to it.
    bucket.answer(numbers[0], 200, RateHeaders(limit=600, remaining=2), now=0.0)

    assert bucket.tokens == pytest.approx(2 - 4)
    assert bucket.wait(0.0) == pytest.approx(3 / bucket.rate)  # type: ignore[operator]


def test_a_429_pauses_everyone_and_halves_the_pace_once_per_round() -> None:
    bucket = TokenBucket()
    bucket.configure(600, now=0.0)
    numbers = [bucket.take(i * 0.1) for i in range(20)]  # 10 a second, for two seconds
    for number in numbers[:10]:
        bucket.answer(number, 200, RateHeaders(), now=2.0)
    before = bucket.rate

    cuts = [bucket.rate_limited(number, 1.5, now=2.0) for number in numbers[10:]]

    assert cuts == [True] + [False] * 9  # the rest of that round were sent at the old pace
    assert bucket.rate == pytest.approx(before / 2)  # type: ignore[operator]
    assert bucket.wait(2.0) == pytest.approx(1.5)  # Retry-After holds every request
    assert bucket.rate_limited(bucket.take(4.0), None, now=4.1)  # a request sent after the cut counts again


def test_the_pace_recovers_after_runs_of_successes_but_never_above_the_limit() -> None:
    bucket = TokenBucket()
    bucket.configure(120, now=0.0)
    cap = bucket.cap
    sent = drive(bucket, 10.0, start=0.0, answer=True)
    bucket.rate_limited(bucket.take(10.0), None, 10.0)
    assert bucket.rate is not None and cap is not None and bucket.rate < 0.6 * cap

    sent += [10.0, *drive(bucket, 120.0, start=10.0, answer=True)]

    assert bucket.rate == pytest.approx(cap)
    assert peak_per_window(sent) <= 120


@pytest.mark.parametrize(("rpm", "burst"), [(120, 12), (120, 1), (375, 6), (600, 60)])
def test_an_unannounced_limit_is_learned_from_429s_with_few_of_them(rpm: int, burst: int) -> None:
    counts = simulate(rpm, burst)

    assert counts["429"] <= 0.03 * (counts["ok"] + counts["429"])
    assert counts["ok"] >= 0.7 * rpm * 10  # ten minutes at no less than 70 % of the limit


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1s", 1.0), ("6m0s", 360.0), ("120ms", 0.12), ("1h2m3.5s", 3723.5), ("2.5", 2.5), ("soon", None), ("", None)],
)
def test_reset_durations_are_read_in_openai_format(text: str, seconds: float | None) -> None:
    assert parse_duration(text) == (pytest.approx(seconds) if seconds is not None else None)


def test_rate_headers_that_do_not_parse_count_as_absent() -> None:
    headers = httpx.Headers({"x-ratelimit-limit-requests": "lots", "x-ratelimit-remaining-requests": "3"})

    assert RateHeaders.read(headers) == RateHeaders(limit=None, remaining=3, reset=None)


# -- the pacer: order, sharing, threads ---------------------------------------------------


async def test_creates_go_first_then_polls_by_when_the_schedule_wanted_them() -> None:
    # The pacer's clock stands still until all five wait, so no token comes back while they
    # line up, however slowly a loaded machine runs this loop (a real clock let the first
    # one through alone once, in a CI run with a CPU hog).
    frozen: list[float | None] = [None]
    pacer = Pacer("test", clock=lambda: frozen[0] if frozen[0] is not None else time.monotonic())
    pacer.configure(requests_per_minute=6000)  # 100 a second, a burst of 100
    for _ in range(100):
        await pacer.acquire()  # use up the burst: the next ones queue
    frozen[0] = time.monotonic()
    while pacer.bucket.wait(frozen[0]) <= 0:
        await pacer.acquire()  # a token that came back before the clock stopped
    order: list[str] = []

    async def one(name: str, priority: Priority, due: float | None) -> None:
        await pacer.acquire(priority, due=due)
        order.append(name)

    now = time.monotonic()
    waiting = [
        asyncio.create_task(one("poll due last", Priority.READ, now + 3)),
        asyncio.create_task(one("poll due first", Priority.READ, now + 1)),
        asyncio.create_task(one("download", Priority.READ, None)),
        asyncio.create_task(one("poll due second", Priority.READ, now + 2)),
        asyncio.create_task(one("create", Priority.CREATE, None)),
    ]
    for _ in range(20):
        await asyncio.sleep(0)  # each reaches the pacer and waits: no token while the clock stands
    assert order == []
    frozen[0] = None
    await asyncio.gather(*waiting)

    assert order == ["create", "download", "poll due first", "poll due second", "poll due last"]


async def test_a_cancelled_wait_leaves_the_queue_moving() -> None:
    # The clock stands still while the wait is made and cancelled, so that it surely waits
    # (a real clock gave it a token that came back meanwhile, in a loaded run).
    frozen: list[float | None] = [None]
    pacer = Pacer("test", clock=lambda: frozen[0] if frozen[0] is not None else time.monotonic())
    pacer.configure(requests_per_minute=6000)
    for _ in range(100):
        await pacer.acquire()
    frozen[0] = time.monotonic()
    while pacer.bucket.wait(frozen[0]) <= 0:
        await pacer.acquire()  # a token that came back before the clock stopped
    stuck = asyncio.create_task(pacer.acquire(Priority.CREATE))
    await asyncio.sleep(0)
    stuck.cancel()
    frozen[0] = None

    results = await asyncio.gather(*(pacer.acquire() for _ in range(3)))

    assert len(results) == 3 and stuck.cancelled()


def test_one_pacer_serves_several_threads_each_with_its_own_event_loop() -> None:
    pacer = Pacer("test")
    pacer.configure(requests_per_minute=6000)
    numbers: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        async def main() -> None:
            for _ in range(60):
                number = await pacer.acquire(random.choice(list(Priority)))
                with lock:
                    numbers.append(number)

        asyncio.run(main())

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert not any(thread.is_alive() for thread in threads)
    assert sorted(numbers) == list(range(1, 181))  # every request had its own turn


async def test_clients_share_a_pacer_by_key_and_base_url(sora_emulator: Emulator) -> None:
    base = sora_emulator.base_url
    async with (
        SoraClient(api_key="sk-one", base_url=base) as first,
        SoraClient(api_key="sk-one", base_url=base, requests_per_minute=90) as second,
        SoraClient(api_key="sk-two", base_url=base) as other_key,
    ):
        assert first._pacer is second._pacer is pacer_for("sk-one", base)
        assert other_key._pacer is not first._pacer
        assert first._pacer.bucket.configured == 90  # the one that was configured set it for both
        assert "sk-one" not in repr(first._pacer) and "sk-one" not in first._pacer.label


# -- against the emulator's limits --------------------------------------------------------


async def fan_out(client: SoraClient, requests: int, workers: int = 16) -> None:
    async def worker(share: int) -> None:
        for _ in range(share):
            await client.list_videos(limit=1)

    await asyncio.gather(*(worker(requests // workers) for _ in range(workers)))


async def test_a_configured_client_stays_inside_a_strict_gateway_bucket_without_a_429() -> None:
    with Emulator(job_seconds=0.2, rpm=600, rpm_burst=10) as emulator:
        retry = RetryPolicy(max_retries=0)
        async with SoraClient(
            api_key="sk-paced", base_url=emulator.base_url, retry=retry, requests_per_minute=600
        ) as client:
            await fan_out(client, 48)
        stats = emulator.stats()

    assert stats["rate_limited"]["rpm"] == 0
    assert stats["responses_by_status"] == {"200": 48}


async def test_an_unconfigured_client_learns_the_gateways_rate_and_loses_nothing() -> None:
    with Emulator(job_seconds=0.2, rpm=600, rpm_burst=5) as emulator:
        async with SoraClient(
            api_key="sk-learns", base_url=emulator.base_url, retry=RetryPolicy(max_retries=0)
        ) as client:
            await fan_out(client, 64)
            learned = client._pacer.bucket.announced
        stats = emulator.stats()

    assert learned == 600
    assert stats["responses_by_status"]["200"] == 64  # every request succeeded in the end, none raised
    assert stats["rate_limited"]["rpm"] <= 2


async def test_a_burst_of_429s_no_longer_fails_a_poll_even_with_no_retries(
    sora_emulator: Emulator, make_client: Any
) -> None:
    sora_emulator.configure(retry_after_seconds=0.05)
    async with make_client(max_retries=0) as client:
        video = await client.create_video(validate_request(prompt="a fox"))
        sora_emulator.inject("429", count=3, endpoint="retrieve")

        polled = await client.retrieve_video(video.id)

    assert polled.id == video.id
    assert sora_emulator.stats()["faults"] == {"429": 3}


async def test_429s_past_the_patience_raise_rate_limited(sora_emulator: Emulator, api_key: str) -> None:
    sora_emulator.configure(rate_limit_rate=1.0, retry_after_seconds=0.1)
    retry = RetryPolicy(max_retries=0, rate_limit_patience=0.5)
    async with SoraClient(api_key=api_key, base_url=sora_emulator.base_url, retry=retry) as client:
        with pytest.raises(RateLimited) as caught:
            await client.list_videos()

    assert caught.value.status_code == 429
    assert 2 <= sora_emulator.stats()["requests_total"] <= 10


async def test_a_retry_after_longer_than_max_retry_after_is_raised_at_once(
    sora_emulator: Emulator, api_key: str
) -> None:
    sora_emulator.configure(retry_after_seconds=5)
    sora_emulator.inject("429", endpoint="list")
    retry = RetryPolicy(max_retry_after=1.0)
    async with SoraClient(api_key=api_key, base_url=sora_emulator.base_url, retry=retry) as client:
        with pytest.raises(RateLimited) as caught:
            await client.list_videos()

    assert caught.value.retry_after == pytest.approx(5)
    assert sora_emulator.stats()["requests_total"] == 1


async def test_max_running_jobs_holds_a_create_until_a_job_is_seen_ending() -> None:
    with Emulator(job_seconds=0.1) as emulator:
        async with SoraClient(api_key="sk-cap", base_url=emulator.base_url, max_running_jobs=1) as client:
            first = await client.create_video(validate_request(prompt="a fox"))
            second = asyncio.create_task(client.create_video(validate_request(prompt="a heron")))
            await asyncio.sleep(0.5)  # the first job has completed, but nobody has looked
            held = (emulator.stats()["creates"], second.done())

            assert (await client.retrieve_video(first.id)).is_completed
            made = await asyncio.wait_for(second, timeout=10)

        assert held == (1, False)
        assert emulator.stats()["creates"] == 2 and made.prompt == "a heron"


async def test_a_too_many_running_jobs_429_is_back_pressure_not_failure() -> None:
    with Emulator(job_seconds=0.3, max_running_jobs=1) as emulator:
        retry = RetryPolicy(max_retries=0)
        async with SoraClient(api_key="sk-jobs", base_url=emulator.base_url, retry=retry) as client:
            await client.create_video(validate_request(prompt="a fox"))
            second = await client.create_video(validate_request(prompt="a heron"))
            pace = client._pacer.bucket.rate
        stats = emulator.stats()

    assert second.prompt == "a heron"
    assert stats["creates"] == 2
    assert stats["rate_limited"]["running_jobs"] >= 1
    assert pace is None  # too many jobs is not too many requests: the pace was left alone


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("requests_per_minute", 0),
        ("requests_per_minute", -60),
        ("max_running_jobs", 0),
        ("rate_limit_name", ""),
        ("rate_limit_name", "sora/key"),
    ],
)
async def test_a_bad_pacing_setting_is_refused_before_any_request(
    sora_emulator: Emulator, api_key: str, setting: str, value: object
) -> None:
    with pytest.raises(InvalidParameter) as caught:
        SoraClient(api_key=api_key, base_url=sora_emulator.base_url, **{setting: value})

    assert caught.value.param == setting
    assert api_key not in str(caught.value)
    assert sora_emulator.stats()["requests_total"] == 0


# -- one limit across processes: a Prefect global concurrency limit ----------------------


def create_rate_limit(name: str, limit: int, decay: float) -> None:
    from prefect import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate

    with get_client(sync_client=True) as client:
        client.create_global_concurrency_limit(
            GlobalConcurrencyLimitCreate(name=name, limit=limit, slot_decay_per_second=decay)
        )


def in_threads(count: int, work: Any) -> list[Any]:
    """Run ``work(i)`` (a coroutine function) on ``count`` threads, each with its own event loop."""
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        results[index] = asyncio.run(work(index))

    # Each thread gets a copy of this context: the test server's Prefect settings live in it.
    threads = [threading.Thread(target=contextvars.copy_context().run, args=(run, index)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return results


def test_a_prefect_rate_limit_holds_two_processes_clients_to_it_together(
    prefect_server: None, caplog: pytest.LogCaptureFixture
) -> None:
    # Different keys, so each client has its own pacer, as in two processes; one Prefect limit.
    create_rate_limit("sora-shared", limit=2, decay=10.0)
    requests, started = 40, time.monotonic()
    with Emulator(job_seconds=0.2) as emulator:

        async def work(index: int) -> None:
            async with SoraClient(
                api_key=f"sk-worker-{index}", base_url=emulator.base_url, rate_limit_name="sora-shared"
            ) as client:
                await fan_out(client, requests // 2, workers=4)

        with caplog.at_level("WARNING", logger="prefect_sora._pacing.pacer"):
            in_threads(2, work)
        elapsed = time.monotonic() - started
        stats = emulator.stats()

    assert stats["responses_by_status"] == {"200": requests}
    assert not [
        record for record in caplog.records if record.name == "prefect_sora._pacing.pacer"
    ]  # the limit was used
    # A limit of 2 slots decaying at 10 a second lets at most 2 + 10 * t requests out in t seconds.
    assert requests <= 2 + 10.0 * elapsed


def test_a_missing_prefect_rate_limit_warns_once_and_paces_locally(
    prefect_server: None, caplog: pytest.LogCaptureFixture
) -> None:
    with Emulator(job_seconds=0.2) as emulator:

        async def work(index: int) -> None:
            async with SoraClient(
                api_key="sk-alone", base_url=emulator.base_url, rate_limit_name="no-such-limit"
            ) as client:
                await fan_out(client, 8, workers=2)

        with caplog.at_level("WARNING", logger="prefect_sora._pacing.pacer"):
            in_threads(1, work)
        stats = emulator.stats()

    warnings = [
        r.getMessage() for r in caplog.records if r.name == "prefect_sora._pacing.pacer" and r.levelname == "WARNING"
    ]
    assert stats["responses_by_status"] == {"200": 8}
    assert len(warnings) == 1
    assert "no-such-limit" in warnings[0] and "prefect gcl create no-such-limit" in warnings[0]
