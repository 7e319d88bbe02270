"""The goals each benchmark is held to, and BENCHMARKS.md rendered from bench/results/*.json.

Everything above the ``<!-- end of generated figures -->`` marker in BENCHMARKS.md is
rewritten from the results; everything below it (what was tried, by hand) is kept.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import _common

MARKER = "<!-- end of generated figures -->"
ORDER = ("polling", "fanout", "download", "capacity", "import")


def _goal(goal: str, measured: str, met: bool) -> dict[str, Any]:
    return {"goal": goal, "measured": measured, "met": bool(met)}


def goals(name: str, figures: dict[str, Any]) -> list[dict[str, Any]]:
    """Each goal of benchmark `name` with the figure it is judged on."""
    if name == "polling":
        main = figures["scenarios"][0]
        ours = main["ours"]
        return [
            _goal("GETs per job at most 1/5 of the SDK's", f"{main['gets_ratio']:.3f}", main["gets_ratio"] <= 0.2),
            _goal("median detection delay <= 1.0 s", f"{ours['delay_median_s']:.2f} s", ours["delay_median_s"] <= 1.0),
            _goal("p95 detection delay <= 2.0 s", f"{ours['delay_p95_s']:.2f} s", ours["delay_p95_s"] <= 2.0),
        ]
    if name == "fanout":
        found = []
        for row in figures["sizes"]:
            n = row["items"]
            limit = 5.0 if n <= 100 else 30.0
            found.append(
                _goal(
                    f"overhead at {n:,} items <= {limit:.0f} s",
                    f"{row['overhead_median_s']:.1f} s",
                    row["overhead_median_s"] <= limit,
                )
            )
            if n >= 1000:
                peak = row["flow_peak_rss_mb"]
                found.append(_goal(f"flow peak RSS at {n:,} items <= 500 MB", f"{peak:.0f} MB", peak <= 500))
        return found
    if name == "download":
        summary = figures["summary"]
        found = []
        for case in ("file", "memory"):
            ratio = summary[case]["ratio_to_raw"]
            growth = summary[case]["growth_beyond_stored_mb_max"]
            found.append(_goal(f"{case}: throughput >= 0.9 of the raw loop", f"{ratio:.2f}", ratio >= 0.9))
            beyond = " beyond the stored bytes" if case == "memory" else ""
            found.append(_goal(f"{case}: peak memory growth{beyond} <= 64 MB", f"{growth:.0f} MB", growth <= 64))
        return found
    if name == "capacity":
        best = max(figures["runs"], key=lambda run: run["polls_per_second"] or 0)
        return [
            _goal(
                f"holds {figures['jobs']:,} jobs",
                f"{best['jobs_held_by_emulator']:,}",
                best["jobs_held_by_emulator"] >= figures["jobs"],
            ),
            _goal("answers 500+ polls/s", f"{best['polls_per_second']:.0f}/s", (best["polls_per_second"] or 0) >= 500),
        ]
    if name == "import":
        forbidden = [module for module, present in figures["forbidden_after_tasks"].items() if present]
        ours = [
            module
            for module in forbidden
            if module.startswith("prefect_sora") or not figures["already_imported_by_prefect"][module]
        ]
        return [
            _goal(
                "prefect_sora.tasks adds no emulator, media library, SDK or web framework",
                ", ".join(ours) or "none added",
                not ours,
            )
        ]
    return []


# -- rendering ---------------------------------------------------------------------------


def _header(result: dict[str, Any]) -> str:
    machine = result["machine"]
    quick = " (quick smoke mode)" if result.get("quick") else ""
    return (
        f"Command: `{result['command']}`{quick}; {machine['date']}; {machine['cores']} cores; "
        f"load (1/5/15 min) {_load(machine['load_before'])} before, {_load(machine['load_after'])} after; "
        f"Python {machine['python']}, Prefect {machine['prefect']}; took {result['seconds']:.0f} s.\n"
    )


def _load(values: list[float]) -> str:
    return "/".join(f"{v:.2f}" for v in values)


def _goals_table(result: dict[str, Any]) -> str:
    lines = ["| goal | measured | |", "|---|---|---|"]
    for goal in result["goals"]:
        lines.append(f"| {goal['goal']} | {goal['measured']} | {'pass' if goal['met'] else '**miss**'} |")
    return "\n".join(lines) + "\n"


def _polling(result: dict[str, Any]) -> str:
    out = [
        "Ours: `wait_for_video` on a `SoraClient` (the loop inside `await_video` and the batch flow), no Prefect "
        "bookkeeping. SDK: `AsyncOpenAI().videos.poll(id)` at its default interval (the emulator sends no "
        "`openai-poll-after-ms`). Each side on its own emulator process, same config and seed, both at once. "
        "GETs from the emulator's counters; delay = waiter returned minus the job's precise completion time.\n",
        "| scenario | waiter | jobs | GETs per job | ours / SDK | median delay | p95 delay | max delay |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in result["figures"]["scenarios"]:
        sides = [side for side in ("ours", "sdk", "before") if side in row]
        for side in sides:
            figures = row[side]
            ratio = {"ours": f"{row['gets_ratio']:.3f}", "before": f"{row.get('gets_ratio_before', 0):.3f}"}
            name = {"ours": "ours", "sdk": "SDK poll", "before": "ours, before this change"}[side]
            out.append(
                f"| {row['scenario']} | {name} | {figures['jobs']} | {figures['gets_per_job']:.2f} | "
                f"{ratio.get(side, '')} | {figures['delay_median_s']:.2f} s | {figures['delay_p95_s']:.2f} s | "
                f"{figures['delay_max_s']:.2f} s |"
            )
    out.append("")
    seeds = [
        f"seed {run['seed']}: {run['ours']['gets_per_job']:.2f} vs {run['sdk']['gets_per_job']:.2f} GETs, "
        f"p95 {run['ours']['delay_p95_s']:.2f} s"
        for run in result["figures"]["scenarios"][0]["runs"]
    ]
    out.append("Per seed (first scenario): " + "; ".join(seeds) + ".\n")
    return "\n".join(out)


def _fanout(result: dict[str, Any]) -> str:
    figures = result["figures"]
    out = [
        "Every side makes N videos, all N at once (jobs of 10-20 s, 1 MiB bodies), from an emulator in its own "
        "process (reset before each run), with one `prefect server start` up before any timing; sides alternate. "
        "`script`: a minimal asyncio + httpx script (create, poll every second, stream to disk) on one client with "
        "SoraClient's 64-connection pool; `script-gated`: the same with an asyncio semaphore letting 64 requests "
        "into httpx at a time; `flow`: `batch_text_to_video(concurrency=N)`, whose SoraClient gates its "
        "own requests the same way. Overhead = flow minus the faster script. Prefect calls counted on "
        "Prefect's own httpx clients and events emitter.\n",
        "| items | script | script-gated | flow | overhead (flow - faster script) "
        "| peak RSS flow / script | Prefect HTTP / video | Prefect events / video "
        "| emulator GETs / video (script, flow) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in figures["sizes"]:
        walls, rss, gets = row["wall_s"], row["peak_rss_mb"], row["emulator_gets_per_video"]
        out.append(
            f"| {row['items']:,} | {_seconds(walls['script'])} | {_seconds(walls['script-gated'])} | "
            f"{_seconds(walls['flow'])} | {_seconds(row['overhead_s'])} | "
            f"{rss['flow']:.0f} / {rss['script']:.0f} MB | {row['prefect_http_per_video']:.2f} | "
            f"{row['prefect_events_per_video']:.2f} | {gets['script']:.1f}, {gets['flow']:.1f} |"
        )
    out.append("")
    for row in figures["sizes"]:
        http = ", ".join(f"{kind} x{count}" for kind, count in row["prefect_http_by_kind"].items())
        events = ", ".join(f"{kind} x{count}" for kind, count in row["prefect_events_by_kind"].items())
        out.append(f"- {row['items']:,} items, Prefect HTTP: {http}. Events: {events}.")
    return "\n".join(out) + "\n"


def _seconds(values: list[float]) -> str:
    return ", ".join(f"{v:.1f}" for v in values) + " s"


def _download(result: dict[str, Any]) -> str:
    figures = result["figures"]
    out = [
        f"{figures['bytes'] / (1 << 20):,.0f} MiB synthetic body, emulator in its own process, each case in a fresh "
        f"process, {figures['rounds']} rounds alternating. `file` and `memory` are "
        "`prefect_sora._durable.download.download` (what `fetch_video` runs); "
        "`raw` is `httpx` `aiter_bytes()` + `file.write`, `raw-sha256` the "
        "same hashing what it writes, `raw-1mib` the raw loop with `aiter_bytes(1 << 20)`. Growth = RSS high-water "
        "minus RSS just before the download.\n",
        "| case | MiB/s (median; runs) | ratio to raw | CPU s (median) | peak RSS growth "
        "| growth beyond stored bytes |",
        "|---|---|---|---|---|---|",
    ]
    for case, row in figures["summary"].items():
        runs = ", ".join(f"{v:.0f}" for v in row["mib_per_s"])
        ratio = f"{row['ratio_to_raw']:.2f}" if "ratio_to_raw" in row else "1"
        out.append(
            f"| {case} | {row['mib_per_s_median']:.0f} ({runs}) | {ratio} | {row['cpu_s_median']:.2f} | "
            f"{row['growth_mb_max']:.0f} MB | {row['growth_beyond_stored_mb_max']:.0f} MB |"
        )
    return "\n".join(out) + "\n"


def _capacity(result: dict[str, Any]) -> str:
    out = [
        "`bench/emulator_capacity.py`: the emulator (`python -m prefect_sora.emulator`) in its own process, "
        "jobs created 50 at a time, then polled round-robin by 16 clients.\n",
        "| poller processes | jobs held | creates/s | polls/s | latency p50 / p95 / p99 | errors "
        "| emulator CPU share |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in result["figures"]["runs"]:
        out.append(
            f"| {run['poll_processes']} | {run['jobs_held_by_emulator']:,} | {run['creates_per_second']:.0f} | "
            f"{run['polls_per_second']:.0f} | {run['latency_ms_p50']:.1f} / {run['latency_ms_p95']:.1f} / "
            f"{run['latency_ms_p99']:.1f} ms | {run['create_errors'] + run['poll_errors']} | "
            f"{run['server_cpu_share_while_polling']} |"
        )
    return "\n".join(out) + "\n"


def _import(result: dict[str, Any]) -> str:
    figures = result["figures"]
    prefect_has = [m for m, present in figures["already_imported_by_prefect"].items() if present]
    after = [m for m, present in figures["forbidden_after_tasks"].items() if present]
    runs = ", ".join(f"{v:.0f}" for v in figures["tasks_beyond_prefect_ms"])
    added = ", ".join(figures["top_level_packages_added_by_tasks"]) or "none"
    return (
        f"Fresh interpreter per measurement, median of {figures['rounds']}.\n\n"
        "| import | median |\n|---|---|\n"
        f"| `import prefect` | {figures['import_prefect_ms_median']:.0f} ms |\n"
        f"| `import prefect` then `import prefect_sora.tasks` | "
        f"{figures['import_prefect_then_tasks_ms_median']:.0f} ms |\n"
        f"| `prefect_sora.tasks` beyond `prefect` | {figures['tasks_beyond_prefect_ms_median']:.0f} ms ({runs}) |\n\n"
        f"- Of {', '.join(figures['forbidden_after_tasks'])}: loaded after `import prefect_sora.tasks`: "
        f"{', '.join(after) or 'none'}; already loaded by `import prefect` alone: {', '.join(prefect_has) or 'none'}.\n"
        f"- Top-level packages `prefect_sora.tasks` adds beyond Prefect's: {added} "
        f"({figures['modules_added_by_tasks']} modules in all, {len(figures['prefect_sora_modules_loaded'])} "
        f"of them ours, {len(figures['prefect_modules_added_by_tasks'])} of Prefect's own that `import prefect` "
        "leaves unloaded).\n"
        "- Slowest of the added modules (own import time, `-X importtime`): "
        + ", ".join(f"`{name}` {ms:.1f} ms" for name, ms in figures["slowest_added_ms_self"])
        + ".\n"
    )


SECTIONS = {
    "polling": ("1. Polling", _polling),
    "fanout": ("2. Fan-out", _fanout),
    "download": ("3. Download", _download),
    "capacity": ("4. Emulator capacity", _capacity),
    "import": ("5. Import cost", _import),
}

INTRO = """# Benchmarks

