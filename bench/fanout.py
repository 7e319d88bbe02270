"""Fan-out: ``batch_text_to_video`` against a minimal asyncio + httpx script doing the same work.

Both sides produce N videos (jobs of 10-20 s) from one emulator running in its own process
(reset before each run, so every run sees the same jobs), all N at once, and stream each
body (1 MiB, synthetic) to a local folder. The script creates, polls every second and
streams the download with one httpx client (the same pool limits as ``SoraClient``).
One ``prefect server start`` serves every flow run; it is up before any timing starts.

Reported per run: wall time (from just before the call to its return, imports done),
the process's RSS high-water mark, the emulator's GETs per video, and for the flow the
Prefect API calls it made: HTTP requests counted on Prefect's own httpx client classes
and events counted as they are emitted over the events websocket.
Orchestration overhead is flow wall time minus script wall time, runs alternating.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _common

CONTENT_BYTES = 1 << 20
CONFIG: dict[str, Any] = {"job_seconds_range": [10.0, 20.0], "synthetic_content_bytes": CONTENT_BYTES, "seed": 5}
_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


# -- the script: what the flow does, with nothing else ------------------------------------


async def _script(base_url: str, n: int, out: Path) -> None:
    import httpx

    limits = httpx.Limits(max_connections=64, max_keepalive_connections=32)
    async with httpx.AsyncClient(base_url=base_url, headers=_common.AUTH, limits=limits, timeout=60) as client:

        async def one(index: int) -> None:
            body = {"model": "sora-2", "prompt": f"fan-out video {index}", "seconds": "4", "size": "720x1280"}
            response = await client.post("/videos", json=body)
            response.raise_for_status()
            video = response.json()
            while video["status"] not in ("completed", "failed"):
                await asyncio.sleep(1.0)
                response = await client.get(f"/videos/{video['id']}")
                response.raise_for_status()
                video = response.json()
            async with client.stream("GET", f"/videos/{video['id']}/content") as content:
                content.raise_for_status()
                with open(out / f"{video['id']}.mp4", "wb") as handle:
                    async for chunk in content.aiter_bytes(1 << 20):
                        handle.write(chunk)

        await asyncio.gather(*(one(i) for i in range(n)))


# -- the flow, with its Prefect API calls counted ----------------------------------------


def _count_prefect_calls() -> tuple[collections.Counter[str], collections.Counter[str]]:
    """Count every request Prefect's clients send and every event they emit, by kind."""
    from prefect.client.base import PrefectHttpxAsyncClient, PrefectHttpxSyncClient
    from prefect.events.clients import PrefectEventsClient

    requests: collections.Counter[str] = collections.Counter()
    events: collections.Counter[str] = collections.Counter()
    send_async, send_sync, emit = PrefectHttpxAsyncClient.send, PrefectHttpxSyncClient.send, PrefectEventsClient._emit

    def kind(request: Any) -> str:
        return f"{request.method} {_ID.sub('{id}', request.url.path)}"

    async def counted_async(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        requests[kind(request)] += 1
        return await send_async(self, request, *args, **kwargs)

    def counted_sync(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        requests[kind(request)] += 1
        return send_sync(self, request, *args, **kwargs)

    async def counted_emit(self: Any, event: Any) -> None:
        events[event.event] += 1
        await emit(self, event)

    PrefectHttpxAsyncClient.send = counted_async  # type: ignore[method-assign]
    PrefectHttpxSyncClient.send = counted_sync  # type: ignore[method-assign]
    PrefectEventsClient._emit = counted_emit  # type: ignore[method-assign]
    return requests, events


def _flow(base_url: str, n: int, out: Path) -> dict[str, Any]:
    from prefect_sora.blocks import SoraCredentials
    from prefect_sora.flows import batch_text_to_video
    from prefect_sora.models import VideoRequest

    requests_counted, events_counted = _count_prefect_calls()
    credentials = SoraCredentials(api_key="sk-bench", base_url=base_url)
    requests = [VideoRequest(prompt=f"fan-out video {i}", seconds="4", size="720x1280") for i in range(n)]
    started = time.perf_counter()
    result = asyncio.run(batch_text_to_video(requests, out=f"{out}/", credentials=credentials, concurrency=n))
    wall = time.perf_counter() - started
    failures = collections.Counter(f"{item.status}: {item.error_type}" for item in result.items if not item.ok)
    assert result.stored == n, f"only {result.stored} of {n} stored: {dict(failures)}"
    http_calls, event_calls = sum(requests_counted.values()), sum(events_counted.values())
    return {
        "wall_s": wall,
        "prefect_http_requests": http_calls,
        "prefect_events": event_calls,
        "prefect_http_by_kind": dict(requests_counted.most_common(12)),
        "prefect_events_by_kind": dict(events_counted.most_common(12)),
    }


def _child(options: argparse.Namespace) -> dict[str, Any]:
    out = Path(options.out)
    before = _common.current_rss_mb()
    if options.side == "script":
        started = time.perf_counter()
        asyncio.run(_script(options.base_url, options.n, out))
        figures: dict[str, Any] = {"wall_s": time.perf_counter() - started}
    else:
        figures = _flow(options.base_url, options.n, out)
    stored = list(out.glob("*.mp4"))
    assert len(stored) == options.n and all(p.stat().st_size == CONTENT_BYTES for p in stored)
    return {**figures, "rss_at_start_mb": round(before, 1), "peak_rss_mb": round(_common.peak_rss_mb(), 1)}


# -- the comparison ----------------------------------------------------------------------


def run(*, quick: bool = False, sizes: list[int] | None = None, profile: bool = False) -> dict[str, Any]:
    """Alternate script and flow runs at each size; report overhead, memory and API calls."""
    plan = [(20, 1)] if quick else [(n, 2 if n <= 100 else 1) for n in (sizes or [100, 1000])]
    rows = []
    with _common.prefect_server() as prefect_env, _common.emulator(**CONFIG) as emu:
        # One untimed flow run first: Prefect's first-call costs (settings, client, flow
        # registration) belong to no particular batch size.
        _one(emu.url, "flow", 2, prefect_env, None)
        for n, repeats in plan:
            runs = []
            for repeat in range(repeats):
                for side in ("script", "flow"):
                    path = str(_common.RESULTS / f"fanout-{n}.py-spy.txt") if profile and side == "flow" else None
                    figures = _one(emu.url, side, n, prefect_env, path)
                    runs.append({"side": side, "repeat": repeat, **figures})
            script = [r for r in runs if r["side"] == "script"]
            flow = [r for r in runs if r["side"] == "flow"]
            overheads = [f["wall_s"] - s["wall_s"] for s, f in zip(script, flow, strict=True)]
            rows.append(
                {
                    "items": n,
                    "script_wall_s": [round(r["wall_s"], 2) for r in script],
                    "flow_wall_s": [round(r["wall_s"], 2) for r in flow],
                    "overhead_s": [round(o, 2) for o in overheads],
                    "overhead_median_s": round(_common.median(overheads), 2),
                    "flow_peak_rss_mb": max(r["peak_rss_mb"] for r in flow),
                    "script_peak_rss_mb": max(r["peak_rss_mb"] for r in script),
                    "flow_rss_at_start_mb": flow[0]["rss_at_start_mb"],
                    "prefect_http_per_video": round(flow[-1]["prefect_http_requests"] / n, 2),
                    "prefect_events_per_video": round(flow[-1]["prefect_events"] / n, 2),
                    "prefect_http_by_kind": flow[-1]["prefect_http_by_kind"],
                    "prefect_events_by_kind": flow[-1]["prefect_events_by_kind"],
                    "emulator_gets_per_video": {
                        "script": script[-1]["emulator_gets_per_video"],
                        "flow": flow[-1]["emulator_gets_per_video"],
                    },
                    "runs": runs,
                }
            )
    return {"config": CONFIG, "sizes": rows}


def _one(root: str, side: str, n: int, prefect_env: dict[str, str], profile: str | None) -> dict[str, Any]:
    _common.reset(root)
    out = Path(tempfile.mkdtemp(prefix=f"bench-fanout-{side}-"))
    try:
        args = [__file__, "--side", side, "--n", str(n), "--base-url", f"{root}/v1", "--out", str(out)]
        if profile:
            # py-spy samples from outside at 50 Hz: it does not slow the flow down the way
            # an in-process profiler does with a thousand coroutines.
            spy = str(Path(sys.executable).with_name("py-spy"))
            args = ["-c", _UNDER_PY_SPY, spy, profile, sys.executable, *args]
        load_before = _common.load()
        figures = _common.run_child(args, env=prefect_env)
        stats = _common.admin(root, "stats")
        figures["emulator_gets_per_video"] = round(stats["polls_total"] / n, 2)
        figures["load_before"] = load_before
        return figures
    finally:
        shutil.rmtree(out, ignore_errors=True)


#: Run a child under ``py-spy record`` (collapsed stacks) and pass its JSON line on.
_UNDER_PY_SPY = """
import subprocess, sys
spy, out, *command = sys.argv[1:]
done = subprocess.run([spy, "record", "--rate", "50", "--format", "raw", "-o", out, "--", *command],
                      capture_output=True, text=True)
sys.stderr.write(done.stderr)
print([line for line in done.stdout.splitlines() if line.startswith("{")][-1])
sys.exit(done.returncode)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--side", choices=["flow", "script"])
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--base-url")
    parser.add_argument("--out")
    parser.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], help="e.g. 100,1000")
    parser.add_argument("--profile-flow", action="store_true", help="record each flow run with py-spy")
    parser.add_argument("--quick", action="store_true")
    options = parser.parse_args()
    if options.side:
        result = _child(options)
    else:
        result = run(quick=options.quick, sizes=options.sizes, profile=options.profile_flow)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
