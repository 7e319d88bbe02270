"""The estimate_cost task: what a request will cost, computed before anything is submitted."""

from __future__ import annotations

from typing import Any

from prefect_sora._errors import InvalidParameter
from prefect_sora._pricing import CostEstimate, PriceOverrides, estimate, price_table
from prefect_sora._validation import check_model, check_size, normalize_seconds
from prefect_sora.blocks._credentials import SoraCredentials
from prefect_sora.tasks._dispatch import dual_task


# Async like every task (awaited in async flows, a value in sync ones), though it
# makes no request: one calling convention for all of them.
@dual_task(name="estimate-cost", positional=("size", "seconds", "count"))
async def estimate_cost(
    model: str = "sora-2",
    *,
    size: str = "720x1280",
    seconds: str | int = "4",
    count: int = 1,
    credentials: SoraCredentials | None = None,
    price_overrides: PriceOverrides | None = None,
) -> CostEstimate:
    """Estimate the cost of ``count`` videos at the per-second rate of the model's tier.

    List prices are sora-2 720p $0.10/s, sora-2-pro 720p $0.30/s, 1024p $0.50/s and
    1080p $0.70/s; ``price_overrides`` (or the block's) replace them. Billing only
    happens for completed jobs, so this is the most a request can cost. Makes no
    HTTP request. Like every task here, it is awaited in an async flow and returns
    the estimate in a sync one.

    Args:
        model: ``sora-2`` or ``sora-2-pro`` (or a model given a price).
        size: ``WIDTHxHEIGHT`` within the model's tiers.
        seconds: ``"4"``, ``"8"``, ``"12"`` (or the ints).
        count: How many videos.
        credentials: Use this block's price overrides.
        price_overrides: ``{model: {tier: usd_per_second}}``, applied over the block's.

    Returns:
        The estimate, with ``total_usd`` as a Decimal and the rate and tier used.

    Raises:
        InvalidParameter: a parameter breaks the API's rules.

    Example:
        ```python
        from prefect import flow
        from prefect_sora.tasks import estimate_cost

        @flow
        def price_check() -> str:
            estimate = estimate_cost(model="sora-2-pro", size="1920x1080", seconds=8, count=3)
            return str(estimate.total_usd)  # "16.80"
        ```
    """
    overrides: dict[str, Any] = {}
    for source in (credentials.price_overrides if credentials else None, price_overrides):
        for name, tiers in (source or {}).items():
            overrides.setdefault(name, {}).update(tiers)
    table = price_table(overrides)
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise InvalidParameter("count", count, "must be a whole number >= 0")
    model = check_model(model, table)
    return estimate(model, check_size(size, model, table), int(normalize_seconds(seconds)), count, table)
