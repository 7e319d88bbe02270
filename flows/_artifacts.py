"""The artifacts a user looks at in the Prefect UI: costs, a summary, links, progress.

Each flow keys its table and summary with its own prefix (``sora-batch-costs``,
``sora-text-to-video-summary`` ...), so the Artifacts page keeps one timeline per
flow. The cost table has the columns that fit a laptop screen; the reasons an
item was not stored go in the summary, the stored files in the link artifacts.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
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

from prefect_sora._models import Video
from prefect_sora.flows._results import VideoResult

#: The longest reason quoted in a summary row; the full text is in the result and the logs.
REASON_CHARS = 200


@dataclass(frozen=True)
class Report:
    """How one flow names its artifacts: a title for people, a key prefix for the Artifacts page."""

    title: str
    key: str

    @property
    def costs_key(self) -> str:
        return f"{self.key}-costs"

    @property
    def summary_key(self) -> str:
        return f"{self.key}-summary"


def in_flow_run() -> bool:
    """Artifacts need a run to attach to; flows called as plain functions get none."""
    return FlowRunContext.get() is not None


async def link_stored(result: VideoResult, *, link: str | None = None, where: str | None = None) -> None:
    """A link artifact to a stored video with a short title: the item and the size (the SHA-256 is in the result).

    ``link`` is a URL a browser opens (a signed one); without it the artifact says
    ``where`` the file is in words, since the UI cannot open a worker's ``file://`` path.
    """
    if not in_flow_run() or not result.url:
        return
    title = f"{_text(result.video_id or '')} ({_size(result.bytes or 0)})"
    description = f"Item {result.index}: stored, {_size(result.bytes or 0)}"
    if link is None and where is not None:
        await acreate_markdown_artifact(markdown=f"{title} is stored {where}.", description=description)
    else:
        await acreate_link_artifact(link=link or result.url, link_text=title, description=description)


async def publish_results(
    report: Report,
    results: Sequence[VideoResult],
    *,
    estimated: Decimal,
    actual: Decimal,
    resume_hint: str,
    extra: str = "",
) -> None:
    """A table of estimated and actual cost per video, and a markdown summary of the run (``extra`` appended)."""
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
        }
        for r in results
    ]
    await acreate_table_artifact(table=rows, key=report.costs_key, description=f"{report.title}: cost per video")
    await acreate_markdown_artifact(
        markdown=summary(report.title, results, estimated=estimated, actual=actual, resume_hint=resume_hint) + extra,
        key=report.summary_key,
        description=report.title,
    )


def summary(
    title: str, results: Sequence[VideoResult], *, estimated: Decimal, actual: Decimal, resume_hint: str
) -> str:
    """The run in a few lines; one row per video not stored (id, status, reason) and one per
    defective video (id, where it is kept, its problems: the evidence for a refund claim)."""
    stored = sum(r.ok for r in results)
    defective = [r for r in results if r.status == "defective"]
    lines = [
        f"# {title}",
        "",
        f"- Videos stored: **{stored} of {len(results)}**",
        f"- Estimated cost: **${estimated}**",
        f"- Actual cost (completed jobs): **${actual}**",
    ]
    if defective:
        lines.append(f"- Defective (paid for, not the video paid for): **{len(defective)}**")
    problems = [r for r in results if not r.ok and r.status != "defective"]
    if problems:
        lines += ["", "## Not stored", "", "| item | video id | status | reason |", "|---|---|---|---|"]
        lines += [
            f"| {r.index} | {_code(r.video_id or '-')} | {r.status} | {_cell(r.error or '')[:REASON_CHARS]} |"
            for r in problems
        ]
    if defective:
        lines += ["", "## Defective: paid for, kept as evidence for a refund claim", ""]
        lines += ["| item | video id | stored at | problems |", "|---|---|---|---|"]
        lines += [
            f"| {r.index} | {_code(r.video_id or '-')} | {_code(r.url or '-')} | {_cell('; '.join(r.problems))} |"
            for r in defective
        ]
    if problems or defective:
        lines += ["", resume_hint]
    return "\n".join(lines)


@dataclass
class BatchProgress:
    """One progress artifact for a whole batch: the mean of its items' progress.

    An item counts 100 once it is finished (stored or not) and its job's own
    progress while it is generating, so the bar moves before the first video is
    done. The artifact is written at most once per ``interval`` seconds.
    """

    total: int
    interval: float = 1.0
    finished: int = field(default=0, init=False)
    generating: dict[str, float] = field(default_factory=dict, init=False)
    _id: UUID | None = field(default=None, init=False, repr=False)
    _written: float = field(default=float("-inf"), init=False, repr=False)

    @property
    def percent(self) -> float:
        done = 100.0 * self.finished + sum(self.generating.values())
        return min(100.0, done / max(1, self.total))

    async def start(self) -> None:
        if in_flow_run():
            self._id = await acreate_progress_artifact(
                progress=0.0, description=f"Sora batch: {self.total} videos, finished or generating"
            )
            self._written = time.monotonic()

    async def job_changed(self, video: Video) -> None:
        """What the wait saw: a job's progress, 100 once completed; a failed job leaves the count."""
        if video.is_completed:
            self.generating[video.id] = 100.0
        elif video.is_terminal:
            self.generating.pop(video.id, None)  # its item resubmits or finishes
        else:
            self.generating[video.id] = video.progress
        await self._write()

    async def item_finished(self, result: VideoResult) -> None:
        self.finished += 1
        for video_id in (result.video_id, *result.failed_video_ids):
            self.generating.pop(video_id or "", None)
        await self._write()

    async def finish(self) -> None:
        await self._write(force=True)

    async def _write(self, force: bool = False) -> None:
        now = time.monotonic()
        if self._id is None or (not force and now - self._written < self.interval):
            return
        self._written = now  # before the await, so concurrent changes do not all write
        await aupdate_progress_artifact(self._id, progress=self.percent)


def _cell(text: str) -> str:
    """Text that stays inside one markdown table cell."""
    return " ".join(text.replace("|", "/").split())


_MARKDOWN = re.compile(r"([\\`*\[\]<>|])")


def _text(text: str) -> str:
    """Any text (a gateway's id) shown as itself in markdown: its punctuation escaped."""
    return _MARKDOWN.sub(r"\\\1", text)


def _code(text: str) -> str:
    """Any text as inline code in a table cell: a fence longer than any run of backticks in it, ``|`` escaped."""
    text = " ".join(text.split()).replace("|", "\\|")
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _size(count: int) -> str:
    return f"{count / 1e6:.1f} MB" if count >= 100_000 else f"{count:,} bytes"
