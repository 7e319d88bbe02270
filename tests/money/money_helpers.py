"""What the money tests read outside the code under test: the Prefect limit behind a spend limit, flow runs."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal
from typing import Any

from prefect import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.exceptions import PrefectHTTPStatusError
from servers import wait_for


def gcl(name: str) -> Any:
    """The global concurrency limit ``name`` as the server holds it (raw: cents, decay, active slots)."""

    async def read() -> Any:
        async with get_client() as client:
            return await client.read_global_concurrency_limit_by_name(name)

    return asyncio.run(read())


def create_plain_gcl(name: str, *, limit: int = 100, decay: float = 0.0) -> None:
    """A Prefect limit made without prefect-sora, as a user would with ``prefect gcl create``."""

    async def create() -> None:
        async with get_client() as client:
            await client.create_global_concurrency_limit(
                GlobalConcurrencyLimitCreate(name=name, limit=limit, slot_decay_per_second=decay)
            )

    asyncio.run(create())


def cents(usd: str) -> int:
    """Dollars as the limit counts them."""
    return int(Decimal(usd) * 100)


def paused_run(flow_name: str, idempotency_key: str, *, unless: Any = None, within: float = 90.0) -> Any:
    """The run of ``flow_name`` with this idempotency key once it is Paused (waiting for input).

    ``unless``: the future running the flow; if it ends first, its outcome is the failure shown.
    """
    deadline = time.monotonic() + within
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            if unless is not None and unless.done():
                raise AssertionError(f"the flow ended before it paused: {unless.result()!r}")
            runs = client.read_flow_runs(
                flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])),
                flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))
                ),
            )
            for run in runs:
                if run.parameters.get("idempotency_key") == idempotency_key:
                    return run
            time.sleep(0.3)
    raise AssertionError(f"no paused run of {flow_name} with key {idempotency_key!r} within {within} s")


def run_state(flow_run_id: Any) -> Any:
    """The flow run's state now."""
    with get_client(sync_client=True) as client:
        return client.read_flow_run(flow_run_id).state


def form_of(run: Any) -> tuple[str, dict[str, Any]]:
    """The description and the JSON schema the UI shows for a paused run's input.

    Prefect saves them just after it sets the Paused state (``prefect.flow_runs``), so a
    run seen Paused may not have them yet: each is waited for (404 until then).
    """
    keyset = run.state.state_details.run_input_keyset
    with get_client(sync_client=True) as client:

        def saved(key: str) -> str | None:
            try:
                return str(client.read_flow_run_input(run.id, key))
            except PrefectHTTPStatusError as exc:
                if exc.response.status_code == 404:
                    return None
                raise

        description = wait_for(lambda: saved(keyset["description"]), 30, "the paused run's description")
        schema = wait_for(lambda: saved(keyset["schema"]), 30, "the paused run's input schema")
    return json.loads(description), json.loads(schema)
