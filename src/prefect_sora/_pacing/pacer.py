"""One request pace per API key and base URL, shared by every client of this process.

Gateways limit requests per minute per key and answer 429 past it; a client
that retries into the limit spends its retries and makes every item of a batch
compete blindly. A :class:`Pacer` instead lets each request out at the key's
pace (:mod:`prefect_sora._pacing.token_bucket` decides the pace), in this order:

* **creates first**, then polls in the order the poll schedule wants them
  (their ``due`` time), downloads and listings as polls due now;
* with ``max_running_jobs``, a create first waits until fewer jobs that this
  process made are still unseen terminal (a job unseen for an hour stops counting);
* with ``rate_limit_name``, each request also takes one slot of that Prefect
  global concurrency limit (a rate limit: a limit with slot decay), so every
  worker and flow run on the key stays under one limit together. If the limit
  does not exist or the Prefect API cannot be reached, a warning says so once
  and the process paces on its own, rechecking every minute: a typo in a
  limit's name must not fail a nightly batch that local pacing and 429
  back-pressure still carry to the end.

Every :class:`~prefect_sora._transport.client.SoraClient` of a process with the same key
(known only by a hash) and base URL gets the same pacer from :func:`pacer_for`:
the batch flow opens one client, the single-video tasks one per call, and they
must add up. Prefect runs tasks on several threads and event loops at once, so
state is guarded by a threading lock and each caller waits on its own loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import hashlib
import heapq
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx

from prefect_sora._pacing.token_bucket import RateHeaders, TokenBucket

logger = logging.getLogger("prefect_sora._pacing.pacer")

#: Seconds after which a job this process made but never saw end stops counting as running.
JOB_TTL_SECONDS = 3600.0
#: Seconds between two looks at a Prefect limit that was missing or unreachable.
SHARED_RECHECK_SECONDS = 60.0
#: A shared limit's slots are taken about this many seconds of its decay at a time ...
SLOT_BATCH_SECONDS = 0.5
#: ... and those not spent within this many seconds lapse (so no window sees more than its share).
SLOT_CREDIT_SECONDS = 1.0
# A waiter is woken when its turn comes; this only bounds the cost of a wake-up
# lost to a closed event loop.
_BACKSTOP_SECONDS = 5.0
#: 429 codes that mean "too many jobs at once", not "too many requests".
RUNNING_JOBS_CODES = frozenset({"too_many_running_jobs", "concurrent_jobs_limit_exceeded"})


class Priority(enum.IntEnum):
    """Which requests go first when the pace holds them back."""

    CREATE = 0
    READ = 1


@dataclass(eq=False)
class _Waiter:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None] | None = None

    def wake(self) -> None:
        future = self.future
        if future is None:
            return
        with contextlib.suppress(RuntimeError):  # its loop has closed: its caller is gone
            self.loop.call_soon_threadsafe(_resolve, future)

    async def sleep(self) -> None:
        assert self.future is not None
        await asyncio.wait({self.future}, timeout=_BACKSTOP_SECONDS)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class SharedLimit:
    """A Prefect global concurrency limit used as a rate limit: one slot per request.

    Slots are taken a few at a time (about half a second of the limit's decay, at
    most its size) and spent by the next requests of this process within
    :data:`SLOT_CREDIT_SECONDS`; unspent ones lapse. One call per slot asks
    Prefect's API faster than the limit decays, and its server loses the decay
    since the last update on every denied call, so the limit hands out far fewer
    slots than its decay promises (measured in BENCHMARKS.md, "Rate limits").
    """

    def __init__(self, name: str, clock: Callable[[], float]) -> None:
        self.name = name
        self._clock = clock
        self._off_until = 0.0
        self._warned = False
        self._batch: int | None = None
        self._credits = 0
        self._credits_until = 0.0

    def in_use(self, now: float) -> bool:
        """False while the limit is known missing or unreachable (until the next recheck)."""
        return now >= self._off_until

    async def take(self) -> None:
        """Wait for one slot; on a missing limit or an unreachable API, warn once and let it go."""
        now = self._clock()
        if self._credits > 0 and now < self._credits_until:
            self._credits -= 1
            return
        # Imported here: a client used without a rate limit name never loads Prefect's client.
        from prefect.concurrency.asyncio import rate_limit

        try:
            batch = self._batch if self._batch is not None else await self._batch_size()
            await rate_limit(self.name, occupy=batch, strict=True)
        except Exception as exc:  # ConcurrencySlotAcquisitionError, or whatever the API client raised
            self._off_until = self._clock() + SHARED_RECHECK_SECONDS
            self._batch = None
            level = logging.DEBUG if self._warned else logging.WARNING
            self._warned = True
            logger.log(
                level,
                "Prefect rate limit %r is not usable (%s); pacing this process on its own, looking again in %.0f s. "
                "Create it with: prefect gcl create %s --limit L --slot-decay-per-second D",
                self.name,
                exc,
                SHARED_RECHECK_SECONDS,
                self.name,
            )
            return
        self._credits, self._credits_until = batch - 1, self._clock() + SLOT_CREDIT_SECONDS

    async def _batch_size(self) -> int:
        """Slots per call: half a second of the limit's decay, at least 1, at most its size."""
        from prefect.client.orchestration import get_client

        async with get_client() as client:
            limit = await client.read_global_concurrency_limit_by_name(self.name)
        self._batch = max(1, min(int(limit.limit), int(limit.slot_decay_per_second * SLOT_BATCH_SECONDS)))
        return self._batch


