"""Fan-out: ``batch_text_to_video`` against a minimal asyncio + httpx script doing the same work.

Every side produces N videos (jobs of 10-20 s) from one emulator running in its own
process (reset before each run, so every run sees the same jobs), all N at once, and
streams each body (1 MiB, synthetic) to a local folder. One ``prefect server start``
serves every flow run; it is up before any timing starts. The sides, run in turn:

- ``script``: create, poll every second, stream the download, on one httpx client with
  SoraClient's pool limits (64 connections): the script most people would write;
- ``script-gated``: the same, with an asyncio semaphore letting at most 64 requests into
  httpx at once. At a thousand items this is three times faster: httpcore's pool rescans
  its whole queue of waiting requests on every request event, so a deep queue inside it
  costs CPU quadratically;
- ``flow``: ``batch_text_to_video(requests, concurrency=N)`` (its SoraClient gates its
  own requests the same way, see ``prefect_sora._transport.http.GatedTransport``).

Reported per run: wall time (from just before the call to its return, imports done),
the process's RSS high-water mark, the emulator's GETs per video, and for the flow the
Prefect API calls it made: HTTP requests counted on Prefect's own httpx client classes
and events counted as they are emitted over the events websocket. Orchestration
overhead is the flow's wall time minus the faster script's.
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
POOL = 64  # SoraClient's max_connections
SIDES = ("script", "script-gated", "flow")
CONFIG: dict[str, Any] = {"job_seconds_range": [10.0, 20.0], "synthetic_content_bytes": CONTENT_BYTES, "seed": 5}
_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


# -- the script: what the flow does, with nothing else ------------------------------------


async def _script(base_url: str, n: int, out: Path, *, gated: bool) -> None:
    import httpx

    limits = httpx.Limits(max_connections=POOL, max_keepalive_connections=POOL // 2)
    # gated: at most POOL requests reach httpx at once, the rest wait on an asyncio
    # semaphore. Without it a thousand requests queue inside httpcore's pool, which
    # rescans its whole queue against every connection on each request event.
    gate = asyncio.Semaphore(POOL if gated else n)
    async with httpx.AsyncClient(base_url=base_url, headers=_common.AUTH, limits=limits, timeout=60) as client:

        async def one(index: int) -> None:
            body = {"model": "sora-2", "prompt": f"fan-out video {index}", "seconds": "4", "size": "720x1280"}
            async with gate:
                response = await client.post("/videos", json=body)
            response.raise_for_status()
            video = response.json()
            while video["status"] not in ("completed", "failed"):
                await asyncio.sleep(1.0)
                async with gate:
                    response = await client.get(f"/videos/{video['id']}")
                response.raise_for_status()
                video = response.json()
            async with gate, client.stream("GET", f"/videos/{video['id']}/content") as content:
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
    from prefect_sora._models import VideoRequest
    from prefect_sora.blocks import SoraCredentials
    from prefect_sora.flows import batch_text_to_video

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
    gated = options.side.endswith("-gated")
    if options.side.startswith("script"):
        started = time.perf_counter()
        asyncio.run(_script(options.base_url, options.n, out, gated=gated))
        figures: dict[str, Any] = {"wall_s": time.perf_counter() - started}
    else:
        figures = _flow(options.base_url, options.n, out)
    stored = list(out.glob("*.mp4"))
    assert len(stored) == options.n and all(p.stat().st_size == CONTENT_BYTES for p in stored)
    return {**figures, "rss_at_start_mb": round(before, 1), "peak_rss_mb": round(_common.peak_rss_mb(), 1)}


# -- the comparison ----------------------------------------------------------------------


def run(*, quick: bool = False, sizes: list[int] | None = None, profile: bool = False) -> dict[str, Any]:
    """Alternate the sides at each size; report overhead, memory and API calls.

    The overhead that the goals judge is the flow against the faster of the two scripts
    (the gated one at scale).
    """
    plan = [(20, 1)] if quick else [(n, 2 if n <= 100 else 1) for n in (sizes or [100, 1000])]
    rows = []
    with _common.prefect_server() as prefect_env, _common.emulator(**CONFIG) as emu:
        # One untimed flow run first: Prefect's first-call costs (settings, client, flow
        # registration) belong to no particular batch size.
        _one(emu.url, "flow", 2, prefect_env, None)
        for n, repeats in plan:
            runs = []
            for repeat in range(repeats):
                for side in SIDES:
                    spy = profile and side.startswith("flow")
                    path = str(Path(tempfile.gettempdir()) / f"fanout-{n}-{side}.py-spy.txt") if spy else None
                    figures = _one(emu.url, side, n, prefect_env, path)
                    runs.append({"side": side, "repeat": repeat, **figures, **({"py_spy": path} if path else {})})
            by_side = {side: [r for r in runs if r["side"] == side] for side in SIDES}
            walls = {side: [round(r["wall_s"], 2) for r in found] for side, found in by_side.items()}
            best_script = min(("script", "script-gated"), key=lambda side: _common.median(walls[side]))
            overheads = [f - s for s, f in zip(walls[best_script], walls["flow"], strict=True)]
            flow = by_side["flow"]
            rows.append(
                {
                    "items": n,
                    "wall_s": walls,
                    "baseline": best_script,
                    "overhead_s": [round(o, 2) for o in overheads],
                    "overhead_median_s": round(_common.median(overheads), 2),
                    "overhead_vs_plain_script_median_s": round(
                        _common.median([f - s for s, f in zip(walls["script"], walls["flow"], strict=True)]), 2
                    ),
                    "peak_rss_mb": {side: max(r["peak_rss_mb"] for r in found) for side, found in by_side.items()},
                    "flow_peak_rss_mb": max(r["peak_rss_mb"] for r in flow),
                    "flow_rss_at_start_mb": flow[0]["rss_at_start_mb"],
                    "prefect_http_per_video": round(flow[-1]["prefect_http_requests"] / n, 2),
                    "prefect_events_per_video": round(flow[-1]["prefect_events"] / n, 2),
                    "prefect_http_by_kind": flow[-1]["prefect_http_by_kind"],
                    "prefect_events_by_kind": flow[-1]["prefect_events_by_kind"],
                    "emulator_gets_per_video": {
                        side: found[-1]["emulator_gets_per_video"] for side, found in by_side.items()
                    },
                    "runs": runs,
                }
            )
    return {"config": CONFIG, "pool": POOL, "sizes": rows}


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
    parser.add_argument("--side", choices=SIDES)
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
