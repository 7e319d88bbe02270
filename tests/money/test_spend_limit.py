"""A spend limit on the Prefect server: each job's estimate reserved before its create, refusals, give-backs."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

import pytest
from money_helpers import cents, create_plain_gcl, gcl
from pydantic import ValidationError

from prefect_sora._errors import BatchIncomplete, InvalidParameter, SpendLimitReached, VideoNotStored
from prefect_sora._models import VideoRequest
from prefect_sora._spend import limit_name as prefect_name
from prefect_sora.blocks import SoraCredentials
from prefect_sora.emulator import Emulator
from prefect_sora.flows import batch_text_to_video, text_to_video
from prefect_sora.tasks._spend import SpendGuard, create_spend_limit, read_spend_limit

DAY = 86400.0


def make_limit(name: str, usd: str, window: float = DAY) -> None:
    asyncio.run(create_spend_limit(name, usd_limit=Decimal(usd), window_seconds=window))


def limited(credentials: SoraCredentials, name: str) -> SoraCredentials:
    return credentials.model_copy(update={"spend_limit_name": name})


def test_a_limit_reached_mid_batch_refuses_the_items_that_do_not_fit_and_a_rerun_resumes_them(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str, limit_name: str
) -> None:
    make_limit(limit_name, "1.00")  # room for two $0.40 videos, not three
    requests = [VideoRequest(prompt=f"A paper boat, take {i}") for i in range(4)]
    creds = limited(credentials, limit_name)

    with pytest.raises(BatchIncomplete, match="2 of 4 videos stored") as incomplete:
        asyncio.run(batch_text_to_video(requests, out=out, credentials=creds, idempotency_key="capped-1"))
    batch = incomplete.value.result

    assert sorted(item.status for item in batch.items) == ["refused", "refused", "stored", "stored"]
    assert sora_emulator.stats()["creates"] == 2
    assert batch.actual_usd == Decimal("0.80")
    for item in batch.items:
        if item.status == "refused":
            assert item.video_id is None and item.actual_usd == 0
            assert item.error_type == "SpendLimitReached" and repr(limit_name) in (item.error or "")
            assert "needs $0.40, $0.20 left" in (item.error or "")
    state = asyncio.run(read_spend_limit(limit_name))
    assert (state.spent_usd, state.remaining_usd) == (Decimal("0.80"), Decimal("0.20"))

    # Raised to $2: the same key resumes, creating only the two refused videos.
    make_limit(limit_name, "2.00")
    rerun = asyncio.run(batch_text_to_video(requests, out=out, credentials=creds, idempotency_key="capped-1"))

    assert [item.status for item in rerun.items] == ["stored"] * 4
    assert sora_emulator.stats()["creates"] == 4
    assert sum(item.resumed for item in rerun.items) == 2
    assert asyncio.run(read_spend_limit(limit_name)).spent_usd == Decimal("1.60")


def test_a_failed_job_gives_its_reservation_back_and_a_completed_one_keeps_it(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str, limit_name: str
) -> None:
    make_limit(limit_name, "5.00")
    requests = [
        VideoRequest(prompt="A kite over hills"),
        VideoRequest(prompt="Forbidden [emulator:fail=moderation_blocked]", seconds="8"),
    ]

    with pytest.raises(BatchIncomplete):
        asyncio.run(
            batch_text_to_video(requests, out=out, credentials=limited(credentials, limit_name), idempotency_key="gb")
        )

    assert sora_emulator.stats()["creates"] == 2
    # $0.40 kept for the stored video; the failed one's $0.80 came back.
    assert gcl(prefect_name(limit_name)).active_slots == cents("0.40")


def test_a_single_video_over_the_limit_is_refused_before_any_request(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str, limit_name: str
) -> None:
    make_limit(limit_name, "0.30")

    with pytest.raises(VideoNotStored) as refused:
        asyncio.run(
            text_to_video(
                "A lighthouse", out=out, credentials=limited(credentials, limit_name), idempotency_key="one-refused"
            )
        )

    assert refused.value.result.status == "refused" and refused.value.reason == "SpendLimitReached"
    assert sora_emulator.stats()["requests_total"] == 0
    assert gcl(prefect_name(limit_name)).active_slots == 0


@pytest.mark.parametrize("flow", ["batch", "single"])
def test_a_missing_limit_is_one_clear_error_at_the_start_before_any_request(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str, limit_name: str, flow: str
) -> None:
    creds = limited(credentials, limit_name)

    with pytest.raises(InvalidParameter, match="prefect-sora spend-limit create") as refused:
        if flow == "batch":
            asyncio.run(batch_text_to_video([VideoRequest(prompt="A boat")], out=out, credentials=creds))
        else:
            asyncio.run(text_to_video("A boat", out=out, credentials=creds))

    assert refused.value.param == "spend_limit_name" and f"no spend limit {limit_name!r}" in str(refused.value)
    assert sora_emulator.stats()["requests_total"] == 0


@pytest.mark.parametrize("decay", [0.0, 1.0])
def test_a_prefect_limit_that_is_not_a_spend_limit_is_refused(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str, limit_name: str, decay: float
) -> None:
    create_plain_gcl(limit_name, decay=decay)  # e.g. someone's rate limit, named as the user typed it

    with pytest.raises(InvalidParameter, match="is a Prefect concurrency limit, not a spend limit"):
        asyncio.run(text_to_video("A boat", out=out, credentials=limited(credentials, limit_name)))

    assert sora_emulator.stats()["requests_total"] == 0


def test_a_spend_limit_switched_off_or_without_a_window_is_refused(limit_name: str) -> None:
    create_plain_gcl(prefect_name(limit_name), decay=0.0)  # the marked name, but no window

    with pytest.raises(InvalidParameter, match="has no window"):
        asyncio.run(read_spend_limit(limit_name))


@pytest.mark.parametrize("name", ["a/b", "two words", "sora-spend:x", "-leading", "x" * 101])
def test_a_name_that_cannot_be_a_spend_limit_is_refused_by_the_block(name: str) -> None:
    with pytest.raises(ValidationError) as caught:
        SoraCredentials(api_key="sk-test", spend_limit_name=name)

    assert [error["loc"] for error in caught.value.errors()] == [("spend_limit_name",)]


def test_an_empty_spend_limit_name_from_a_form_means_none() -> None:
    assert SoraCredentials(api_key="sk-test", spend_limit_name=" ").spend_limit_name is None


def test_a_job_priced_over_the_whole_limit_is_refused_and_a_fitting_one_reserves_whole_cents(limit_name: str) -> None:
    make_limit(limit_name, "1.00")

    async def scenario() -> tuple[Any, int]:
        guard = await SpendGuard.open(limit_name)
        with pytest.raises(SpendLimitReached) as too_big:
            await guard.reserve(Decimal("1.20"), what="a 12 s video")
        reserved = await guard.reserve(Decimal("0.401"), what="a video")  # rounded up, never down
        return too_big.value, reserved

    refused, reserved = asyncio.run(scenario())

    assert (refused.limit_name, refused.needed_usd, refused.remaining_usd) == (
        limit_name,
        Decimal("1.20"),
        Decimal("1.00"),
    )
    assert reserved == 41 and gcl(prefect_name(limit_name)).active_slots == 41


def test_a_changed_limit_keeps_what_was_spent_in_its_window(limit_name: str) -> None:
    make_limit(limit_name, "1.00")
    asyncio.run(_reserve(limit_name, "0.60"))

    make_limit(limit_name, "3.00", window=3600)
    state = asyncio.run(read_spend_limit(limit_name))

    assert (state.limit_usd, state.window_seconds, state.spent_usd, state.remaining_usd) == (
        Decimal("3.00"),
        3600.0,
        Decimal("0.60"),
        Decimal("2.40"),
    )


async def _reserve(name: str, usd: str) -> None:
    guard = await SpendGuard.open(name)
    await guard.reserve(Decimal(usd), what="a video")


def test_the_window_refills_while_refused_jobs_keep_asking(limit_name: str) -> None:
    # $0.40 per 4 s: spent at once, then asked for every half second. A refusal that reached the
    # server would set its refill clock back each time, and the limit would never refill.
    make_limit(limit_name, "0.40", window=4)

    async def scenario() -> tuple[float, int]:
        guard = await SpendGuard.open(limit_name)
        await guard.reserve(Decimal("0.40"), what="the first video")
        spent_at = time.monotonic()
        refusals = 0
        while time.monotonic() - spent_at < 30:
            try:
                await guard.reserve(Decimal("0.40"), what="the next video")
            except SpendLimitReached:
                refusals += 1
                await asyncio.sleep(0.5)
                continue
            return time.monotonic() - spent_at, refusals
        raise AssertionError(f"the window never refilled ({refusals} refusals)")

    waited, refusals = asyncio.run(scenario())

    assert refusals >= 3  # it was refused while the window was full
    assert 3.0 <= waited <= 15.0  # and taken again about a window later


def test_a_task_called_directly_reserves_on_the_limit_and_a_flow_reserves_once(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str, limit_name: str
) -> None:
    from prefect import flow

    from prefect_sora.tasks import submit_video

    make_limit(limit_name, "0.60")  # room for one $0.40 video, not two
    creds = limited(credentials, limit_name)

    @flow
    def two_direct_submits() -> tuple[str, str]:
        first = submit_video(creds, prompt="A kite over hills")
        try:
            submit_video(creds, prompt="A second kite")
        except SpendLimitReached as refused:
            return first.id, str(refused)
        raise AssertionError("the second create was not refused")

    video_id, refusal = two_direct_submits()

    assert sora_emulator.stats()["creates"] == 1 and video_id
    assert "needs $0.40, $0.20 left" in refusal
    assert gcl(prefect_name(limit_name)).active_slots == cents("0.40")

    # The single-video flow reserves in its pipeline; its submit task must not take the cents again.
    make_limit(limit_name, "5.00")
    before = gcl(prefect_name(limit_name)).active_slots
    asyncio.run(text_to_video("A lighthouse", out=out, credentials=creds, idempotency_key="reserved-once"))
    assert sora_emulator.stats()["creates"] == 2
    assert gcl(prefect_name(limit_name)).active_slots - before <= cents("0.40")
    assert gcl(prefect_name(limit_name)).active_slots - before > cents("0.39")
