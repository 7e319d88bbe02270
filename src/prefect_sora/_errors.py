"""One error hierarchy for everything that can go wrong talking to a Sora 2 API.

Classes are grouped by what the caller does next::

    SoraError
    ├── InvalidRequest ............ fix the request (HTTP 400/409/422)
    │   ├── InvalidParameter ...... refused locally, before any HTTP request
    │   ├── ContentNotReady ....... content asked for before the job completed
    │   └── BudgetExceeded ........ the estimate is over the caller's max_cost_usd
    ├── AuthenticationFailed ...... fix the key (HTTP 401/403)
    ├── VideoNotFound ............. the id is unknown to the service (HTTP 404)
    ├── TransientError ............ wait and retry
    │   ├── RateLimited ........... HTTP 429; carries retry_after
    │   ├── ServerError ........... HTTP 5xx
    │   └── TransportError ........ connection reset, timeout, protocol error
    ├── SubmissionUncertain ....... a create may or may not have reached the service
    ├── UnexpectedResponse ........ the server answered with something that is not the API
    │   └── UnknownStatus ......... a status never seen before outlasted its grace period
    ├── InvalidContent ............ a download was not the video it claimed to be
    ├── JobPending ................ not terminal yet; await_video retries on it
    ├── JobFailed ................. the job ended failed/error/rejected (not billed); code, message, status
    │   └── JobCancelled .......... the job was cancelled (not billed); resubmit if still wanted
    ├── WaitTimeout ............... the wait's deadline passed; resume with video_id
    ├── ContentExpired ............ the download window is over (also a job whose status is `expired`)
    ├── VideoDefective ............ stored, but not the video paid for; kept as evidence for a refund claim
    ├── SpendLimitReached ......... the key's shared spend limit has no room for this job now; nothing was sent
    ├── ApprovalDenied ............ a person denied the run's estimate, or nobody answered in time; nothing was created
    ├── VideoNotStored ............ a flow's video did not end stored; carries its result
    └── BatchIncomplete ........... some videos of a batch did not end stored; carries the BatchResult

Every error carries ``video_id``, ``status_code`` and ``request_id`` as attributes
(None where they do not apply). Messages are built from the service's answer and
our own parameters only; the API key is never part of one.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def _restore(cls: type[SoraError], args: tuple[Any, ...], state: dict[str, Any]) -> SoraError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class SoraError(Exception):
    """Base class of every error raised by prefect-sora."""

    def __init__(
        self,
        message: str,
        *,
        video_id: str | None = None,
        status_code: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.video_id = video_id
        self.status_code = status_code
        self.request_id = request_id

    def __reduce__(self) -> tuple[Any, ...]:
        # Prefect pickles exceptions into states and results; keyword-only
        # attributes would be lost by Exception's default reduce.
        return (_restore, (type(self), self.args, dict(self.__dict__)))

    def __str__(self) -> str:
        context = [
            f"{name}={value}"
            for name, value in (
                ("video_id", self.video_id),
                ("status_code", self.status_code),
                ("request_id", self.request_id),
            )
            if value is not None
        ]
        return f"{self.message} ({', '.join(context)})" if context else self.message


class InvalidRequest(SoraError):
    """The service refused the request as malformed; change it before trying again."""

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.param = param
        self.code = code


class InvalidParameter(InvalidRequest, ValueError):
    """A parameter was refused locally, before any HTTP request was made."""

    def __init__(self, param: str, value: Any, allowed: str) -> None:
        shown = repr(value)
        if len(shown) > 80:
            shown = f"{shown[:60]}... ({len(str(value))} characters)"
        super().__init__(f"Invalid {param}={shown}: {allowed}", param=param, code="invalid_parameter")
        self.value = value
        self.allowed = allowed


class ContentNotReady(InvalidRequest):
    """Content was requested before the job completed."""


class BudgetExceeded(InvalidRequest):
    """The cost estimate exceeds the caller's budget; nothing was submitted."""

    def __init__(self, estimated_usd: Decimal, max_cost_usd: Decimal) -> None:
        super().__init__(
            f"Estimated cost ${estimated_usd} exceeds max_cost_usd=${max_cost_usd}; nothing was submitted",
            code="budget_exceeded",
        )
        self.estimated_usd = estimated_usd
        self.max_cost_usd = max_cost_usd


class AuthenticationFailed(SoraError):
    """The API key was missing, malformed or refused."""


class VideoNotFound(SoraError):
    """The service does not know this video id."""


class TransientError(SoraError):
    """A failure that may succeed if the same request is tried again later."""


