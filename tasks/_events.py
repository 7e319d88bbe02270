"""A video's life as Prefect events, so that automations can act on it; one place names, shapes and emits them.

The tasks and the flows call these helpers at each step (the core client knows
nothing of Prefect). Every event is about one resource, the video:

============================  =====================================================
``sora.video.submitted``      a create (or remix, extension, edit) was accepted
``sora.video.completed``      the job completed: billed, its content downloadable
``sora.video.failed``         the job failed (``code``, ``reason``; not billed)
``sora.video.cancelled``      the job was cancelled (not billed)
``sora.video.expired``        the job's content expired before it was stored
``sora.video.stored``         the MP4 was stored (``url``, ``bytes``, ``sha256``)
``sora.video.defective``      stored and paid for, but not the video paid for
                              (``url``, ``sha256``, ``problems``): a refund claim
============================  =====================================================

The resource is ``sora.video.<id>`` (an id that is not a plain word is shortened
and hashed as its file name is, the full id in the ``sora.video.id`` label), named
by the prompt's start. Related: ``sora.model.<model>``, the saved credentials block,
the source video of a remix, extension or edit (role ``source``); Prefect's events
worker adds the flow run, task run, flow, deployment and tags of the run context.
The payload holds the model, size, seconds and the estimated and actual USD (as
strings); never the key, never storage options.

Emitting never fails a run: any error is logged at DEBUG and the step goes on.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from prefect.events import Event, emit_event

from prefect_sora._durable.storage import safe_stem
from prefect_sora._errors import ContentExpired, JobCancelled, JobFailed, VideoDefective
from prefect_sora._models import StoredVideo, Video
from prefect_sora._pricing import PriceTable, estimate
from prefect_sora.blocks._credentials import SoraCredentials

VideoEventName = Literal["submitted", "completed", "failed", "cancelled", "expired", "stored", "defective"]

#: Every event's name starts so; filter on it to see every video's life.
EVENT_PREFIX = "sora.video."
#: The resource label that holds the video's full id (the resource id may hash it).
VIDEO_ID_LABEL = "sora.video.id"
#: How much of the prompt names the video in the event feed.
NAME_CHARS = 60

_logger = logging.getLogger(__name__)


def video_resource_id(video_id: str) -> str:
    """``sora.video.<id>``: the id itself when it is a plain word, else shortened and hashed as its file name is."""
    return f"{EVENT_PREFIX}{safe_stem(video_id)}"


@dataclass
class _Facts:
    """What this process knows of one video, so that later events carry what the submit knew."""

    prompt: str | None = None
    model: str | None = None
    size: str | None = None
    seconds: str | None = None
    estimated_usd: Decimal | None = None
    source_id: str | None = None
    last: Event | None = None


class _Known:
    """The videos this process has emitted events for, the oldest forgotten past ``limit`` (a long-lived worker)."""

    def __init__(self, limit: int = 4096) -> None:
        self.limit = limit
        self._facts: OrderedDict[str, _Facts] = OrderedDict()
        # Sync flows run tasks in threads: the registry is shared by them.
        self._lock = threading.Lock()

    def get(self, video_id: str) -> _Facts:
        with self._lock:
            facts = self._facts.pop(video_id, None) or _Facts()
            self._facts[video_id] = facts
            while len(self._facts) > self.limit:
                self._facts.popitem(last=False)
            return facts


_KNOWN = _Known()


def submitted(
    video: Video,
    *,
    credentials: SoraCredentials | None,
    prompt: str | None = None,
    model: str | None = None,
    size: str | None = None,
    seconds: str | None = None,
    estimated_usd: Decimal | None = None,
    source_id: str | None = None,
) -> None:
    """``sora.video.submitted`` for a new job; what is given here is remembered for the video's later events."""
    facts = _KNOWN.get(video.id)
    facts.prompt = prompt or video.prompt
    facts.model = model or video.model
    facts.size = size or video.size
    facts.seconds = str(seconds) if seconds is not None else video.seconds
    facts.source_id = source_id or video.remixed_from_video_id
    facts.estimated_usd = estimated_usd if estimated_usd is not None else _price(credentials, facts)
    _emit("submitted", video.id, facts, credentials, actual_usd=Decimal("0"))


def completed(
    video: Video, *, credentials: SoraCredentials | None, related: list[dict[str, str]] | None = None
) -> None:
    """``sora.video.completed``: the job is billed, its actual cost is its price; ``related`` comes first."""
    facts = _learn(video, credentials)
    _emit("completed", video.id, facts, credentials, actual_usd=facts.estimated_usd, related=related)


def stored(result: StoredVideo, *, credentials: SoraCredentials | None) -> None:
    """``sora.video.stored`` for a stored MP4 (not its thumbnail or spritesheet): where, how big, its SHA-256."""
    if result.variant != "video":
        return
    facts = _KNOWN.get(result.video_id)
    if facts.estimated_usd is None:
        facts.estimated_usd = _price(credentials, facts)
    extra = {"url": result.url, "bytes": result.bytes, "sha256": result.sha256}
    _emit("stored", result.video_id, facts, credentials, actual_usd=facts.estimated_usd, extra=extra)


