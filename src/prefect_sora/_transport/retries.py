"""What to do after each HTTP attempt, and how long to wait first.

Pure functions, so the policy is unit-testable without a server. The client's
one retry loop asks :func:`classify` what an attempt's outcome (an HTTP status
or a transport exception) means for its method:

* a 429 is back-pressure, not a failure: the request waits as the gateway
  and the pacer say (:mod:`prefect_sora._pacing.pacer`) and goes again without
  spending a retry, for as long as ``rate_limit_patience`` allows (a 429 is
  refused before any work, so even a create is safe to send again);
* reads (GET, DELETE) are retried on 408, 5xx and transport errors;
* a create (POST) is sent again only when it provably did not reach the
  service (a refused connection); any other failure of a create is
  ambiguous: the job may exist, so the client looks it up before it would
  pay again (:mod:`prefect_sora._transport.reconcile`);
* everything else (4xx) is final.

This is the only place a transport fault (5xx, reset, refused connection,
timeout) is retried: :class:`RetryPolicy` gives each request a limit of
attempts and of seconds, and a caller's deadline (a wait's) caps it further.
Layers above never retry what the client gave up on (:func:`retries_spent`
tells them); a task retries only while a job is pending.
"""

from __future__ import annotations

import enum
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

#: Statuses after which the same request may succeed later.
TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
#: Statuses that say the service may still be working on the request.
STILL_WORKING_STATUS = frozenset({408, 504})
_READS = frozenset({"GET", "HEAD", "DELETE"})


class Action(enum.Enum):
    """What the client does after one attempt."""

    RETURN = "return"  # a success: hand the response back
    BACK_OFF = "back_off"  # a 429: wait for the pace and send again, without spending a retry
    RETRY = "retry"  # provably safe to send again, after a backoff
    LOOK_UP = "look_up"  # a create that may have made a job: look for it before sending again
    RAISE = "raise"  # final: raise the translated error


@dataclass(frozen=True)
class Verdict:
    """:func:`classify`'s answer.

    Attributes:
        action: What to do next.
        still_working: For ``LOOK_UP``: the service may still turn the request
            into a job (a timeout), so look patiently and never resend blindly.
    """

    action: Action
    still_working: bool = False


def classify(method: str, outcome: int | BaseException) -> Verdict:
    """What an attempt's outcome (HTTP status or transport exception) means for ``method``."""
    read = method.upper() in _READS
    if isinstance(outcome, BaseException):
        if not isinstance(outcome, httpx.TransportError):
            return Verdict(Action.RAISE)
        if read or isinstance(outcome, NOT_SENT_ERRORS):
            return Verdict(Action.RETRY)
        return Verdict(Action.LOOK_UP, still_working=isinstance(outcome, (httpx.ReadTimeout, httpx.WriteTimeout)))
    if outcome < 300:
        return Verdict(Action.RETURN)
    if outcome not in TRANSIENT_STATUS:
        return Verdict(Action.RAISE)
    if outcome == 429:  # refused before any work (never a job): back-pressure, not failure
        return Verdict(Action.BACK_OFF)
    if read:
        return Verdict(Action.RETRY)
    return Verdict(Action.LOOK_UP, still_working=outcome in STILL_WORKING_STATUS)


@dataclass(frozen=True)
class RetryPolicy:
    """How many times, and how patiently, to retry transient failures.

    Attributes:
        max_retries: Retries after the first attempt (0 disables retrying).
        window_seconds: Seconds from a request's first fault after which no retry
            begins: a backoff that would end later is not slept, the error is raised
            (each attempt still gets up to one request timeout).
        backoff_base: First backoff in seconds; doubles each attempt.
        backoff_max: Cap of one backoff in seconds.
        max_retry_after: Longest ``Retry-After`` the client will sleep for; a
            longer one is raised as :class:`~prefect_sora._errors.RateLimited`.
        rate_limit_patience: Seconds one request keeps going again after 429s
            (which spend no retries) before it raises
            :class:`~prefect_sora._errors.RateLimited`.
    """

    max_retries: int = 4
    window_seconds: float = 60.0
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    max_retry_after: float = 60.0
    rate_limit_patience: float = 900.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based).

        A server hint wins; otherwise a random wait between half and all of an
        exponential ceiling, so that many clients failing together do not return together.
        """
        if retry_after is not None:
            return max(0.0, retry_after)
        ceiling = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
        return self.rng.uniform(ceiling / 2, ceiling)


#: Set on an error the client raises after spending its retries on it.
_SPENT = "_retry_window_spent"


def mark_spent(error: BaseException) -> BaseException:
    """Note on ``error`` that the client's retry loop already had its go at it; returns it."""
    setattr(error, _SPENT, True)
    return error


def retries_spent(error: BaseException | None) -> bool:
    """Whether the client already retried ``error`` (or found it final): layers above must not retry it.

    A transient error not so marked never went through the retry loop, such as
    a download whose body was cut short after its headers arrived.
    """
    return bool(getattr(error, _SPENT, False))


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