Measured against the bundled emulator, by one command:

```bash
python bench/run.py --polling-baseline 099a354^   # all; --only polling,fanout,...; --quick to smoke
```

(`pip install -e ".[bench]"` first: the `openai` SDK; `py-spy` too for `bench/fanout.py
--profile-flow`.) A full run takes about 15 minutes on 2 cores. Figures are ratios or
counts measured side by side in the same run, because absolute times drift with the
load of a shared machine; each section says when, on how many cores and under what
load it was measured. Benchmarks are not tests and do not run in CI.
"""


def render(results: Path, target: Path | None = None) -> Path:
    """Write BENCHMARKS.md from every result in `results`, keeping the hand-written tail.

    A benchmark with no result in `results` (``bench/results`` is not committed) keeps
    its section as the file already has it, so ``--only`` on a fresh clone refreshes one
    section without dropping the others.
    """
    target = target or _common.ROOT / "BENCHMARKS.md"
    text = target.read_text() if target.exists() else ""
    head, _, kept = text.partition(MARKER)
    old_sections = _sections(head)
    parts = [INTRO, "## Summary\n", "| benchmark | goal | measured | |", "|---|---|---|---|"]
    bodies = []
    for name in ORDER:
        title, body = SECTIONS[name]
        path = results / f"{name}.json"
        if path.exists():
            result = json.loads(path.read_text())
            rows = [(goal["goal"], goal["measured"], "pass" if goal["met"] else "**miss**") for goal in result["goals"]]
            bodies.append("\n".join([f"## {title}\n", _header(result), _goals_table(result), body(result)]))
        elif title in old_sections:
            rows = _goal_rows(old_sections[title])
            bodies.append(f"## {title}\n{old_sections[title]}")
        else:
            continue
        parts += [f"| {name} | {goal} | {measured} | {mark} |" for goal, measured, mark in rows]
    parts.append("")
    target.write_text("\n".join(parts + bodies).rstrip("\n") + f"\n\n{MARKER}{kept or chr(10)}")
    return target


def _sections(text: str) -> dict[str, str]:
    """The generated sections of an existing BENCHMARKS.md, by title, without their heading line."""
    found = {}
    for chunk in text.split("\n## ")[1:]:
        title, _, body = chunk.partition("\n")
        if title in {title for title, _ in SECTIONS.values()}:
            found[title] = body.rstrip("\n") + "\n"
    return found


def _goal_rows(section: str) -> list[tuple[str, str, str]]:
    """(goal, measured, mark) from a section's goals table."""
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| ") and len(cells) == 3 and cells[0] != "goal" and cells[2] in ("pass", "**miss**"):
            rows.append((cells[0], cells[1], cells[2]))
    return rows
