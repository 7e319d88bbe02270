"""How fast one key may send: a token bucket whose rate is configured, or learned from answers.

Pure arithmetic on times passed in, so the policy is testable on a fake clock;
:mod:`prefect_sora._pacing.pacer` does the waiting and the locking. The rules, and why:

* **Configured** (``requests_per_minute`` = R): a bucket of ``burst`` = R // 60
  tokens (at least one) refilled so that ``burst + 60 * rate`` is 98 % of R. A
  token bucket never lets more than ``burst + 60 * rate`` requests out in any
  60 s window, so arrivals stay under R with room for network jitter.
* **Not configured**: the first few requests go at once (``OPENING_BURST``);
  the first answer decides. An ``x-ratelimit-limit-requests`` header sets the
  rate as if configured, at 97 %; no header means no known limit, and requests
  go freely until a 429 says otherwise.
* ``x-ratelimit-remaining-requests`` caps the bucket at what the gateway says
  is left, minus the requests sent after the one it answers (still on their way).
* **A 429** pauses every request on the key for its ``Retry-After`` and
  halves the rate, taken from what was really sent over the last seconds (a
  pace that was not used proves nothing). Only once per round: 429s to
  requests sent before the cut do not cut again, and a 429 before any success
  in the last minute only pauses (it says nothing of the rate). Never below
  half the best rate the gateway accepted over a minute lately (fading over a minute), so
  429s that do not come from a rate limit (a gateway's hiccups) slow a batch
  down without stalling it.
* **Recovery**: after ``ROUND_SECONDS`` worth of successes in a row at the pace
  (at least ``ROUND_MIN``), if the pace was in use (at least 60 % of it really
  sent), the rate climbs each round halfway back to the one that drew the last
  429 (while under 95 % of it), then past it by ``PROBE_STEP`` of it at a time,
  never above the configured or announced limit.
"""

from __future__ import annotations

import math
import re
from collections import deque
from dataclasses import dataclass, field

import httpx

#: Share of a configured limit that pacing aims at.
CONFIGURED_SHARE = 0.98
#: Share of a limit announced in ``x-ratelimit-limit-requests``.
ANNOUNCED_SHARE = 0.97
#: Requests let out at once before any answer has told the limit.
OPENING_BURST = 4.0
#: Pace (requests a second) until the first answer arrives, when nothing is configured.
OPENING_RATE = 8.0
#: The slowest a run of 429s can make the pace (requests a second): 3 a minute.
MIN_RATE = 0.05
#: Seconds of sending over which the real rate is measured.
MEASURE_SECONDS = 10.0
#: Successes in a row (at least ROUND_MIN, else ROUND_SECONDS of them at the pace) before the pace rises.
ROUND_MIN = 8.0
ROUND_SECONDS = 3.0
#: Share of the last 429's rate by which the pace rises past it.
PROBE_STEP = 0.02
#: Seconds over which the accepted rate is taken that a 429 never cuts below half of.
ACCEPTED_SECONDS = 60.0
#: Answers in a row without rate headers after which an announced limit is forgotten.
FORGET_AFTER = 50


