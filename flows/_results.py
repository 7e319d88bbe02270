"""What the flows return: one record per video and the totals of a run."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ItemStatus = Literal[
    "stored", "defective", "failed", "cancelled", "timed_out", "expired", "refused", "error", "pending"
]


class VideoResult(BaseModel):
    """The outcome of one requested video; the id is kept whatever happened.

    Attributes:
        index: Position in the batch (0 for single-video flows).
        video_id: The job id, whenever a job exists; resume or fetch with it.
        status: ``stored``; ``defective`` (stored and paid for, but not the video
            paid for: see ``problems``; the file is kept at ``url``); ``failed`` (the
            job failed, not billed); ``cancelled`` (cancelled at the gateway, not
            billed, never resubmitted); ``timed_out``
            (still running at the deadline: rerun to resume); ``expired`` (the
            download window closed); ``refused`` (the key's spend limit had no room for
            it: nothing was sent, rerun with the same key later); ``error`` (anything else,
            see ``error``); ``pending`` (only inside a batch run with ``wait="suspend"``: its
            job is generating, or not yet submitted, and the run suspends until it ends).
        url: The stored file's fsspec URL.
        estimated_usd: The price if the job completes.
        actual_usd: What was billed: the price once completed, 0 for a failed job.
        resumed: True if a rerun found this video already submitted or stored.
        problems: For a ``defective`` video, each check it failed: what was expected, what was found.
    """

    model_config = ConfigDict(frozen=True)

    index: int = 0
    prompt: str
    model: str | None = None
    size: str | None = None
    seconds: str | None = None
    video_id: str | None = None
    status: ItemStatus
    url: str | None = None
    bytes: int | None = None
    sha256: str | None = None
    estimated_usd: Decimal = Decimal("0")
    actual_usd: Decimal = Decimal("0")
    error_type: str | None = None
    error_code: str | None = None
    error: str | None = None
    resumed: bool = False
    failed_video_ids: list[str] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True if the video is stored."""
        return self.status == "stored"


class BatchResult(BaseModel):
    """Per-item results and totals of a batch run.

    Attributes:
        items: One result per request, in request order.
        estimated_usd: The whole batch's estimate, checked against the budget.
        actual_usd: What the completed jobs cost.
        stored: How many videos are stored.
        failed: How many items did not end stored (the defective ones included).
        defective: How many were stored and paid for but are not the video paid for.
        idempotency_key: Rerun with this key to resume without paying twice.
        journal_url: Where the run's journal lives.
    """

    model_config = ConfigDict(frozen=True)

    items: list[VideoResult]
    estimated_usd: Decimal
    actual_usd: Decimal
    stored: int
    failed: int
    defective: int = 0
    idempotency_key: str
    journal_url: str

    @classmethod
    def of(
        cls, items: list[VideoResult], *, estimated_usd: Decimal, idempotency_key: str, journal_url: str
    ) -> BatchResult:
        """The batch's result from its items: the cost and the counts are summed from them."""
        stored = sum(item.ok for item in items)
        return cls(
            items=items,
            estimated_usd=estimated_usd,
            actual_usd=sum((item.actual_usd for item in items), Decimal("0")),
            stored=stored,
            failed=len(items) - stored,
            defective=sum(item.status == "defective" for item in items),
            idempotency_key=idempotency_key,
            journal_url=journal_url,
        )
