"""Price arithmetic: list prices per tier, exact Decimal totals, overrides merged tier by tier."""

from __future__ import annotations

from decimal import Decimal

import pytest

from prefect_sora._errors import BudgetExceeded, InvalidParameter
from prefect_sora._pricing import check_budget, estimate, price_table, sizes_for, tier_of


@pytest.mark.parametrize(
    ("model", "size", "tier", "rate"),
    [
        ("sora-2", "720x1280", "720p", "0.10"),
        ("sora-2", "1280x720", "720p", "0.10"),
        ("sora-2-pro", "1280x720", "720p", "0.30"),
        ("sora-2-pro", "1024x1792", "1024p", "0.50"),
        ("sora-2-pro", "1792x1024", "1024p", "0.50"),
        ("sora-2-pro", "1080x1920", "1080p", "0.70"),
        ("sora-2-pro", "1920x1080", "1080p", "0.70"),
    ],
)
def test_every_tier_is_priced_at_its_list_price(model: str, size: str, tier: str, rate: str) -> None:
    cost = estimate(model, size, 4)

    assert cost.tier == tier
    assert cost.usd_per_second == Decimal(rate)
    assert cost.total_usd == Decimal(rate) * 4


def test_totals_are_exact_decimals() -> None:
    cost = estimate("sora-2-pro", "1920x1080", 12, count=3)

    assert cost.total_usd == Decimal("25.20")
    assert str(cost.total_usd) == "25.20"
    # Floats would give 0.30000000000000004 for three 1-second sora-2 clips.
    assert estimate("sora-2", "720x1280", 1, count=3).total_usd == Decimal("0.30")


def test_an_override_replaces_one_tier_and_keeps_the_others() -> None:
    table = price_table({"sora-2-pro": {"1080p": 0.65}})

    assert estimate("sora-2-pro", "1920x1080", 4, table=table).total_usd == Decimal("2.60")
    assert estimate("sora-2-pro", "1280x720", 4, table=table).total_usd == Decimal("1.20")
    assert table["sora-2-pro"]["1080p"] == Decimal("0.65")  # from the float's text, no binary artefact


def test_an_override_can_open_a_new_tier_for_a_model() -> None:
    table = price_table({"sora-2": {"1080p": "0.40"}})

    assert sizes_for("sora-2", table) == ("720x1280", "1280x720", "1080x1920", "1920x1080")
    assert sizes_for("sora-2", price_table()) == ("720x1280", "1280x720")


@pytest.mark.parametrize(
    "overrides",
    [
        {"sora-2": {"4k": "1.00"}},
        {"sora-2": {"720p": "-0.01"}},
        {"sora-2": {"720p": "NaN"}},
        {"sora-2": {"720p": "inf"}},
    ],
)
def test_a_bad_override_is_refused(overrides: dict[str, dict[str, str]]) -> None:
    with pytest.raises(InvalidParameter) as caught:
        price_table(overrides)

    assert caught.value.param == "price_overrides"


def test_count_zero_costs_nothing() -> None:
    assert estimate("sora-2-pro", "1920x1080", 12, count=0).total_usd == Decimal("0")


def test_a_size_outside_every_tier_has_no_tier() -> None:
    assert tier_of("640x480") is None
    with pytest.raises(InvalidParameter, match="size"):
        estimate("sora-2", "1920x1080", 4)


def test_the_actual_cost_of_a_job_is_its_requests_price_once_completed_and_zero_otherwise() -> None:
    from prefect_sora._models import Video, VideoRequest
    from prefect_sora._pricing import actual_cost

    request = VideoRequest(prompt="p", model="sora-2-pro", size="1920x1080", seconds="8")

    def job(status: str) -> Video:
        # As a gateway reports it: no seconds, no size, the deployment's name as the model.
        return Video(id="video_1", status=status, model="my-deployment", size=None, seconds=None)

    assert actual_cost(job("completed"), request) == Decimal("5.60")
    assert actual_cost(job("succeeded"), request) == Decimal("5.60")
    assert actual_cost(job("failed"), request) == Decimal("0")
    assert actual_cost(job("cancelled"), request) == Decimal("0")
    assert actual_cost(job("in_progress"), request) == Decimal("0")
    assert actual_cost(job("completed"), request, price_table({"sora-2-pro": {"1080p": "0.5"}})) == Decimal("4.0")


@pytest.mark.parametrize("budget", [None, "0.80", 0.8, Decimal("0.80"), 1, "1e3"])
def test_a_budget_at_or_over_the_estimate_lets_the_job_through(budget: object) -> None:
    check_budget(Decimal("0.80"), budget)  # type: ignore[arg-type]


def test_a_budget_under_the_estimate_refuses_with_both_amounts() -> None:
    with pytest.raises(BudgetExceeded) as refused:
        check_budget(Decimal("0.80"), "0.79")

    assert (refused.value.estimated_usd, refused.value.max_cost_usd) == (Decimal("0.80"), Decimal("0.79"))


@pytest.mark.parametrize("budget", [-1, "-0.01", "NaN", float("nan"), float("inf"), "Infinity", "ten", True])
def test_a_budget_that_is_no_finite_amount_is_refused_as_a_parameter(budget: object) -> None:
    with pytest.raises(InvalidParameter) as refused:
        check_budget(Decimal("0"), budget)  # type: ignore[arg-type]

    assert refused.value.param == "max_cost_usd"
