"""Download: ``prefect_sora._durable.download.download`` (what ``fetch_video`` runs) against a raw httpx loop.

A 1 GiB synthetic body (``synthetic_content_bytes``; it opens with an MP4 ``ftyp`` box)
from an emulator in its own process, fetched in a fresh process per case, so each
case's RSS high-water mark is its own:

- ``raw``: ``httpx.AsyncClient.stream`` + ``aiter_bytes()`` + ``file.write``, nothing else
  (the fastest plain loop: chunks as the socket delivers them);
- ``raw-sha256``: the raw loop that also hashes what it writes (SHA-256, as ``download``
  reports it): the best a plain one-thread loop doing the same integrity work reaches;
- ``raw-1mib``: the raw loop with ``aiter_bytes(1 << 20)``, the loop most people write; httpx
  re-chunks to 1 MiB by copying, which costs about as much as everything else together;
- ``file``: ``download(client, id, "<tmp>/")``: type, length and leading-bytes checks,
  SHA-256, partial file moved into place;
- ``memory``: the same to ``memory://``; fsspec's memory filesystem keeps the file in
  RAM, so its growth is reported beyond the stored bytes.

Throughput is bytes over wall time of the download alone (the job is created first).
Cases alternate, several rounds; the ratio is the median of ours over the median raw.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _common

GIB = 1 << 30
CASES = ("raw", "raw-sha256", "raw-1mib", "file", "memory")


async def _case(case: str, base_url: str, folder: Path) -> dict[str, Any]:
    import httpx

    from prefect_sora._durable.download import download
    from prefect_sora._transport.client import SoraClient

    async with httpx.AsyncClient(base_url=base_url, headers=_common.AUTH, timeout=60) as raw:
        response = await raw.post("/videos", json={"model": "sora-2", "prompt": "download bench"})
        video_id = response.json()["id"]
        rss_before = _common.current_rss_mb()
        cpu_before = _cpu()
        started = time.perf_counter()
        if case.startswith("raw"):
            size = 0
            digest = hashlib.sha256() if case == "raw-sha256" else None
            async with raw.stream("GET", f"/videos/{video_id}/content") as content:
                with open(folder / f"{video_id}.mp4", "wb") as handle:
                    async for chunk in content.aiter_bytes(1 << 20 if case == "raw-1mib" else None):
                        if digest is not None:
                            digest.update(chunk)
                        handle.write(chunk)
                        size += len(chunk)
        else:
            destination = f"{folder}/" if case == "file" else "memory://bench/"
            async with SoraClient(api_key="sk-bench", base_url=base_url) as client:
                size = (await download(client, video_id, destination)).bytes
        wall = time.perf_counter() - started
        cpu = _cpu() - cpu_before
    peak = _common.peak_rss_mb()
    return {
        "case": case,
        "bytes": size,
        "wall_s": round(wall, 3),
        "mib_per_s": round(size / (1 << 20) / wall, 1),
        "cpu_s": round(cpu, 2),
        "rss_before_mb": round(rss_before, 1),
        "peak_rss_mb": round(peak, 1),
        "growth_mb": round(peak - rss_before, 1),
        "growth_beyond_stored_mb": round(peak - rss_before - (size / (1 << 20) if case == "memory" else 0), 1),
    }


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(*, quick: bool = False, rounds: int | None = None) -> dict[str, Any]:
    """Alternate the cases for several rounds against one emulator serving `size` bytes."""
    size = 64 << 20 if quick else GIB
    rounds = rounds or (1 if quick else 3)
    results: list[dict[str, Any]] = []
    with _common.emulator(job_seconds=0, synthetic_content_bytes=size) as emu:
        for round_ in range(rounds):
            for case in CASES:
                folder = Path(tempfile.mkdtemp(prefix=f"bench-download-{case}-"))
                try:
                    load_before = _common.load()
                    figures = _common.run_child(
                        [__file__, "--case", case, "--base-url", f"{emu.url}/v1", "--folder", str(folder)]
                    )
                    results.append({"round": round_, "load_before": load_before, **figures})
                finally:
                    shutil.rmtree(folder, ignore_errors=True)
    summary: dict[str, Any] = {}
    for case in CASES:
        mine = [r for r in results if r["case"] == case]
        summary[case] = {
            "mib_per_s_median": round(_common.median([r["mib_per_s"] for r in mine]), 1),
            "mib_per_s": [r["mib_per_s"] for r in mine],
            "cpu_s_median": round(_common.median([r["cpu_s"] for r in mine]), 2),
            "growth_mb_max": max(r["growth_mb"] for r in mine),
            "growth_beyond_stored_mb_max": max(r["growth_beyond_stored_mb"] for r in mine),
        }
    for case in CASES[1:]:
        summary[case]["ratio_to_raw"] = round(summary[case]["mib_per_s_median"] / summary["raw"]["mib_per_s_median"], 3)
    return {"bytes": size, "rounds": rounds, "summary": summary, "runs": results}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--case", choices=CASES)
    parser.add_argument("--base-url")
    parser.add_argument("--folder")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--quick", action="store_true")
    options = parser.parse_args()
    if options.case:
        os.makedirs(options.folder, exist_ok=True)
        result = asyncio.run(_case(options.case, options.base_url, Path(options.folder)))
    else:
        result = run(quick=options.quick, rounds=options.rounds)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
