"""A typed async client for the Sora 2 Videos API, for any OpenAI-compatible base URL.

This is the only module that speaks HTTP to the service. It translates every
failure into :mod:`prefect_sora._errors` at the boundary, retries what is safe to
retry (see :mod:`prefect_sora._transport.retries`), and never pays twice for a create: when
a create fails ambiguously it looks the job up before submitting again.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

import httpx
from pydantic import ValidationError

from prefect_sora._errors import RateLimited, SoraError, SubmissionUncertain, UnexpectedResponse
from prefect_sora._models import DeletedVideo, ImageReference, ImageUpload, Video, VideoList, VideoRequest, VideoVariant
from prefect_sora._pacing.pacer import Priority, pacer_for
from prefect_sora._transport import hints
from prefect_sora._transport.derived import DerivedJobs
from prefect_sora._transport.http import (
    BODY_ARGUMENTS,
    CONTENT_HEADERS,
    REDIRECT_STATUSES,
    GatedTransport,
    Redactor,
    error_from_response,
    next_hop,
    read_json,
    redirect_method,
    request_id,
    transport_error,
)
from prefect_sora._transport.reconcile import look_for_job
from prefect_sora._transport.retries import Action, RetryPolicy, classify, mark_spent, retry_after_seconds
from prefect_sora._validation import (
    check_base_url,
    check_gateway_headers,
    check_pacing,
    check_remix_source,
    check_video_id,
    id_segment,
)
from prefect_sora._version import __version__

logger = logging.getLogger("prefect_sora._transport.client")

DEFAULT_BASE_URL = "https://api.apiyi.com/v1"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
#: Requests in flight per client; more wait their turn (see GatedTransport).
MAX_CONNECTIONS = 64


@dataclass(frozen=True)
class Polled:
    """One status read: the job and the server's hint of when to ask again."""

    video: Video
    poll_after: float | None


@dataclass(frozen=True)
class ContentStream:
    """An open content download: headers checked, body not yet read."""

    video_id: str
    variant: VideoVariant
    content_type: str
    content_length: int | None
    request_id: str | None
    response: httpx.Response

    def iter_bytes(self, chunk_size: int = 1 << 20) -> AsyncIterator[bytes]:
        """The body, in chunks of about ``chunk_size`` bytes."""
        return self.response.aiter_bytes(chunk_size)


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    # Building an SSL context costs CPU each time; a batch opens many clients.
    return httpx.create_ssl_context()


