"""The fault matrix: a batch of videos through batch_text_to_video under every fault the emulator injects.

For each fault, a fresh emulator misbehaves in that one way (deterministically
for its seed) while ``batch_text_to_video`` produces N videos, and the outcome
is checked against the promises the docs make (docs/failure-modes.md):

* every video whose job completed is stored, or reported with its id and the reason;
* no partial file exists anywhere under the destination;
* the emulator saw no create beyond one per item (plus explicit resubmits);
* every item not stored carries a typed error.

Usage::

    python bench/fault_matrix.py                 # 20 videos per fault, prints the table
    python bench/fault_matrix.py --write BENCHMARKS.md   # and puts it in BENCHMARKS.md, section 7

A smaller matrix runs in the test suite (tests/reliability/test_fault_matrix.py).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")

from prefect_sora import _errors as errors
from prefect_sora._models import VideoRequest
from prefect_sora.blocks import SoraCredentials
from prefect_sora.emulator import Emulator
from prefect_sora.flows import BatchResult, batch_text_to_video


@dataclass(frozen=True)
class Scenario:
    """One fault, and how the batch is set up to meet it."""

    name: str
    emulator: dict[str, Any] = field(default_factory=dict)
    read_timeout: float = 10.0
    wait_timeout: float = 60.0
    resubmit_failed: int = 0
    directive: str = ""  # added to every 4th prompt
    inject: tuple[str, str | None] | None = None  # (fault, endpoint) scripted for the first two requests


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("429 with Retry-After", {"rate_limit_rate": 0.15, "retry_after_seconds": 0.3}, inject=("429", None)),
    Scenario("bursts of 500/502/503", {"error_burst_rate": 0.08, "error_burst_length": 3}, inject=("503", None)),
    Scenario(
        "connection reset on create", {"reset_rate": 0.25, "fault_endpoints": ["create"]}, inject=("reset", "create")
    ),
    Scenario(
        "connection reset on status polls",
        {"reset_rate": 0.25, "fault_endpoints": ["retrieve"]},
        inject=("reset", "retrieve"),
    ),
    Scenario(
        "connection reset on download",
        {"reset_rate": 0.25, "fault_endpoints": ["content"]},
        inject=("reset", "content"),
    ),
    Scenario(
        "answer lost after the create was made",
        {"lost_rate": 0.25, "fault_endpoints": ["create"]},
        inject=("lost", "create"),
    ),
    Scenario(
        "answer lost, and resets on the lookup",
        {"lost_rate": 0.25, "reset_rate": 0.2, "fault_endpoints": ["create", "list"]},
        inject=("lost", "create"),
    ),
    Scenario(
        "slow answers past the read timeout",
        {"slow_rate": 0.15, "slow_seconds": 1.2},
        read_timeout=0.6,
        inject=("slow", "retrieve"),
    ),
    Scenario("content cut short", {"truncate_rate": 0.3}, inject=("truncate", "content")),
    Scenario("jobs that fail (moderation)", directive="[emulator:fail=moderation_blocked]"),
    Scenario("jobs that fail, resubmit_failed=1", directive="[emulator:fail=moderation_blocked]", resubmit_failed=1),
    Scenario("jobs stuck past the deadline", directive="[emulator:stuck]", wait_timeout=4.0),
    Scenario("content expired before download", directive="[emulator:ttl=0]"),
)


@dataclass
class Row:
    """What one fault did to one batch."""

    scenario: str
    items: int
    stored: int
    reported: dict[str, int]
    lost_videos: list[str]
    partial_files: list[str]
    creates: int
    allowed_creates: int
    faults: int
    untyped_errors: int
    bad_checksums: int
    seconds: float

    @property
    def ok(self) -> bool:
        """True when every promise held (and the fault really happened)."""
        return (
            not self.lost_videos
            and not self.partial_files
            and self.creates <= self.allowed_creates
            and self.untyped_errors == 0
            and self.bad_checksums == 0
            and self.faults > 0
        )


async def run_scenario(scenario: Scenario, items: int, root: Path, seed: int = 7) -> Row:
    """Run one batch against an emulator that misbehaves as ``scenario`` says, and check it."""
    out = root / re.sub(r"[^a-z0-9]+", "-", scenario.name.lower()).strip("-")
    config = {"seed": seed, "job_seconds_range": (0.6, 1.6), "queue_seconds_range": (0.05, 0.3), **scenario.emulator}
    started = time.monotonic()
    with Emulator(**config) as emulator:
        if scenario.inject is not None:
            fault, endpoint = scenario.inject
            emulator.inject(fault, count=2, endpoint=endpoint)  # type: ignore[arg-type]
        credentials = SoraCredentials(
            api_key="sk-fault-matrix", base_url=emulator.base_url, timeout_seconds=scenario.read_timeout
        )
        requests = [
            VideoRequest(prompt=f"{scenario.name} #{i}" + (f" {scenario.directive}" if i % 4 == 3 else ""))
            for i in range(items)
        ]
        try:
            result = await batch_text_to_video(
                requests,
                out=f"{out}/",
                concurrency=items,
                credentials=credentials,
                idempotency_key=f"matrix-{seed}",
                timeout_seconds=scenario.wait_timeout,
                resubmit_failed=scenario.resubmit_failed,
            )
        except errors.BatchIncomplete as incomplete:  # some items not stored: their results say why
            result = incomplete.result
        jobs = _all_jobs(emulator)
        stats = emulator.stats()
    faults = stats["faults_total"] + sum(job["status"] == "failed" for job in jobs)
    faults += sum(item.status in ("timed_out", "expired") for item in result.items)
    return _check(scenario, result, jobs, stats["creates"], faults, out, time.monotonic() - started)


def _all_jobs(emulator: Emulator) -> list[dict[str, Any]]:
    # Read the emulator's own books, not its faulty /v1 (the batch is over by now).
    jobs: list[dict[str, Any]] = []
    after = None
    while True:
        page: dict[str, Any] = emulator.state.list(limit=100, order="desc", after=after)
        jobs += page["data"]
        if not page["has_more"]:
            return jobs
        after = page["last_id"]


def _check(
    scenario: Scenario,
    result: BatchResult,
    jobs: list[dict[str, Any]],
    creates: int,
    faults: int,
    out: Path,
    seconds: float,
) -> Row:
    known = {item.video_id for item in result.items if item.video_id}
    known |= {failed for item in result.items for failed in item.failed_video_ids}
    completed = {job["id"] for job in jobs if job["status"] == "completed"}
    reported: dict[str, int] = {}
    for item in result.items:
        if not item.ok:
            reported[item.status] = reported.get(item.status, 0) + 1
    bad_checksums = sum(
        1
        for item in result.items
        if item.ok and (item.url is None or hashlib.sha256(_read(item.url)).hexdigest() != item.sha256)
    )
    untyped = sum(
        1 for item in result.items if not item.ok and not isinstance(getattr(errors, item.error_type or "", None), type)
    )
    return Row(
        scenario=scenario.name,
        items=len(result.items),
        stored=result.stored,
        reported=reported,
        lost_videos=sorted(completed - known),
        partial_files=[str(p) for p in out.rglob("*") if ".partial-" in p.name or p.name.endswith(".tmp")],
        creates=creates,
        allowed_creates=len(result.items) * (1 + scenario.resubmit_failed),
        faults=faults,
        untyped_errors=untyped,
        bad_checksums=bad_checksums,
        seconds=seconds,
    )


def _read(url: str) -> bytes:
    import fsspec

    with fsspec.open(url, "rb") as handle:
        data: bytes = handle.read()
        return data


async def run_matrix(items: int, scenarios: tuple[Scenario, ...] = SCENARIOS, root: Path | None = None) -> list[Row]:
    """Every scenario, concurrently (each has its own emulator), in one temporary folder."""
    folder = root or Path(tempfile.mkdtemp(prefix="fault-matrix-"))
    return list(await asyncio.gather(*(run_scenario(s, items, folder) for s in scenarios)))


def render(rows: list[Row], command: str) -> str:
    """The matrix as a markdown table, with the command that produced it."""
    lines = [
        f"Produced by `{command}` ({rows[0].items if rows else 0} videos per fault, "
        f"{os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}):",
        "",
        "| fault | faults met | stored | reported with id and reason | completed but lost | partial files "
        "| creates (allowed) | untyped errors | holds |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        reported = ", ".join(f"{count} {status}" for status, count in sorted(row.reported.items())) or "-"
        lines.append(
            f"| {row.scenario} | {row.faults} | {row.stored}/{row.items} | {reported} | {len(row.lost_videos)} "
            f"| {len(row.partial_files)} | {row.creates} ({row.allowed_creates}) | {row.untyped_errors} "
            f"| {'yes' if row.ok else '**NO**'} |"
        )
    return "\n".join(lines)


def write_into(readme: Path, table: str) -> None:
    """Replace what sits between the fault-matrix markers in ``readme``."""
    text = readme.read_text()
    start, end = "<!-- fault-matrix -->", "<!-- /fault-matrix -->"
    if start not in text:
        raise SystemExit(f"{readme} has no {start} marker")
    head, rest = text.split(start, 1)
    tail = rest.split(end, 1)[1] if end in rest else rest
    readme.write_text(f"{head}{start}\n{table}\n{end}{tail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=20, help="videos per fault")
    parser.add_argument("--write", type=Path, help="put the table into this markdown file between the markers")
    args = parser.parse_args()
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        rows = asyncio.run(run_matrix(args.items))
    table = render(rows, "python " + " ".join(["bench/fault_matrix.py", *sys.argv[1:]]))
    print(table)
    if args.write:
        write_into(args.write, table)
    raise SystemExit(0 if all(row.ok for row in rows) else 1)


if __name__ == "__main__":
    main()
