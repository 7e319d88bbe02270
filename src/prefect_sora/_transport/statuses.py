"""What each job status a server may send means: keep waiting, done, or over for good.

The schema knows four statuses (``queued``, ``in_progress``, ``completed``,
``failed``); the gateways in front of the service send more. Compatible
providers and Azure report ``expired`` and ``cancelled``; relays pass on
their own words for pending work (``pending``, ``processing``, ``running``,
and Azure's ``preprocessing``); some end a job ``error`` or ``rejected``.
One pure function maps any of them to a :data:`StatusCategory`, so the wait
loop ends at once on every terminal status instead of polling it until its
deadline, and treats a word it has never seen as pending only for a while.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

StatusCategory = Literal["pending", "completed", "failed", "cancelled", "expired", "unknown"]

#: Every status word known, by category. Compared after :func:`normalize_status`.
KNOWN_STATUSES: Mapping[str, StatusCategory] = {
    # The schema's two, then the synonyms gateways and Azure (Sora 1, v1) are reported to send.
    "queued": "pending",
    "in_progress": "pending",
    "pending": "pending",
    "processing": "pending",
    "running": "pending",
    "preprocessing": "pending",
    "not_started": "pending",
    "submitted": "pending",
    "starting": "pending",
    "generating": "pending",
    "completed": "completed",
    "succeeded": "completed",  # Azure's word for it
    "failed": "failed",
    "error": "failed",
    "rejected": "failed",
    "cancelled": "cancelled",
    "canceled": "cancelled",
    "expired": "expired",
}


def normalize_status(status: str) -> str:
    """``"In Progress"``, ``"IN-PROGRESS"`` and ``"in_progress"`` are the same status."""
    return "_".join(status.strip().lower().replace("-", " ").split())


def status_category(status: str | None) -> StatusCategory:
    """The category of a status string: what the wait does on seeing it.

    ``pending`` keeps the wait going; ``completed`` ends it with the video;
    ``failed``, ``cancelled`` and ``expired`` end it with a typed error;
    ``unknown`` is waited on for a bounded grace period (see
    :func:`prefect_sora._transport.waiting.wait_for_video`).
    """
    if not isinstance(status, str):
        return "unknown"
    return KNOWN_STATUSES.get(normalize_status(status), "unknown")


__all__ = ["KNOWN_STATUSES", "StatusCategory", "normalize_status", "status_category"]
