"""Reading a run's events back from the Prefect server's API, as an automation or the Event Feed sees them."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
from prefect.events.worker import EventsWorker

Event = dict[str, Any]


def read_events(
    api_url: str,
    *,
    until: Callable[[list[Event]], bool],
    resource_ids: list[str] | None = None,
    prefix: str = "sora.video.",
    related: str | None = None,
    timeout: float = 60.0,
) -> list[Event]:
    """The events named ``prefix*`` (of ``resource_ids`` or related to ``related``), oldest first, once ``until`` holds.

    Events reach the server through Prefect's events worker and are written by the
    server's event persister in batches, so this drains the worker and polls.
    """
    EventsWorker.drain_all(timeout=10)
    body: dict[str, Any] = {"event": {"prefix": [prefix]}, "order": "ASC"}
    if resource_ids is not None:
        body["resource"] = {"id": resource_ids}
    if related is not None:
        body["any_resource"] = {"id": [related]}
    deadline = time.monotonic() + timeout
    while True:
        found = httpx.post(f"{api_url}/events/filter", json={"filter": body, "limit": 50}, timeout=10)
        events: list[Event] = found.raise_for_status().json()["events"]
        if until(events) or time.monotonic() > deadline:
            return events
        time.sleep(0.5)


def named(events: list[Event]) -> list[str]:
    return [event["event"] for event in events]


def related_of(event: Event) -> dict[str, dict[str, str]]:
    """The event's related resources by role (a role that repeats, e.g. tag, keeps the last)."""
    return {resource["prefect.resource.role"]: resource for resource in event["related"]}