class RateLimited(TransientError):
    """HTTP 429: too many requests (or jobs); ``retry_after`` seconds is the service's hint, ``code`` its reason."""

    def __init__(self, message: str, *, retry_after: float | None = None, code: str | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after
        self.code = code


class ServerError(TransientError):
    """HTTP 5xx from the service or a gateway in front of it."""


class TransportError(TransientError):
    """The connection failed, was reset, or timed out before a full answer arrived."""


class SubmissionUncertain(SoraError):
    """A create request failed in a way that leaves open whether a job was made.

    Not retried blindly, since a second create could pay twice. Rerunning with
    the same idempotency key looks the job up before submitting again.
    ``may_still_be_processing`` is True when the create timed out rather than
    being refused, so the service may still turn it into a job.
    """

    def __init__(self, message: str, *, may_still_be_processing: bool = False, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.may_still_be_processing = may_still_be_processing


class UnexpectedResponse(SoraError):
    """The server answered with something that does not follow the API."""


class UnknownStatus(UnexpectedResponse):
    """A job kept a status nobody documented for longer than the grace period; ``status`` names it."""

    def __init__(self, message: str, *, status: str | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.status = status


class InvalidContent(SoraError):
    """A download's type, length or bytes do not match what was asked for; nothing was stored."""


class _NotTerminal(SoraError):
    """Shared shape of the two "still running" errors: the status and progress last seen.

    Not a public base: retrying on JobPending must never also retry a WaitTimeout.
    """

    def __init__(self, message: str, *, status: str | None = None, progress: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.status = status
        self.progress = progress


class JobPending(_NotTerminal):
    """The job is still queued or in progress; ``await_video`` retries while this is raised."""


class JobFailed(SoraError):
    """The job ended ``failed`` (or ``error``, ``rejected``); not billed, may be resubmitted.

    ``code`` and the message are the service's; ``status`` is the word it sent.
    """

    def __init__(self, message: str, *, code: str | None = None, status: str | None = "failed", **kw: Any) -> None:
        super().__init__(message, **kw)
        self.code = code
        self.status = status


class JobCancelled(JobFailed):
    """The job was cancelled (``cancelled`` / ``canceled``) before it made a video; not billed."""


class WaitTimeout(_NotTerminal):
    """The job did not reach a terminal status before the deadline; it may still finish."""


class ContentExpired(SoraError):
    """The video's download window is over; the content cannot be fetched any more."""


class VideoDefective(SoraError):
    """The stored video is not the one paid for (duration, size, no video track, samples past its end).

    The file is kept at ``result.url`` (it was paid for); ``problems`` names, for
    each check that failed, what was expected and what was found.
    """

    def __init__(self, message: str, *, result: Any = None, problems: list[str] | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.result = result
        self.problems = list(problems or [])


class SpendLimitReached(SoraError):
    """The spend limit shared on the Prefect server has no room for this job's estimate; nothing was sent.

    Not billed. ``limit_name`` names the limit, ``needed_usd`` the job's estimate and
    ``remaining_usd`` what the window had left (None if it could not be read). Rerun with
    the same idempotency key once the window has room again (or the limit is raised).
    """

    def __init__(
        self,
        message: str,
        *,
        limit_name: str,
        needed_usd: Decimal | None = None,
        remaining_usd: Decimal | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(message, **kw)
        self.code = "spend_limit_reached"
        self.limit_name = limit_name
        self.needed_usd = needed_usd
        self.remaining_usd = remaining_usd


class ApprovalDenied(SoraError):
    """The run's estimate was over ``approve_over_usd`` and was not approved; nothing was created.

    ``note`` is what the person who denied it wrote; ``timed_out`` is True when nobody
    answered within the approval's timeout.
    """

    def __init__(
        self,
        message: str,
        *,
        estimated_usd: Decimal | None = None,
        note: str = "",
        timed_out: bool = False,
        **kw: Any,
    ) -> None:
        super().__init__(message, **kw)
        self.estimated_usd = estimated_usd
        self.note = note
        self.timed_out = timed_out


class VideoNotStored(SoraError):
    """A single-video flow's video did not end stored; ``result`` keeps its id, status and cost.

    ``reason`` names the error underneath (``JobFailed``, ``WaitTimeout`` ...).
    """

    def __init__(self, message: str, *, result: Any = None, reason: str | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.result = result
        self.reason = reason


class BatchIncomplete(SoraError):
    """Some videos of a batch did not end stored; ``result`` is the ``BatchResult`` with every item's id and reason."""

    def __init__(self, message: str, *, result: Any = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.result = result


__all__ = [
    "ApprovalDenied",
    "AuthenticationFailed",
    "BatchIncomplete",
    "BudgetExceeded",
    "ContentExpired",
    "ContentNotReady",
    "InvalidContent",
    "InvalidParameter",
    "InvalidRequest",
    "JobCancelled",
    "JobFailed",
    "JobPending",
    "RateLimited",
    "ServerError",
    "SoraError",
    "SpendLimitReached",
    "SubmissionUncertain",
    "TransientError",
    "TransportError",
    "UnexpectedResponse",
    "UnknownStatus",
    "VideoDefective",
    "VideoNotFound",
    "VideoNotStored",
    "WaitTimeout",
]