def ended(
    error: JobFailed | ContentExpired | VideoDefective,
    *,
    credentials: SoraCredentials | None,
    related: list[dict[str, str]] | None = None,
) -> None:
    """``sora.video.failed``, ``cancelled``, ``expired`` or ``defective``, from the error that ended the job."""
    if error.video_id is None:
        return
    facts = _KNOWN.get(error.video_id)
    if facts.estimated_usd is None:
        facts.estimated_usd = _price(credentials, facts)
    if isinstance(error, VideoDefective):
        kept = error.result
        extra = {"url": kept.url, "bytes": kept.bytes, "sha256": kept.sha256, "problems": error.problems}
        _emit("defective", error.video_id, facts, credentials, actual_usd=facts.estimated_usd, extra=extra)
        return
    name: VideoEventName
    if isinstance(error, ContentExpired):
        # Expired content was paid for when the job completed.
        name, billed, code = "expired", True, None
    else:
        name, billed, code = ("cancelled" if isinstance(error, JobCancelled) else "failed"), False, error.code
    extra = {"code": code, "reason": error.message, "billed": billed}
    actual = facts.estimated_usd if billed else Decimal("0")
    _emit(name, error.video_id, facts, credentials, actual_usd=actual, extra=extra, related=related)


@contextmanager
def ending(*, credentials: SoraCredentials | None) -> Iterator[None]:
    """Emit ``failed``, ``cancelled``, ``expired`` or ``defective`` for the error that ends the job in the block."""
    try:
        yield
    except (JobFailed, ContentExpired, VideoDefective) as exc:
        ended(exc, credentials=credentials)
        raise


def _learn(video: Video, credentials: SoraCredentials | None) -> _Facts:
    """The facts known of ``video``, filled in from what the service reports where the submit was not seen here."""
    facts = _KNOWN.get(video.id)
    facts.prompt = facts.prompt or video.prompt
    facts.model = facts.model or video.model
    facts.size = facts.size or video.size
    facts.seconds = facts.seconds or video.seconds
    facts.source_id = facts.source_id or video.remixed_from_video_id
    if facts.estimated_usd is None:
        facts.estimated_usd = _price(credentials, facts)
    return facts


def _price(credentials: SoraCredentials | None, facts: _Facts) -> Decimal | None:
    """The list price of what is known, or None when something is missing (never a guess)."""
    if credentials is None or not (facts.model and facts.size and facts.seconds and facts.seconds.isdigit()):
        return None
    table: PriceTable = credentials.prices()
    try:
        return estimate(facts.model, facts.size, int(facts.seconds), table=table).total_usd
    except Exception:  # a model or tier the table does not price: the event says "unknown"
        return None


def _emit(
    name: VideoEventName,
    video_id: str,
    facts: _Facts,
    credentials: SoraCredentials | None,
    *,
    actual_usd: Decimal | None,
    extra: dict[str, Any] | None = None,
    related: list[dict[str, str]] | None = None,
) -> None:
    try:
        resource = {"prefect.resource.id": video_resource_id(video_id), VIDEO_ID_LABEL: video_id}
        if facts.prompt:
            resource["prefect.resource.name"] = _short(facts.prompt)
        payload: dict[str, Any] = {
            "model": facts.model,
            "size": facts.size,
            "seconds": facts.seconds,
            "estimated_usd": _usd(facts.estimated_usd),
            "actual_usd": _usd(actual_usd),
            **(extra or {}),
        }
        event = emit_event(
            f"{EVENT_PREFIX}{name}",
            resource=resource,
            # Given ones first: an automation's action takes the first flow run it finds.
            related=[*(related or ()), *_related(facts, credentials)],
            payload=payload,
            follows=facts.last,
        )
        if event is not None:
            facts.last = event
    except Exception as exc:  # an events client that is down or refuses: the video goes on
        _logger.debug("Could not emit %s%s for video %s: %s", EVENT_PREFIX, name, video_id, type(exc).__name__)


def _related(facts: _Facts, credentials: SoraCredentials | None) -> list[dict[str, str]]:
    related = []
    if facts.model:
        related.append({"prefect.resource.id": f"sora.model.{facts.model}", "prefect.resource.role": "model"})
    block_id = getattr(credentials, "_block_document_id", None)
    if block_id is not None:
        block = {"prefect.resource.id": f"prefect.block-document.{block_id}", "prefect.resource.role": "credentials"}
        if name := getattr(credentials, "_block_document_name", None):
            block["prefect.resource.name"] = name
        related.append(block)
    if facts.source_id:
        related.append(
            {
                "prefect.resource.id": video_resource_id(facts.source_id),
                "prefect.resource.role": "source",
                VIDEO_ID_LABEL: facts.source_id,
            }
        )
    return related


def _short(prompt: str) -> str:
    words = " ".join(prompt.split())
    return words if len(words) <= NAME_CHARS else f"{words[: NAME_CHARS - 1].rstrip()}…"


def _usd(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
