"""estimate_cost: list prices per tier, exact totals, the block's and the caller's overrides, and no request."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from prefect import flow

from prefect_sora._errors import InvalidParameter
from prefect_sora._pricing import CostEstimate
from prefect_sora.blocks import SoraCredentials
from prefect_sora.emulator import Emulator
from prefect_sora.tasks import estimate_cost


@pytest.mark.parametrize(
    ("model", "size", "rate"),
    [
        ("sora-2", "720x1280", "0.10"),
        ("sora-2-pro", "1280x720", "0.30"),
        ("sora-2-pro", "1792x1024", "0.50"),
        ("sora-2-pro", "1080x1920", "0.70"),
    ],
)
def test_each_tier_costs_its_list_price_per_second(model: str, size: str, rate: str) -> None:
    cost = estimate_cost(model=model, size=size, seconds=4)

    assert cost.usd_per_second == Decimal(rate)
    assert cost.total_usd == Decimal(rate) * 4


def test_three_twelve_second_1080p_videos_cost_exactly_25_20_in_a_flow() -> None:
    @flow
    def price() -> CostEstimate:
        return estimate_cost(model="sora-2-pro", size="1920x1080", seconds=12, count=3)

    cost = price()

    assert cost.total_usd == Decimal("25.20")
    assert (cost.tier, cost.seconds, cost.count) == ("1080p", 12, 3)


def test_the_blocks_overrides_apply_and_the_arguments_win_over_them(sora_emulator: Emulator) -> None:
    credentials = SoraCredentials(
        api_key="sk-test",
        base_url=sora_emulator.base_url,
        price_overrides={"sora-2-pro": {"1080p": Decimal("0.60"), "720p": Decimal("0.25")}},
    )

    from_block = estimate_cost(model="sora-2-pro", size="1920x1080", seconds=8, credentials=credentials)
    from_argument = estimate_cost(
        model="sora-2-pro",
        size="1920x1080",
        seconds=8,
        credentials=credentials,
        price_overrides={"sora-2-pro": {"1080p": "0.55"}},
    )
    untouched_tier = estimate_cost(
        model="sora-2-pro", size="1280x720", seconds=8, credentials=credentials, price_overrides={"sora-2-pro": {}}
    )

    assert from_block.total_usd == Decimal("4.80")
    assert from_argument.total_usd == Decimal("4.40")
    assert untouched_tier.total_usd == Decimal("2.00")  # the block's 720p price survives the argument's merge
    assert sora_emulator.stats()["requests_total"] == 0


def test_a_model_priced_by_an_override_can_be_estimated() -> None:
    cost = estimate_cost(
        model="sora-2-lite", size="1280x720", seconds=8, price_overrides={"sora-2-lite": {"720p": 0.05}}
    )

    assert cost.total_usd == Decimal("0.40")


def test_count_zero_costs_nothing() -> None:
    assert estimate_cost(model="sora-2-pro", size="1920x1080", seconds=12, count=0).total_usd == Decimal("0")


@pytest.mark.parametrize(
    ("arguments", "param"),
    [
        ({"count": -1}, "count"),
        ({"count": True}, "count"),
        ({"count": 1.5}, "count"),
        ({"seconds": 10}, "seconds"),
        ({"size": "1920x1080"}, "size"),
        ({"model": "sora-3"}, "model"),
        ({"price_overrides": {"sora-2": {"720p": -1}}}, "price_overrides"),
    ],
)
def test_bad_arguments_are_refused_by_name(arguments: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        estimate_cost(**arguments)

    assert caught.value.param == param
