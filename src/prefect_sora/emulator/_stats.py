"""Counters of what the emulator served, so tests can assert "exactly one create".

Endpoint counters (`creates`, `polls`, `downloads`, `extensions`, `edits`, `characters`,
...) count requests the API answered with success; a request answered by an injected fault
or refused with a 4xx does not count there. `requests_total`, `responses_by_status` and
`faults` count every `/v1` request, whatever happened to it; `rate_limited` counts the
429s by cause (`rpm`: the key's bucket was empty, `running_jobs`: the key had
`max_running_jobs` jobs running, `fault`: an injected 429). `api_versions_seen` lists the
``api-version`` query values clients sent (Azure's). `misrouted` counts requests by an
id only a status answer echoed (`echo_id`), which a real gateway sends elsewhere. The per-key counters
(`requests_by_key`, `peak_requests_per_minute`, `peak_accepted_per_minute`) come from
`prefect_sora.emulator._limits`. Admin routes (`/_emulator/...`) are never counted.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field


@dataclass
class Stats:
    """Mutable counters; the owner serialises access (see `EmulatorState`)."""

    requests_total: int = 0
    creates: int = 0
    remixes: int = 0
    extensions: int = 0
    edits: int = 0
    characters: int = 0
    lists: int = 0
    deletes: int = 0
    misrouted: int = 0
    polls: Counter[str] = field(default_factory=Counter)
    downloads: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    faults: Counter[str] = field(default_factory=Counter)
    responses_by_status: Counter[int] = field(default_factory=Counter)
    rate_limited: Counter[str] = field(default_factory=Counter)
    api_versions_seen: set[str] = field(default_factory=set)

    def snapshot(self) -> dict[str, object]:
        """A JSON-ready copy of every counter."""
        by_variant: Counter[str] = Counter()
        for per_job in self.downloads.values():
            by_variant.update(per_job)
        return {
            "requests_total": self.requests_total,
            "responses_by_status": {str(status): count for status, count in sorted(self.responses_by_status.items())},
            "creates": self.creates,
            "remixes": self.remixes,
            "extensions": self.extensions,
            "edits": self.edits,
            "characters": self.characters,
            "lists": self.lists,
            "deletes": self.deletes,
            "misrouted": self.misrouted,
            "polls_total": sum(self.polls.values()),
            "polls": dict(self.polls),
            "downloads_total": sum(by_variant.values()),
            "downloads_by_variant": dict(by_variant),
            "downloads": {job: dict(per_job) for job, per_job in self.downloads.items()},
            "faults_total": sum(self.faults.values()),
            "faults": dict(self.faults),
            "rate_limited": {cause: self.rate_limited[cause] for cause in ("rpm", "running_jobs", "fault")},
            "api_versions_seen": sorted(self.api_versions_seen),
        }
