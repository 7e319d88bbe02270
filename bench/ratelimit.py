"""Videos per hour under a gateway's rate limit: the batch flow against an SDK loop and a script.

The emulator runs in its own process as a gateway would: a per-key limit of RPM
requests a minute (a token bucket answering 429 with Retry-After, and the
``x-ratelimit-*`` headers on every answer), jobs of 30 to 120 s. Every side makes
the same N videos from a reset emulator, each side in a fresh process:

- ``flow``: ``batch_text_to_video(requests, concurrency=N)`` with a block that says
  nothing of the limit: the client learns it from the headers and the 429s;
- ``flow-configured``: the same, the block's ``requests_per_minute`` set to RPM;
- ``flow-3proc-gcl``: three processes (a third of the items each) sharing one
  Prefect global concurrency limit (``rate_limit_name``) sized to RPM;
- ``sdk``: the official ``openai`` SDK as its docs suggest: ``videos.create``,
  ``videos.poll`` at its default interval, ``videos.download_content``, at most
  16 videos at once (an asyncio semaphore), the SDK's own retries;
- ``script-gated``: asyncio + httpx, at most 64 requests in flight, a poll every
  second, a 429 waited out for its Retry-After.

Reported per side: videos stored, wall time, the lower bound (requests made
divided by the rate, plus one job's duration: the mean of the jobs' planned
durations), their ratio, the share of 429s (in all and after the first minute,
once the rate is learned), requests per stored video, and the most requests of
one key that reached the emulator in any 60 s window. The SDK and script sides
make so many requests that they would take hours at these rates: they stop at
``--cap-minutes`` and are judged on what they stored by then.

``python bench/ratelimit.py --rpm 120,600 --items 200`` (about 75 minutes);
``--quick`` runs 20 items of 4-8 s jobs at 600 RPM.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import _common
import httpx

SIDES = ("flow", "flow-configured", "flow-3proc-gcl", "sdk", "script-gated")
KEY = "sk-bench-ratelimit"
SDK_CONCURRENCY = 16
SCRIPT_GATE = 64
CONTENT_BYTES = 256 << 10
GCL_NAME = "sora-bench"


def _requests(n: int, offset: int = 0) -> list[dict[str, str]]:
    return [
        {"prompt": f"rate-limited video {i}", "seconds": "4", "size": "720x1280"} for i in range(offset, offset + n)
    ]


# -- the sides, each run in a child process ---------------------------------------------


def _flow(base_url: str, n: int, offset: int, out: Path, rpm: int | None, limit_name: str | None) -> dict[str, Any]:
    from prefect_sora._errors import BatchIncomplete
    from prefect_sora._models import VideoRequest
    from prefect_sora.blocks import SoraCredentials
    from prefect_sora.flows import batch_text_to_video

    credentials = SoraCredentials(
        api_key=KEY, base_url=base_url, requests_per_minute=rpm, rate_limit_name=limit_name, timeout_seconds=60
    )
    requests = [VideoRequest(**r) for r in _requests(n, offset)]
    try:
        result = asyncio.run(
            batch_text_to_video(requests, out=f"{out}/", credentials=credentials, concurrency=n, timeout_seconds=7200)
        )
    except BatchIncomplete as incomplete:
        result = incomplete.result
    errors: dict[str, int] = {}
    for item in result.items:
        if not item.ok:
            errors[f"{item.status}: {item.error_type}"] = errors.get(f"{item.status}: {item.error_type}", 0) + 1
    return {"stored": result.stored, "errors": errors}


async def _each_until(one: Any, requests: list[dict[str, str]], cap: float) -> int:
    """Run ``one(request)`` for every request at once; cancel those not done after ``cap`` s (their count)."""
    tasks = [asyncio.create_task(one(request)) for request in requests]
    _done, pending = await asyncio.wait(tasks, timeout=cap)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    return len(pending)


async def _sdk(base_url: str, n: int, out: Path, cap: float) -> dict[str, Any]:
    from openai import AsyncOpenAI

    errors: dict[str, int] = {}
    stored = 0
    gate = asyncio.Semaphore(SDK_CONCURRENCY)
    async with AsyncOpenAI(api_key=KEY, base_url=base_url) as client:

        async def one(request: dict[str, str]) -> None:
            nonlocal stored
            async with gate:
                try:
                    video = await client.videos.create(model="sora-2", **request)  # type: ignore[arg-type]
                    video = await client.videos.poll(video.id)
                    if video.status != "completed":
                        raise RuntimeError(f"job {video.status}")
                    content = await client.videos.download_content(video.id)
                    (out / f"{video.id}.mp4").write_bytes(content.content)
                    stored += 1
                except Exception as exc:  # the SDK's errors after its own retries
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1

        unfinished = await _each_until(one, _requests(n), cap)
    return {"stored": stored, "errors": errors, "unfinished": unfinished}


async def _script(base_url: str, n: int, out: Path, cap: float) -> dict[str, Any]:
    errors: dict[str, int] = {}
    stored = 0
    gate = asyncio.Semaphore(SCRIPT_GATE)
    headers = {"Authorization": f"Bearer {KEY}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as client:

        async def send(method: str, path: str, **kwargs: Any) -> httpx.Response:
            while True:
                async with gate:
                    response = await client.request(method, path, **kwargs)
                if response.status_code != 429:
                    return response.raise_for_status()
                await asyncio.sleep(float(response.headers.get("retry-after", "1")))

        async def one(request: dict[str, str]) -> None:
            nonlocal stored
            try:
                video = (await send("POST", "/videos", json={"model": "sora-2", **request})).json()
                while video["status"] not in ("completed", "failed"):
                    await asyncio.sleep(1.0)
                    video = (await send("GET", f"/videos/{video['id']}")).json()
                content = await send("GET", f"/videos/{video['id']}/content")
                (out / f"{video['id']}.mp4").write_bytes(content.content)
                stored += 1
            except Exception as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1

        unfinished = await _each_until(one, _requests(n), cap)
    return {"stored": stored, "errors": errors, "unfinished": unfinished}


def _child(options: argparse.Namespace) -> dict[str, Any]:
    out = Path(options.out)
    if options.side == "sdk":
        return asyncio.run(_sdk(options.base_url, options.n, out, options.cap))
    if options.side == "script-gated":
        return asyncio.run(_script(options.base_url, options.n, out, options.cap))
    rpm = options.rpm if options.side == "flow-configured" else None
    limit = GCL_NAME if options.side == "flow-3proc-gcl" else None
    return _flow(options.base_url, options.n, options.offset, out, rpm, limit)


# -- the comparison ----------------------------------------------------------------------


class _Sampler:
    """Reads the emulator's counters every few seconds: when the 429s came."""

    def __init__(self, root: str, every: float = 5.0) -> None:
        self.root, self.every = root, every
        self.samples: list[tuple[float, int, int]] = []  # (seconds since start, requests, 429s)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _Sampler:
        self._started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                stats = _common.admin(self.root, "stats")
            except httpx.HTTPError:
                continue
            refused = int(stats["responses_by_status"].get("429", 0))
            self.samples.append((time.monotonic() - self._started, int(stats["requests_total"]), refused))

    def after(self, seconds: float, total: tuple[int, int]) -> tuple[int, int]:
        """(requests, 429s) made after ``seconds`` into the run, given the run's totals."""
        before = next(((r, t) for at, r, t in reversed(self.samples) if at <= seconds), (0, 0))
        return total[0] - before[0], total[1] - before[1]