class SoraClient(DerivedJobs):
    """Async client of ``/videos``; use as ``async with SoraClient(...) as client``.

    Every endpoint here (and the extensions, edits and characters it inherits
    from :class:`~prefect_sora._transport.derived.DerivedJobs`) is marked deprecated in
    OpenAI's schema since the official endpoint shut down; gateways serve them.

    Args:
        api_key: The API key. Kept private: never logged, never in a message.
        base_url: The API root including ``/v1``, e.g. ``https://api.apiyi.com/v1``.
        timeout: httpx timeout for each request.
        retry: The retry policy for transient failures.
        allow_insecure_http: Allow ``http://`` to a non-loopback host.
        requests_per_minute: The gateway's limit for this key; requests are paced to
            stay under it in every minute. None: learned from the gateway's answers.
        max_running_jobs: Most jobs of this process running at once; a create waits.
        rate_limit_name: A Prefect global concurrency limit with slot decay that every
            request also takes a slot of, so several processes share one limit.
        auth_header: ``"authorization"`` sends ``Authorization: Bearer KEY`` (OpenAI,
            APIYI, LiteLLM); ``"api-key"`` sends ``api-key: KEY`` (Azure OpenAI).
        extra_headers: Sent with every request to the API's origin (never across a
            redirect to another host); treated as secrets.
        default_query: Query parameters sent with every request, e.g. Azure's ``api-version``.
        deployments: ``{model: deployment}``: the name sent as ``model`` (Azure routes
            by deployment); jobs echoing a deployment name are read back as its model.
        unknown_status_grace: Seconds a status never seen before counts as pending.

    Example:
        ```python
        from prefect_sora._transport.client import SoraClient

        async with SoraClient(api_key="sk-...", base_url="http://127.0.0.1:8000/v1") as client:
            video = await client.retrieve_video("video_123")
        ```
    """

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        allow_insecure_http: bool = False,
        auth_header: Literal["authorization", "api-key"] = "authorization",
        extra_headers: Mapping[str, str] | None = None,
        default_query: Mapping[str, str] | None = None,
        deployments: Mapping[str, str] | None = None,
        unknown_status_grace: float = 900.0,
        requests_per_minute: int | None = None,
        max_running_jobs: int | None = None,
        rate_limit_name: str | None = None,
    ) -> None:
        check_pacing(
            requests_per_minute=requests_per_minute, max_running_jobs=max_running_jobs, rate_limit_name=rate_limit_name
        )
        self.base_url = check_base_url(base_url, allow_insecure_http=allow_insecure_http)
        # One request pace per key and base URL, shared with every other client of this process.
        self._pacer = pacer_for(api_key, self.base_url)
        self._pacer.configure(
            requests_per_minute=requests_per_minute, max_running_jobs=max_running_jobs, rate_limit_name=rate_limit_name
        )
        self.retry = retry or RetryPolicy()
        self._api_key = api_key
        self._auth = _auth_headers(auth_header, api_key, check_gateway_headers(extra_headers or {}))
        self._default_query = dict(default_query or {})
        self._deployments = dict(deployments or {})
        self._models = {deployment: model for model, deployment in self._deployments.items()}
        self.unknown_status_grace = unknown_status_grace
        self._redact = Redactor(api_key, *(extra_headers or {}).values())
        self._allow_insecure_http = allow_insecure_http
        limits = httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS // 2)
        transport = httpx.AsyncHTTPTransport(verify=_ssl_context(), limits=limits)
        # Redirects are followed by hand so the bearer never leaves the API's origin.
        self._http = httpx.AsyncClient(
            timeout=timeout,
            follow_redirects=False,
            headers={"User-Agent": f"prefect-sora/{__version__}"},
            transport=GatedTransport(transport, MAX_CONNECTIONS),
        )
        self._issued: set[str] = set()
        #: One request's longest time: what an attempt begun just before a deadline may add to it.
        parts = (self._http.timeout.connect, self._http.timeout.read, self._http.timeout.write, self._http.timeout.pool)
        self._request_timeout = max((part for part in parts if part is not None), default=None)

    def __repr__(self) -> str:
        return f"SoraClient(base_url={self.base_url!r})"

    async def __aenter__(self) -> SoraClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    # -- the API ---------------------------------------------------------------

    async def create_video(
        self,
        request: VideoRequest,
        *,
        input_reference: ImageUpload | ImageReference | None = None,
        idempotency_key: str | None = None,
        exclude_ids: frozenset[str] = frozenset(),
    ) -> Video:
        """``POST /videos``: submit a job. The request must already be validated.

        A create that fails in a way that leaves open whether the job was made
        (a 5xx, a reset or a timeout after sending) is looked up with
        ``GET /videos`` before it is sent again; ids in ``exclude_ids`` (and
        those this client already returned) are never adopted.

        Raises:
            SubmissionUncertain: the create failed ambiguously and the lookup could not settle it.
        """
        # Azure routes by deployment: the name goes out as `model`; prices and checks keep the model.
        fields = {**request.model_dump(), "model": self._deployments.get(request.model, request.model)}
        if isinstance(input_reference, ImageUpload):
            kwargs: dict[str, Any] = {
                "data": fields,
                "files": {
                    "input_reference": (
                        input_reference.filename,
                        input_reference.content,
                        input_reference.content_type,
                    )
                },
            }
        elif isinstance(input_reference, ImageReference):
            kwargs = {"json": {**fields, "input_reference": input_reference.model_dump(exclude_none=True)}}
        else:
            kwargs = {"json": fields}
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return await self._create("/videos", kwargs, headers, request.model_dump(), exclude_ids)

    async def remix_video(
        self,
        video_id: str,
        prompt: str,
        *,
        idempotency_key: str | None = None,
        exclude_ids: frozenset[str] = frozenset(),
    ) -> Video:
        """``POST /videos/{id}/remix``: a new job from a completed one, with a new prompt."""
        path = f"/videos/{id_segment(check_remix_source(video_id))}/remix"
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        match = {"prompt": prompt, "remixed_from_video_id": video_id}
        return await self._create(path, {"json": {"prompt": prompt}}, headers, match, exclude_ids)

    async def poll_video(self, video_id: str, *, due: float | None = None, deadline: float | None = None) -> Polled:
        """``GET /videos/{id}``, with the server's ``openai-poll-after-ms`` hint.

        The job keeps ``video_id`` as its id whatever id the answer echoes (see :func:`known_as`).

        ``due`` is the monotonic time the poll schedule wanted this poll at:
        when the pace holds polls back, the most overdue goes first. ``deadline``
        (monotonic) is the wait's end: no retry of this poll starts after it,
        and the poll is over within one request timeout of it.
        """
        response, body = await self._json(
            "GET", f"/videos/{id_segment(video_id)}", video_id=video_id, due=due, deadline=deadline
        )
        hint = response.headers.get("openai-poll-after-ms")
        try:
            poll_after = float(hint) / 1000 if hint is not None else None
        except ValueError:
            poll_after = None
        video = known_as(self._video(body, response), video_id)
        self._pacer.job_seen(video.id, terminal=video.is_terminal)
        return Polled(video, poll_after)

    async def retrieve_video(self, video_id: str) -> Video:
        """``GET /videos/{id}``: the job's current status."""
        return (await self.poll_video(video_id)).video

    async def list_videos(
        self, *, limit: int = 20, order: Literal["asc", "desc"] = "desc", after: str | None = None
    ) -> VideoList:
        """``GET /videos``: one page of the account's jobs."""
        params: dict[str, Any] = {"limit": limit, "order": order}
        if after:
            params["after"] = after
        response, body = await self._json("GET", "/videos", params=params)
        try:
            page = VideoList.model_validate(body)
        except ValidationError as exc:
            raise UnexpectedResponse("GET /videos did not return a list", request_id=_rid(response)) from exc
        page.data = [self._adopt(video) for video in page.data]
        return page

    async def delete_video(self, video_id: str) -> DeletedVideo:
        """``DELETE /videos/{id}``: remove a completed or failed job and its content."""
        _, body = await self._json("DELETE", f"/videos/{id_segment(video_id)}", video_id=video_id)
        try:
            deleted = DeletedVideo.model_validate(body)
        except ValidationError as exc:
            raise UnexpectedResponse("DELETE did not return a deleted object", video_id=video_id) from exc
        return deleted.model_copy(update={"id": video_id})

    @asynccontextmanager
    async def stream_content(self, video_id: str, variant: VideoVariant = "video") -> AsyncIterator[ContentStream]:
        """``GET /videos/{id}/content?variant=...``, opened for streaming.

        Follows redirects itself and drops the bearer when one leaves the API's origin.

        Raises:
            ContentNotReady, ContentExpired, VideoNotFound, TransientError: as the service answers.
        """
        url = f"{self.base_url}/videos/{id_segment(video_id)}/content"
        response = await self._send("GET", url, params={"variant": variant}, video_id=video_id)
        assert isinstance(response, httpx.Response)
        try:
            yield ContentStream(
                video_id=video_id,
                variant=variant,
                content_type=response.headers.get("content-type", "").split(";")[0].strip().lower(),
                content_length=_int_or_none(response.headers.get("content-length")),
                request_id=_rid(response),
                response=response,
            )
        finally:
            await response.aclose()

    # -- plumbing ----------------------------------------------------------------

    async def _create(
        self,
        path: str,
        kwargs: dict[str, Any],
        headers: Mapping[str, str] | None,
        match: Mapping[str, str],
        exclude_ids: frozenset[str],
    ) -> Video:
        async with self._pacer.job_slot():  # waits while max_running_jobs of ours are running
            outcome = await self._send(
                "POST", f"{self.base_url}{path}", headers=headers, lookup=(match, exclude_ids), **kwargs
            )
            if isinstance(outcome, Video):  # an ambiguous attempt's job, found by the lookup
                video = outcome
            else:
                video = self._video(await read_json(outcome, video_id=None, redact=self._redact), outcome)
                hints.remember(video.id, outcome)  # for the wait that follows, in another task or client
            self._issued.add(video.id)
            if not video.is_terminal:
                self._pacer.job_started(video.id)
        return video

    async def _json(
        self, method: str, path: str, *, video_id: str | None = None, **kwargs: Any
    ) -> tuple[httpx.Response, Any]:
        response = await self._send(method, f"{self.base_url}{path}", video_id=video_id, **kwargs)
        assert isinstance(response, httpx.Response)  # only a create's lookup returns a Video
        return response, await read_json(response, video_id=video_id, redact=self._redact)

    async def _send(
        self,
        method: str,
        url: str,
        *,
        video_id: str | None = None,
        headers: Mapping[str, str] | None = None,
        lookup: tuple[Mapping[str, str], frozenset[str]] | None = None,
        due: float | None = None,
        deadline: float | None = None,
        **kwargs: Any,
    ) -> httpx.Response | Video:
        """The one retry loop: wait for the pace, send, let :func:`classify` decide, act on its verdict.

        Returns a 2xx response opened for streaming (the caller closes it), or,
        for a create (``lookup`` = the fields its job carries and ids never to
        adopt) whose attempt failed ambiguously, the job the lookup found.
        Every attempt waits its turn at the key's pacer (creates first, then
        reads by ``due``); a 429 waits and goes again without spending a retry.

        Transport faults are retried here and nowhere else: at most
        ``retry.max_retries`` times, and no retry starts later than
        ``retry.window_seconds`` after the first attempt or after ``deadline``
        (a monotonic time: a wait's end). No backoff sleeps past that end, and
        each attempt (its turn at the pacer included) ends within one request
        timeout of it. Whatever this loop raises is marked spent
        (:func:`~prefect_sora._transport.retries.retries_spent`) so that no layer
        above retries it again.

        Raises:
            SubmissionUncertain: a create failed ambiguously and the lookup could not settle it.
            RateLimited: 429s for longer than ``rate_limit_patience``, or a ``Retry-After``
                longer than ``max_retry_after``, or the pace held the request past ``deadline``.
        """
        try:
            return await self._attempts(method, url, video_id, headers, lookup, due, deadline, kwargs)
        except SoraError as exc:
            mark_spent(exc)
            raise

    async def _attempts(
        self,
        method: str,
        url: str,
        video_id: str | None,
        headers: Mapping[str, str] | None,
        lookup: tuple[Mapping[str, str], frozenset[str]] | None,
        due: float | None,
        deadline: float | None,
        kwargs: dict[str, Any],
    ) -> httpx.Response | Video:
        attempt = 0
        priority = Priority.CREATE if lookup is not None else Priority.READ
        pressed_since: float | None = None  # when the current run of 429s began
        end = deadline  # no retry starts after it; the retry window's end joins it at the first fault
        error: SoraError | None = None
        while True:
            number = await self._turn(priority, due, end, error, method, url, video_id)
            started = time.time()
            response: httpx.Response | None = None
            try:
                response = await self._follow(method, url, headers=headers, until=self._hard_end(end), **kwargs)
                verdict = classify(method, response.status_code)
            except httpx.TransportError as exc:
                verdict = classify(method, exc)
                error = transport_error(exc, method, url, video_id=video_id, redact=self._redact)
            if response is not None:
                self._pacer.answered(number, response)
            if verdict.action is Action.RETURN and response is not None:
                return response
            retry_after = None
            if response is not None:
                error = await error_from_response(response, video_id=video_id, redact=self._redact)
                retry_after = retry_after_seconds(response.headers)
                await response.aclose()
            assert error is not None
            if verdict.action is Action.BACK_OFF:
                # Back-pressure, not failure: wait as the pacer says and go again, no retry spent.
                pause = self._pacer.rate_limited(number, retry_after, code=getattr(error, "code", None))
                now = time.monotonic()
                pressed_since = now if pressed_since is None else pressed_since
                if (
                    (retry_after or 0.0) > self.retry.max_retry_after
                    or now + pause - pressed_since >= self.retry.rate_limit_patience
                    # The pacer or the gateway would hold the request past the caller's deadline.
                    or (deadline is not None and now + max(pause, retry_after or 0.0) >= deadline)
                ):
                    raise error
                logger.debug("%s; going again in turn (back-pressure, no retry spent)", error)
                await asyncio.sleep(pause)
                continue
            if verdict.action is Action.RAISE:
                raise error
            if verdict.action is Action.LOOK_UP:
                if lookup is None:
                    raise SubmissionUncertain(f"{method} failed before its answer arrived: {error.message}") from error
                found = await self._look_up(*lookup, since=started, still_working=verdict.still_working)
                if found is not None:
                    logger.info("A create failed ambiguously; found the job it made: %s", found.id)
                    return found
                if verdict.still_working:
                    # A create that timed out may still become a job: never send it blindly again.
                    raise SubmissionUncertain(
                        f"{method} timed out and no job has appeared yet: {error.message}", may_still_be_processing=True
                    ) from error
                uncertain = SubmissionUncertain(f"{method} failed before its answer arrived: {error.message}")
                uncertain.__cause__, error = error, uncertain
            if attempt == 0:  # the first fault starts the retry window's clock (429s have their own patience)
                window_end = time.monotonic() + self.retry.window_seconds
                end = window_end if end is None else min(end, window_end)
            attempt += 1
            delay = self.retry.delay(attempt, retry_after)
            if attempt > self.retry.max_retries or delay > self.retry.max_retry_after:
                raise error
            if end is not None and time.monotonic() + delay >= end:
                # The retry would start after the retry window or the caller's deadline: give up now, not later.
                logger.debug("%s; no retry: out of time", error)
                raise error
            logger.debug("%s; retry %d in %.2fs", error, attempt, delay)
            await asyncio.sleep(delay)

    async def _turn(
        self,
        priority: Priority,
        due: float | None,
        end: float | None,
        error: SoraError | None,
        method: str,
        url: str,
        video_id: str | None,
    ) -> int:
        """This attempt's turn at the pacer, waited for no longer than one request timeout past ``end``."""
        until = self._hard_end(end)
        if until is None:
            return await self._pacer.acquire(priority, due=due)
        try:
            return await asyncio.wait_for(self._pacer.acquire(priority, due=due), max(0.0, until - time.monotonic()))
        except asyncio.TimeoutError:
            if error is not None:
                raise error from None
            path = httpx.URL(url).path
            raise RateLimited(
                f"{method} {path}: the request pace held it past its deadline; nothing was sent",
                video_id=video_id,
            ) from None

    def _hard_end(self, end: float | None) -> float | None:
        """When an attempt begun before ``end`` must be over: one request timeout later."""
        return None if end is None or self._request_timeout is None else end + self._request_timeout

    async def _look_up(
        self, match: Mapping[str, str], exclude_ids: frozenset[str], *, since: float, still_working: bool
    ) -> Video | None:
        """The job an ambiguous create made, if GET /videos shows one."""
        try:
            return await look_for_job(
                self, match, since=since, exclude_ids=exclude_ids | self._issued, may_still_be_processing=still_working
            )
        except SoraError as exc:
            raise SubmissionUncertain(
                "A create failed ambiguously and GET /videos could not tell whether a job was made; "
                "rerun with the same idempotency key to look it up again before paying twice"
            ) from exc

    async def _follow(
        self, method: str, url: str, *, headers: Mapping[str, str] | None, until: float | None, **kwargs: Any
    ) -> httpx.Response:
        """Send, following redirects by HTTP's method rules (those of httpx and browsers).

        307 and 308 repeat the method and its body; 303 (and 301/302, as every
        client does) turn it into a GET without a body or content headers. The
        key and the extra headers go only to the API's origin; the default query
        only on the first hop. ``until`` (monotonic) caps every hop's timeout.
        """
        auth = self._auth
        if self._default_query:
            kwargs["params"] = {**self._default_query, **(kwargs.get("params") or {})}
        sent = dict(headers or {})
        for _ in range(6):
            timeout = self._timeout_until(until)
            request = self._http.build_request(method, url, headers={**auth, **sent}, timeout=timeout, **kwargs)
            response = await self._http.send(request, stream=True)
            if response.status_code not in REDIRECT_STATUSES:
                return response
            await response.aclose()
            url, same_origin = next_hop(response, allow_insecure_http=self._allow_insecure_http)
            if not same_origin:
                auth = {}
            kwargs.pop("params", None)  # the Location carries the full query
            redirected = redirect_method(method, response.status_code)
            if redirected != method:
                method = redirected
                for body in BODY_ARGUMENTS:
                    kwargs.pop(body, None)
                sent = {name: value for name, value in sent.items() if name.lower() not in CONTENT_HEADERS}
        raise UnexpectedResponse(f"{method} followed too many redirects")

    def _timeout_until(self, until: float | None) -> httpx.Timeout | None:
        """The client's timeout, each part cut to what is left before ``until`` (None: unchanged)."""
        if until is None:
            return None
        left = max(0.001, until - time.monotonic())
        configured = self._http.timeout

        def cut(value: float | None) -> float:
            return left if value is None else min(value, left)

        return httpx.Timeout(
            connect=cut(configured.connect),
            read=cut(configured.read),
            write=cut(configured.write),
            pool=cut(configured.pool),
        )

    def _video(self, body: Any, response: httpx.Response) -> Video:
        try:
            video = Video.model_validate(body)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['msg']}"
                for error in exc.errors()[:3]
            )
            raise UnexpectedResponse(
                f"The server's answer is not a video object ({self._redact(problems)})", request_id=_rid(response)
            ) from exc
        return self._adopt(video)

    def _adopt(self, video: Video) -> Video:
        """A job from the server: its id checked, a deployment name it echoes read back as the model."""
        check_video_id(video.id, from_server=True)
        if video.model is not None and video.model in self._models:
            video = video.model_copy(update={"model": self._models[video.model]})
        return video


def known_as(video: Video, video_id: str) -> Video:
    """The job read by ``video_id``, named ``video_id``; a different id the answer echoed is kept beside it.

    The id a create answered (or the caller asked about) is the job's identity. A
    LiteLLM proxy re-encodes the id in its status answers, and a download or remix by
    the re-encoded id goes to its default upstream and fails; so no later answer renames a job.
    """
    if video.id == video_id:
        return video
    return video.model_copy(update={"id": video_id, "echoed_id": video.id})


def _auth_headers(auth_header: str, api_key: str, extra: Mapping[str, str]) -> dict[str, str]:
    """The headers that carry credentials: the key as the gateway wants it, and any extra ones."""
    if auth_header == "api-key":
        return {**extra, "api-key": api_key}
    if auth_header == "authorization":
        return {**extra, "Authorization": f"Bearer {api_key}"}
    raise ValueError(f"auth_header must be 'authorization' or 'api-key', not {auth_header!r}")


def _rid(response: httpx.Response) -> str | None:
    return request_id(response.headers)


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


__all__ = [
    "DEFAULT_BASE_URL",
    "ContentStream",
    "Polled",
    "SoraClient",
]
