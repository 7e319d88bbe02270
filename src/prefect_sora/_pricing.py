"""Prices of Sora 2 video by model and resolution tier, and the cost arithmetic.

Billing happens when a job completes: seconds x the per-second rate of the
model's tier. Submitting, polling and downloading are free and failed jobs cost
nothing. Gateways may price differently, so every function takes an optional
override table that is merged over the list prices.

The price table is also the source of truth for which sizes a model accepts:
a model takes the sizes of the tiers it has a price for.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict

from prefect_sora._errors import BudgetExceeded, InvalidParameter
from prefect_sora._models import Video, VideoRequest

Tier = Literal["720p", "1024p", "1080p"]

TIER_SIZES: Mapping[Tier, tuple[str, str]] = {
    "720p": ("720x1280", "1280x720"),
    "1024p": ("1024x1792", "1792x1024"),
    "1080p": ("1080x1920", "1920x1080"),
}

#: List prices in USD per second of generated video (2026).
LIST_PRICES: Mapping[str, Mapping[Tier, Decimal]] = {
    "sora-2": {"720p": Decimal("0.10")},
    "sora-2-pro": {"720p": Decimal("0.30"), "1024p": Decimal("0.50"), "1080p": Decimal("0.70")},
}

Rate = Decimal | float | int | str
#: model -> tier -> USD per second; what users pass to override list prices.
PriceOverrides = Mapping[str, Mapping[str, Rate]]
PriceTable = dict[str, dict[Tier, Decimal]]


def to_decimal(value: Rate) -> Decimal:
    """Turn a user-supplied amount into a Decimal without float artefacts (0.1 -> 0.1)."""
    return value if isinstance(value, Decimal) else Decimal(str(value))


def price_table(overrides: PriceOverrides | None = None) -> PriceTable:
    """Merge ``overrides`` over the list prices, tier by tier.

    Args:
        overrides: ``{model: {tier: usd_per_second}}``; a new model is allowed
            with the sizes of the tiers it is given a price for.

    Returns:
        The effective table.

    Raises:
        InvalidParameter: an unknown tier or a negative price.
    """
    table: PriceTable = {model: dict(tiers) for model, tiers in LIST_PRICES.items()}
    for model, tiers in (overrides or {}).items():
        for tier, rate in tiers.items():
            if tier not in TIER_SIZES:
                raise InvalidParameter("price_overrides", {model: {tier: rate}}, f"tiers are {', '.join(TIER_SIZES)}")
            amount = to_decimal(rate)
            if not amount.is_finite() or amount < 0:
                raise InvalidParameter("price_overrides", {model: {tier: rate}}, "a price is a non-negative number")
            table.setdefault(model, {})[tier] = amount  # type: ignore[index]
    return table


def tier_of(size: str) -> Tier | None:
    """The resolution tier of a size such as ``"1280x720"``, or None if it is not a Sora size."""
    for tier, sizes in TIER_SIZES.items():
        if size in sizes:
            return tier
    return None


def sizes_for(model: str, table: PriceTable) -> tuple[str, ...]:
    """The sizes ``model`` accepts: those of the tiers it has a price for."""
    return tuple(size for tier in TIER_SIZES if tier in table.get(model, {}) for size in TIER_SIZES[tier])


class CostEstimate(BaseModel):
    """What a request will cost if every job completes.

    Attributes:
        model: The model priced.
        size: The requested size.
        tier: The resolution tier the size falls in.
        seconds: Seconds of video per job.
        count: Number of jobs.
        usd_per_second: The rate used.
        total_usd: ``seconds x count x usd_per_second``.
    """

    model_config = ConfigDict(frozen=True)

    model: str
    size: str
    tier: Tier
    seconds: int
    count: int
    usd_per_second: Decimal
    total_usd: Decimal


def estimate(model: str, size: str, seconds: int, count: int = 1, table: PriceTable | None = None) -> CostEstimate:
    """Price ``count`` jobs of ``seconds`` each; arguments are assumed validated.

    Raises:
        InvalidParameter: the model has no price for this size's tier.
    """
    table = table if table is not None else price_table()
    tier = tier_of(size)
    rate = table.get(model, {}).get(tier) if tier else None
    if tier is None or rate is None:
        raise InvalidParameter("size", size, f"{model} accepts {', '.join(sizes_for(model, table)) or 'no size'}")
    return CostEstimate(
        model=model,
        size=size,
        tier=tier,
        seconds=seconds,
        count=count,
        usd_per_second=rate,
        total_usd=rate * seconds * count,
    )


def check_budget(estimated: Decimal, max_cost_usd: Rate | None) -> None:
    """Refuse before anything is submitted when ``estimated`` is over ``max_cost_usd`` (None: no budget).

    The one budget check of the package: the tasks that price a job (extend, edit)
    and the flows call it alike.

    Raises:
        BudgetExceeded: the estimate is higher than the budget.
        InvalidParameter: a budget that is not a finite number >= 0 (negative, NaN,
            infinite, a bool or text that is no number).
    """
    if max_cost_usd is None:
        return
    try:
        limit = None if isinstance(max_cost_usd, bool) else to_decimal(max_cost_usd)
    except ArithmeticError:  # decimal.InvalidOperation: text that is no number
        limit = None
    if limit is None or not limit.is_finite() or limit < 0:
        raise InvalidParameter("max_cost_usd", max_cost_usd, "must be a number >= 0")
    if estimated > limit:
        raise BudgetExceeded(estimated, limit)


def actual_cost(video: Video, request: VideoRequest, table: PriceTable | None = None) -> Decimal:
    """What a finished job was billed: the request's price once the job ``completed``, else 0.

    Priced from the request (model, size, seconds), never from the job: gateways
    leave ``seconds`` and ``size`` null, and echo a deployment name as ``model``.
    Jobs that failed, were cancelled or are still pending are not billed.
    """
    if not video.is_completed:
        return Decimal("0")
    return estimate(request.model, request.size, int(request.seconds), 1, table).total_usd