def _side(root: str, side: str, rpm: int, n: int, cap: float, env: dict[str, str]) -> dict[str, Any]:
    _common.reset(root)
    out = Path(tempfile.mkdtemp(prefix=f"bench-ratelimit-{side}-"))
    base = [__file__, "--side", side, "--base-url", f"{root}/v1", "--out", str(out), "--rpm", str(rpm)]
    base += ["--cap", str(cap)]
    load_before = _common.load()
    started = time.monotonic()
    try:
        with _Sampler(root) as sampler:
            if side == "flow-3proc-gcl":
                thirds = [n // 3 + (1 if i < n % 3 else 0) for i in range(3)]
                offsets = [sum(thirds[:i]) for i in range(3)]
                children = [
                    subprocess.Popen(
                        [sys.executable, *base, "--n", str(k), "--offset", str(o)],
                        env={**os.environ, **env},
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                        text=True,
                        cwd=_common.ROOT,
                    )
                    for k, o in zip(thirds, offsets, strict=True)
                ]
                outputs = [child.communicate(timeout=4 * 3600) for child in children]
                parts = [json.loads([x for x in o.splitlines() if x.startswith("{")][-1]) for o, _ in outputs]
                figures: dict[str, Any] = {
                    "stored": sum(p["stored"] for p in parts),
                    "errors": [p["errors"] for p in parts],
                }
            else:
                figures = _common.run_child([*base, "--n", str(n)], env=env, timeout=4 * 3600)
        wall = time.monotonic() - started
        stats = _common.admin(root, "stats")
        durations = [
            _common.admin(root, f"videos/{video_id}")
            for video_id in list(stats["polls"])[:50]  # a sample of the jobs' plans
        ]
        mean_job = sum(p["completed_at"] - p["created_at"] for p in durations if p.get("completed_at")) / max(
            1, sum(1 for p in durations if p.get("completed_at"))
        )
        requests = int(stats["requests_total"])
        refused = int(stats["responses_by_status"].get("429", 0))
        late = sampler.after(60.0, (requests, refused))
        bound = requests / (rpm / 60) + mean_job
        stored = figures["stored"]
        return {
            "side": side,
            "stored": stored,
            "items": n,
            "wall_s": round(wall, 1),
            "lower_bound_s": round(bound, 1),
            "wall_over_bound": round(wall / bound, 3),
            "requests": requests,
            "requests_per_video": round(requests / stored, 2) if stored else None,
            "share_429": round(refused / requests, 4) if requests else 0,
            "share_429_after_first_minute": round(late[1] / late[0], 4) if late[0] else 0,
            "peak_requests_per_minute": max(stats.get("peak_requests_per_minute", {"-": 0}).values()),
            "rate_limited": stats.get("rate_limited"),
            "mean_job_s": round(mean_job, 1),
            "load_before": load_before,
            **{k: v for k, v in figures.items() if k != "stored"},
        }
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _create_gcl(env: dict[str, str], rpm: int) -> None:
    # limit + 60 * decay <= rpm: the most slots any 60 s window can hand out.
    limit = max(1, rpm // 20)
    decay = (rpm - limit) / 60
    prefect = str(Path(sys.executable).with_name("prefect"))
    full_env = {**os.environ, **env}
    subprocess.run([prefect, "gcl", "delete", GCL_NAME], env=full_env, capture_output=True, input="y\n", text=True)
    subprocess.run(
        [prefect, "gcl", "create", GCL_NAME, "--limit", str(limit), "--slot-decay-per-second", f"{decay:.4f}"],
        env=full_env,
        check=True,
        capture_output=True,
    )


def run(*, rpms: list[int], items: int, sides: list[str], cap_minutes: float, quick: bool) -> dict[str, Any]:
    jobs = [4.0, 8.0] if quick else [30.0, 120.0]
    config = {"job_seconds_range": jobs, "synthetic_content_bytes": CONTENT_BYTES, "seed": 9}
    rows = []
    with _common.prefect_server() as prefect_env:
        for rpm in rpms:
            with _common.emulator(**config, rpm=rpm) as emu:
                if "flow-3proc-gcl" in sides:
                    _create_gcl(prefect_env, rpm)
                for side in sides:
                    row = _side(emu.url, side, rpm, items, cap_minutes * 60, prefect_env)
                    row["rpm"] = rpm
                    print(json.dumps(row), file=sys.stderr, flush=True)
                    rows.append(row)
    return {"config": config, "items": items, "rpms": rpms, "cap_minutes": cap_minutes, "runs": rows}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--side", choices=SIDES)
    parser.add_argument("--n", type=int)
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--base-url")
    parser.add_argument("--out")
    parser.add_argument("--rpm", type=lambda s: [int(x) for x in s.split(",")], default=[120, 600])
    parser.add_argument("--cap", type=float, default=600.0, help="(child) seconds before the SDK/script sides stop")
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--sides", type=lambda s: s.split(","), default=list(SIDES))
    parser.add_argument("--cap-minutes", type=float, default=10.0)
    parser.add_argument("--quick", action="store_true")
    options = parser.parse_args()
    if options.side:
        options.rpm = options.rpm[0]
        result = _child(options)
    else:
        if options.quick:
            options.rpm, options.items, options.cap_minutes = [600], 20, 2.0
        result = run(
            rpms=options.rpm,
            items=options.items,
            sides=options.sides,
            cap_minutes=options.cap_minutes,
            quick=options.quick,
        )
        result["machine"] = _common.machine()
        _common.save("ratelimit", result)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
