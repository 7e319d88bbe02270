"""Per-key rate limits the way gateways enforce them: an rpm token bucket, plus per-key traffic peaks.

Each key (the bearer token or the ``api-key`` header; requests without one share the
label ``anonymous``) has a bucket of `rpm_burst` tokens refilled at rpm/60 tokens a second.
Every `/v1` request takes a token; with none left the answer is a 429 and the request
takes nothing. Keys are never stored or shown: each is known by ``key-`` + the first 8 hex
digits of its SHA-256.

Besides the bucket, every key's arrivals are kept for one sliding minute (a deque trimmed
on each arrival), which gives the peak requests per minute (accepted or refused) and the
peak of those answered with something other than a 429. Pure bookkeeping: the caller
holds the lock and passes the time.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter, deque
from dataclasses import dataclass

ANONYMOUS = "anonymous"
_LABEL_CACHE_SIZE = 4096


def key_label(key: str | bytes | None) -> str:
    """How a key is shown in stats and messages: never the key itself."""
    if not key:
        return ANONYMOUS
    raw = key if isinstance(key, bytes) else key.encode()
    return "key-" + hashlib.sha256(raw).hexdigest()[:8]


def go_duration(seconds: float) -> str:
    """A wait as OpenAI writes it in `x-ratelimit-reset-*`: ``120ms``, ``1.5s``, ``6m0s``, ``1h2m3s``."""
    ms = max(0, math.ceil(seconds * 1000 - 1e-6))
    if ms == 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs = f"{rest / 1000:.3f}".rstrip("0").rstrip(".")
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


@dataclass(frozen=True, slots=True)
class Admission:
    """The bucket's verdict on one request, and what the `x-ratelimit-*` headers say."""

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: float
    retry_after_seconds: float

    def headers(self) -> list[tuple[bytes, bytes]]:
        """The `x-ratelimit-*-requests` headers for this answer."""
        return [
            (b"x-ratelimit-limit-requests", str(self.limit).encode()),
            (b"x-ratelimit-remaining-requests", str(self.remaining).encode()),
            (b"x-ratelimit-reset-requests", go_duration(self.reset_seconds).encode()),
        ]


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class Limits:
    """Buckets and per-key traffic counters of one emulator (not thread-safe on its own)."""

    def __init__(self, *, window_seconds: float = 60.0) -> None:
        # The window is a parameter so tests can watch it slide without waiting a minute.
        self.window_seconds = window_seconds
        self._labels: dict[bytes, str] = {}
        self._buckets: dict[str, _Bucket] = {}
        self._arrivals: dict[str, deque[float]] = {}
        self._accepted: dict[str, deque[float]] = {}
        self.requests_by_key: Counter[str] = Counter()
        self.peak_requests: Counter[str] = Counter()
        self.peak_accepted: Counter[str] = Counter()

    def label(self, key: bytes | None) -> str:
        """`key_label`, cached: hashing on every poll would cost more than the poll."""
        if not key:
            return ANONYMOUS
        label = self._labels.get(key)
        if label is None:
            if len(self._labels) >= _LABEL_CACHE_SIZE:
                self._labels.clear()
            label = self._labels[key] = key_label(key)
        return label

    def _slide(self, times: dict[str, deque[float]], peaks: Counter[str], label: str, now: float) -> None:
        window = times.get(label)
        if window is None:
            window = times[label] = deque()
        window.append(now)
        cutoff = now - self.window_seconds
        while window[0] <= cutoff:
            window.popleft()
        if len(window) > peaks[label]:
            peaks[label] = len(window)

    def arrive(self, label: str, now: float) -> None:
        """Count a request of `label` that arrived at `now`."""
        self.requests_by_key[label] += 1
        self._slide(self._arrivals, self.peak_requests, label, now)

    def answered(self, label: str, now: float) -> None:
        """Count a request of `label` answered (at `now`) with anything but a 429."""
        self._slide(self._accepted, self.peak_accepted, label, now)

    def admit(self, label: str, now: float, *, rpm: int, capacity: int) -> Admission:
        """Take a token from `label`'s bucket if there is one."""
        rate = rpm / 60.0
        bucket = self._buckets.get(label)
        if bucket is None:
            bucket = self._buckets[label] = _Bucket(tokens=float(capacity), updated=now)
        elapsed = max(0.0, now - bucket.updated)
        bucket.tokens = min(float(capacity), bucket.tokens + elapsed * rate)
        bucket.updated = now
        allowed = bucket.tokens >= 1.0
        if allowed:
            bucket.tokens -= 1.0
        retry_after = 0.0 if allowed else (1.0 - bucket.tokens) / rate
        return Admission(
            allowed=allowed,
            limit=rpm,
            remaining=int(bucket.tokens),
            reset_seconds=(capacity - bucket.tokens) / rate,
            retry_after_seconds=retry_after,
        )

    def refill(self) -> None:
        """Forget every bucket (the limits changed): each key starts full again."""
        self._buckets.clear()

    def snapshot(self) -> dict[str, object]:
        """The per-key counters, JSON-ready."""
        return {
            "requests_by_key": dict(self.requests_by_key),
            "peak_requests_per_minute": dict(self.peak_requests),
            "peak_accepted_per_minute": dict(self.peak_accepted),
        }
