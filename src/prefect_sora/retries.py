"""When to retry an HTTP request, and how long to wait first.

Pure functions, so the policy is unit-testable without a server. Reads
(GET, DELETE) are retried on 429, 5xx and transport errors. A create (POST)
is retried only when it provably did not reach the service (429, a refused
connection); any other failure of a create is ambiguous, and the client looks
the job up before it would pay again.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import httpx

#: Transport errors raised before the request could reach the server.
NOT_SENT_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.UnsupportedProtocol,
)

# Not 409: the API answers it for content or a remix of a job that is not completed
# (or failed), which is ContentNotReady, an InvalidRequest; retrying cannot fix it.
RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How many times, and how patiently, to retry transient failures.

    Attributes:
        max_retries: Retries after the first attempt (0 disables retrying).
        backoff_base: First backoff in seconds; doubles each attempt.
        backoff_max: Cap of one backoff in seconds.
        max_retry_after: Longest ``Retry-After`` the client will sleep for; a
            longer one is raised as :class:`~prefect_sora.errors.RateLimited`.
    """

    max_retries: int = 4
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    max_retry_after: float = 60.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based).

        A server hint wins; otherwise full jitter over an exponential ceiling,
        so that many clients rate limited together do not return together.
        """
        if retry_after is not None:
            return max(0.0, retry_after)
        ceiling = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
        return self.rng.uniform(ceiling / 2, ceiling)


def retry_after_seconds(headers: httpx.Headers) -> float | None:
    """The server's hint from ``retry-after-ms`` or ``retry-after`` (seconds), if any.

    HTTP-date forms of Retry-After are ignored (the backoff applies instead).
    """
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            value = float(raw) / scale
        except ValueError:
            continue
        if value == value and value >= 0:  # not NaN
            return value
    return None
