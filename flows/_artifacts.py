"""The artifacts a user looks at in the Prefect UI: costs, a summary, links, progress."""

from __future__ import annotations

import time
from collections.abc import Sequence
from decimal import Decimal
from uuid import UUID

from prefect.artifacts import (
    acreate_link_artifact,
    acreate_markdown_artifact,
    acreate_progress_artifact,
    acreate_table_artifact,
    aupdate_progress_artifact,
)
from prefect.context import FlowRunContext

from prefect_sora.flows.results import VideoResult
from prefect_sora.models import StoredVideo


def in_flow_run() -> bool:
    """Artifacts need a run to attach to; flows called as plain functions get none."""
    return FlowRunContext.get() is not None


async def link_stored(stored: StoredVideo) -> None:
    """A link artifact to a stored video."""
    if in_flow_run():
        await acreate_link_artifact(
            link=stored.url,
            link_text=f"{stored.video_id} ({stored.bytes:,} bytes)",
            description=f"Sora video {stored.video_id}, sha256 {stored.sha256}",
        )


async def publish_results(
    title: str, results: Sequence[VideoResult], *, estimated: Decimal, actual: Decimal, resume_hint: str
) -> None:
    """A table of estimated and actual cost per video, and a markdown summary of the run."""
    if not in_flow_run():
        return
    rows = [
        {
            "item": r.index,
            "video_id": r.video_id or "",
            "status": r.status,
            "model": r.model or "",
            "size": r.size or "",
            "seconds": r.seconds or "",
            "estimated_usd": str(r.estimated_usd),
            "actual_usd": str(r.actual_usd),
            "stored_at": r.url or "",
            "error": r.error or "",
        }
        for r in results
    ]
    await acreate_table_artifact(table=rows, key="sora-costs", description=f"{title}: cost per video")
    stored = sum(r.ok for r in results)
    lines = [
        f"# {title}",
        "",
        f"- Videos stored: **{stored} of {len(results)}**",
        f"- Estimated cost: **${estimated}**",
        f"- Actual cost (completed jobs): **${actual}**",
    ]
    problems = [r for r in results if not r.ok]
    if problems:
        lines += ["", "## Not stored", "", "| item | video id | status | reason |", "|---|---|---|---|"]
        lines += [
            f"| {r.index} | `{r.video_id or '-'}` | {r.status} | {(r.error or '').replace('|', '/')[:200]} |"
            for r in problems
        ]
        lines += ["", resume_hint]
    await acreate_markdown_artifact(markdown="\n".join(lines), key="sora-summary", description=title)


class BatchProgress:
    """One progress artifact for a whole batch, updated at most once a second."""

    def __init__(self, total: int) -> None:
        self.total = max(1, total)
        self.done = 0
        self._id: UUID | None = None
        self._last = 0.0

    async def start(self) -> None:
        if in_flow_run():
            self._id = await acreate_progress_artifact(progress=0.0, description="Sora batch: videos finished")

    async def advance(self, final: bool = False) -> None:
        self.done += 0 if final else 1
        now = time.monotonic()
        if self._id is not None and (final or now - self._last >= 1.0):
            self._last = now
            await aupdate_progress_artifact(self._id, progress=100.0 * self.done / self.total)