def pace_for(limit_per_minute: float, share: float) -> tuple[float, float]:
    """(burst, requests a second) that keep any 60 s window under ``share`` of the limit."""
    burst = max(1.0, float(int(limit_per_minute // 60)))
    target = share * limit_per_minute
    return burst, max(target - burst, target / 2) / 60.0


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def parse_duration(text: str | None) -> float | None:
    """Seconds in ``x-ratelimit-reset-*``: ``"1s"``, ``"6m0s"``, ``"120ms"``, ``"1h2m3.5s"`` or ``"2.5"``."""
    if not text:
        return None
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        parts = _DURATION.findall(text)
        if not parts or "".join(n + u for n, u in parts) != text:
            return None
        scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
        value = sum(float(number) * scale[unit] for number, unit in parts)
    return value if math.isfinite(value) and value >= 0 else None


def _per_second(times: deque[float], now: float) -> float:
    """Events a second in ``times`` over the last ``MEASURE_SECONDS`` (at least 1 s); drops older ones."""
    while times and times[0] < now - MEASURE_SECONDS:
        times.popleft()
    return len(times) / max(1.0, now - times[0]) if times else 0.0


@dataclass(frozen=True)
class RateHeaders:
    """What an answer's ``x-ratelimit-*-requests`` headers say (None where absent)."""

    limit: int | None = None
    remaining: int | None = None
    reset: float | None = None

    @classmethod
    def read(cls, headers: httpx.Headers) -> RateHeaders:
        """Parse them leniently: a malformed value counts as absent."""

        def integer(name: str) -> int | None:
            try:
                return int(float(headers.get(name, "")))
            except ValueError:
                return None

        return cls(
            integer("x-ratelimit-limit-requests"),
            integer("x-ratelimit-remaining-requests"),
            parse_duration(headers.get("x-ratelimit-reset-requests")),
        )

    @property
    def present(self) -> bool:
        return self.limit is not None or self.remaining is not None


@dataclass
class TokenBucket:
    """One key's request rate: a token bucket. Times are monotonic seconds, given by the caller.

    ``rate`` None means no limit is known and requests go freely.
    """

    rate: float | None = OPENING_RATE
    burst: float = OPENING_BURST
    tokens: float = OPENING_BURST
    updated: float | None = None
    configured: int | None = None
    announced: int | None = None
    peak: float | None = None  # the real rate that drew the last 429
    paused_until: float = 0.0
    sent: int = 0
    answered: bool = False
    cut_after: int = 0  # a 429 to a request sent at or before this number does not cut again
    successes: int = 0
    bare_answers: int = 0
    recent: deque[float] = field(default_factory=deque)
    accepted: deque[float] = field(default_factory=deque)
    best: float = 0.0  # the highest accepted rate lately, fading over ACCEPTED_SECONDS
    best_at: float = 0.0

    # -- limits ------------------------------------------------------------------

    @property
    def cap(self) -> float | None:
        """The highest pace allowed: the configured or announced limit's, whichever is lower."""
        paces = [pace_for(self.configured, CONFIGURED_SHARE)[1]] if self.configured else []
        if self.announced:
            paces.append(pace_for(self.announced, ANNOUNCED_SHARE)[1])
        return min(paces) if paces else None

    def configure(self, requests_per_minute: int, now: float) -> None:
        """Never exceed ``requests_per_minute`` in any 60 s window."""
        self._refill(now)
        self.configured = requests_per_minute
        self._limits_changed()

    def _limits_changed(self) -> None:
        bursts = [pace_for(n, CONFIGURED_SHARE)[0] for n in (self.configured, self.announced) if n]
        self.burst = min(bursts) if bursts else (1.0 if self.peak is not None else OPENING_BURST)
        self.tokens = min(self.tokens, self.burst)
        cap = self.cap
        if cap is None:
            return
        # Until a 429 proved otherwise, the limit is the pace; after one, never above it.
        self.rate = cap if self.rate is None or self.peak is None else min(self.rate, cap)

    # -- sending -----------------------------------------------------------------

    def wait(self, now: float) -> float:
        """Seconds until one request may go (0: now)."""
        if now < self.paused_until:
            return self.paused_until - now
        if self.rate is None:
            return 0.0
        self._refill(now)
        short = 1.0 - self.tokens
        return 0.0 if short <= 1e-9 else short / self.rate  # no sleep too short to pass

    def take(self, now: float) -> int:
        """Spend one token; returns the request's number (to match its answer later)."""
        self._refill(now)
        self.sent += 1
        if self.rate is not None:
            self.tokens -= 1.0
        self.recent.append(now)
        while self.recent and self.recent[0] < now - MEASURE_SECONDS:
            self.recent.popleft()
        return self.sent

    def measured(self, now: float) -> float:
        """Requests really sent a second, over the last ``MEASURE_SECONDS`` (at least 1 s)."""
        return _per_second(self.recent, now)

    def accepted_rate(self, now: float) -> float:
        """Requests answered with anything but a 429, a second, over the last minute (at least 10 s)."""
        while self.accepted and self.accepted[0] < now - ACCEPTED_SECONDS:
            self.accepted.popleft()
        return len(self.accepted) / max(10.0, now - self.accepted[0]) if self.accepted else 0.0

    def _best(self, now: float) -> float:
        return self.best * math.exp(-max(0.0, now - self.best_at) / ACCEPTED_SECONDS)

    def _refill(self, now: float) -> None:
        if self.updated is not None and now <= self.updated:
            return  # an earlier time (callers on other threads): never count an interval twice
        if self.updated is not None and self.rate is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        elif self.rate is None:
            self.tokens = self.burst
        self.updated = now

    # -- answers -----------------------------------------------------------------

    def answer(self, number: int, status: int, headers: RateHeaders, now: float) -> None:
        """Learn from the answer to request ``number`` (any status but a transport failure)."""
        first, self.answered = not self.answered, True
        self._refill(now)
        if headers.present:
            self.bare_answers = 0
        else:
            self.bare_answers += 1
            if self.announced and self.bare_answers >= FORGET_AFTER:
                self.announced = None  # the gateway stopped announcing: its limit may be gone
                if self.configured is None and self.peak is None:
                    self.rate = None
                self._limits_changed()
        if headers.limit is not None and headers.limit > 0 and headers.limit != self.announced:
            self.announced = headers.limit
            self._limits_changed()
        if headers.remaining is not None and self.rate is not None:
            self.tokens = min(self.tokens, headers.remaining - (self.sent - number))
        if first and status != 429 and self.configured is None and self.announced is None and self.peak is None:
            self.rate = None  # no limit announced: go freely until a 429 says otherwise
        if status != 429:
            self._succeeded(now)

    def _succeeded(self, now: float) -> None:
        self.accepted.append(now)
        self.best = max(self.accepted_rate(now), self._best(now))
        self.best_at = now
        self.successes += 1
        if self.rate is None or self.successes < max(ROUND_MIN, ROUND_SECONDS * self.rate):
            return
        self.successes = 0
        cap = self.cap
        if (cap is not None and self.rate >= cap) or self.measured(now) < 0.6 * self.rate:
            return  # at the limit, or not using the pace: nothing says it could be higher
        peak = self.peak or self.rate
        if self.rate < 0.95 * peak:
            self.rate += (peak - self.rate) / 2  # back quickly towards where the last 429 came
        else:
            self.rate += max(PROBE_STEP * peak, MIN_RATE)  # past it, carefully
        if cap is not None:
            self.rate = min(self.rate, cap)

    def rate_limited(self, number: int, retry_after: float | None, now: float) -> bool:
        """A 429 to request ``number``: pause everyone, and cut the pace once per round.

        Returns True when the pace was cut.
        """
        self._refill(now)
        self.successes = 0
        pause = retry_after if retry_after is not None else (1.0 / self.rate if self.rate else 1.0)
        self.paused_until = max(self.paused_until, now + pause)
        self.tokens = min(self.tokens, 0.0)
        if number <= self.cut_after or not self.accepted_rate(now):
            return False  # cut once per round; and before any success a pause is all it can tell
        real = self.measured(now)
        self.peak = max(MIN_RATE, min(self.rate, real) if self.rate is not None else real)
        self.rate = max(MIN_RATE, self.peak / 2, self._best(now) / 2)
        if self.cap is not None:
            self.rate = min(self.rate, self.cap)
        self.burst = min(self.burst, max(1.0, self.rate))
        self.tokens = min(self.tokens, 0.0)
        self.cut_after = self.sent
        return True