@dataclass
class _Jobs:
    """Jobs this process made and has not yet seen end, and creates holding a place."""

    limit: int | None = None
    running: dict[str, float] = field(default_factory=dict)
    reserved: int = 0
    waiters: deque[_Waiter] = field(default_factory=deque)

    def full(self, now: float) -> bool:
        for video_id in [v for v, started in self.running.items() if now - started > JOB_TTL_SECONDS]:
            del self.running[video_id]
        return self.limit is not None and len(self.running) + self.reserved >= self.limit

    def wake_one(self) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if waiter.future is not None and not waiter.future.done():
                waiter.wake()
                return


class Pacer:
    """The shared request pace of one key at one base URL (see the module docstring)."""

    def __init__(self, label: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.label = label
        self._clock = clock
        self._lock = threading.Lock()
        self._bucket = TokenBucket()
        self._queue: list[tuple[tuple[int, float, int], _Waiter]] = []
        self._order = itertools.count()
        self._dispatching = False
        self._shared: SharedLimit | None = None
        self._jobs = _Jobs()
        self._shown_rate: float | None = None

    def __repr__(self) -> str:
        return f"Pacer({self.label})"

    # -- configuration -------------------------------------------------------------

    def configure(
        self,
        *,
        requests_per_minute: int | None = None,
        max_running_jobs: int | None = None,
        rate_limit_name: str | None = None,
    ) -> None:
        """Set what a client was given; what it leaves None stays as other clients set it."""
        with self._lock:
            now = self._clock()
            if requests_per_minute is not None and requests_per_minute != self._bucket.configured:
                self._bucket.configure(requests_per_minute, now)
                self._show(f"{requests_per_minute} requests a minute configured", force=True)
            if max_running_jobs is not None:
                self._jobs.limit = max_running_jobs
                self._jobs.wake_one()
            if rate_limit_name is not None and (self._shared is None or self._shared.name != rate_limit_name):
                self._shared = SharedLimit(rate_limit_name, self._clock)

    @property
    def bucket(self) -> TokenBucket:
        """The token bucket's current state (read it, do not change it)."""
        return self._bucket

    @property
    def running_jobs(self) -> int:
        """Jobs this process made and has not yet seen reach a terminal status."""
        with self._lock:
            return len(self._jobs.running)

    # -- requests ------------------------------------------------------------------

    async def acquire(self, priority: Priority = Priority.READ, *, due: float | None = None) -> int:
        """Wait for this request's turn; returns its number, for :meth:`answered`.

        Args:
            priority: Creates go before reads.
            due: Monotonic time the caller wanted to send at (a poll's schedule);
                among reads, the earliest goes first. None: now.
        """
        waiter = _Waiter(asyncio.get_running_loop())
        with self._lock:
            now = self._clock()
            key = (int(priority), now if due is None else due, next(self._order))
            heapq.heappush(self._queue, (key, waiter))
        shared: SharedLimit | None = None
        try:
            while True:
                with self._lock:
                    now = self._clock()
                    wait: float | None = None
                    if self._queue[0][1] is waiter and not self._dispatching:
                        wait = self._bucket.wait(now)
                        if wait <= 0:
                            heapq.heappop(self._queue)
                            number = self._bucket.take(now)
                            if self._shared is not None and self._shared.in_use(now):
                                shared, self._dispatching = self._shared, True
                            else:
                                self._wake_head()
                            break
                    waiter.future = waiter.loop.create_future() if wait is None else None
                if wait is None:
                    await waiter.sleep()
                else:
                    if wait > 1.0:
                        logger.debug("%s: next request in %.2f s (%d waiting)", self.label, wait, len(self._queue))
                    await asyncio.sleep(wait)
        except BaseException:
            with self._lock:
                if (key, waiter) in self._queue:
                    self._queue.remove((key, waiter))
                    heapq.heapify(self._queue)
                self._wake_head()
            raise
        if shared is not None:
            # One request at a time takes its shared slot, so the local order holds there too.
            try:
                await shared.take()
            finally:
                with self._lock:
                    self._dispatching = False
                    self._wake_head()
        return number

    def _wake_head(self) -> None:
        if self._queue:
            self._queue[0][1].wake()

    def answered(self, number: int, response: httpx.Response) -> None:
        """Learn from the answer to request ``number`` (its status and rate headers)."""
        with self._lock:
            self._bucket.answer(number, response.status_code, RateHeaders.read(response.headers), self._clock())
            self._show("learned from the gateway's answers")

    def rate_limited(self, number: int, retry_after: float | None, *, code: str | None) -> float:
        """A 429 to request ``number``; returns seconds that request waits before its turn comes again.

        A rate 429 pauses every request on the key (inside :meth:`acquire`); a
        running-jobs 429 only holds this create, for ``Retry-After``.
        """
        if code in RUNNING_JOBS_CODES:
            return retry_after if retry_after is not None else 5.0
        with self._lock:
            if self._bucket.rate_limited(number, retry_after, self._clock()):
                self._show("a 429 from the gateway", force=False)
        return 0.0

    def _show(self, why: str, *, force: bool = False) -> None:
        rate = self._bucket.rate
        shown = self._shown_rate
        if rate is None:
            return
        changed = shown is None or abs(rate - shown) >= 0.25 * shown
        if force or changed:
            self._shown_rate = rate
            logger.info("%s: pacing at %.0f requests a minute (%s)", self.label, rate * 60, why)

    # -- running jobs --------------------------------------------------------------

    @asynccontextmanager
    async def job_slot(self) -> AsyncIterator[None]:
        """Hold a place for one create while fewer than ``max_running_jobs`` of ours are running."""
        waiter = _Waiter(asyncio.get_running_loop())
        try:
            while True:
                with self._lock:
                    if not self._jobs.full(self._clock()):
                        self._jobs.reserved += 1
                        break
                    waiter.future = waiter.loop.create_future()
                    if waiter not in self._jobs.waiters:
                        self._jobs.waiters.append(waiter)
                    running = len(self._jobs.running)
                logger.debug("%s: a create waits for one of %d running jobs to end", self.label, running)
                await waiter.sleep()
        finally:
            with self._lock:
                if waiter in self._jobs.waiters:
                    self._jobs.waiters.remove(waiter)
        try:
            yield
        finally:
            with self._lock:
                self._jobs.reserved -= 1
                self._jobs.wake_one()

    def job_started(self, video_id: str) -> None:
        """A job of ours exists now (call inside :meth:`job_slot`)."""
        with self._lock:
            self._jobs.running[video_id] = self._clock()

    def job_seen(self, video_id: str, *, terminal: bool) -> None:
        """A job's status was read; a terminal one frees its place."""
        if not terminal:
            return
        with self._lock:
            if self._jobs.running.pop(video_id, None) is not None:
                self._jobs.wake_one()


_pacers: dict[tuple[str, str], Pacer] = {}
_pacers_lock = threading.Lock()


def key_label(api_key: str) -> str:
    """How logs name a key: ``key-`` and 8 hex digits of its SHA-256, never the key."""
    return "key-" + hashlib.sha256(api_key.encode()).hexdigest()[:8]


def pacer_for(api_key: str, base_url: str) -> Pacer:
    """This process's pacer for the key at the base URL, made on first use."""
    fingerprint = hashlib.sha256(api_key.encode()).hexdigest()
    with _pacers_lock:
        pacer = _pacers.get((fingerprint, base_url))
        if pacer is None:
            pacer = _pacers[(fingerprint, base_url)] = Pacer(f"{key_label(api_key)} at {base_url}")
        return pacer


def forget_pacers() -> None:
    """Drop every pacer and what it learned (for tests: a fresh process's state)."""
    with _pacers_lock:
        _pacers.clear()


__all__ = ["Pacer", "Priority", "SharedLimit", "forget_pacers", "key_label", "pacer_for"]
