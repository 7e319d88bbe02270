"""The approval gate on a real Prefect server: the paused run's form, approve, deny, timeout, bad thresholds."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import uuid
from decimal import Decimal
from typing import Any

import pytest
from money_helpers import form_of, paused_run, run_state
from prefect.flow_runs import resume_flow_run

from prefect_sora._errors import ApprovalDenied, InvalidParameter
from prefect_sora._models import VideoRequest
from prefect_sora.blocks import SoraCredentials
from prefect_sora.emulator import Emulator
from prefect_sora.flows import batch_text_to_video, image_to_video, remix_video, text_to_video

BATCH = "sora-batch-text-to-video"
REQUESTS = [
    VideoRequest(prompt="A paper boat | on a rainy street"),
    VideoRequest(prompt="Northern lights over a frozen lake", seconds="8", size="1280x720"),
    VideoRequest(prompt="Dew on a spider web", model="sora-2-pro", size="1024x1792"),
    VideoRequest(prompt="A red kite over green hills"),
    VideoRequest(prompt="Rain on a tin roof"),
    VideoRequest(prompt="The sixth prompt is not shown"),
]


def _in_background(call: Any) -> concurrent.futures.Future[Any]:
    """The flow in another thread, seeing Prefect as this test does (the session's server); this one resumes it."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    future = pool.submit(contextvars.copy_context().run, asyncio.run, call)
    pool.shutdown(wait=False)
    return future


def test_a_batch_over_the_threshold_waits_for_approval_and_one_approval_covers_all_of_it(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str
) -> None:
    key = f"approve-{uuid.uuid4().hex[:8]}"
    running = _in_background(
        batch_text_to_video(REQUESTS, out=out, credentials=credentials, idempotency_key=key, approve_over_usd=1)
    )

    run = paused_run(BATCH, key, unless=running)
    description, schema = form_of(run)
    # Nothing is created while it waits.
    assert sora_emulator.stats()["creates"] == 0
    assert "Approve $4.40 for 6 videos?" in description
    assert "| sora-2 | 1280x720 | 1 | 8 | $0.80 |" in description
    assert "| sora-2 | 720x1280 | 4 | 16 | $1.60 |" in description
    assert "| sora-2-pro | 1024x1792 | 1 | 4 | $2.00 |" in description
    assert "1. A paper boat / on a rainy street" in description and "The sixth prompt" not in description
    assert set(schema["properties"]) == {"approve", "note"}
    assert schema["properties"]["approve"]["default"] is False

    resume_flow_run(run.id, run_input={"approve": True, "note": "ok for the launch - Ana"})
    batch = running.result(timeout=120)

    assert [item.status for item in batch.items] == ["stored"] * 6
    assert sora_emulator.stats()["creates"] == 6
    assert run_state(run.id).is_completed()


def test_a_denied_batch_creates_nothing_and_fails_with_the_note(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str
) -> None:
    key = f"deny-{uuid.uuid4().hex[:8]}"
    running = _in_background(
        batch_text_to_video(REQUESTS, out=out, credentials=credentials, idempotency_key=key, approve_over_usd=4)
    )

    run = paused_run(BATCH, key, unless=running)
    resume_flow_run(run.id, run_input={"approve": False, "note": "too much this week - Ana"})

    with pytest.raises(ApprovalDenied) as denied:
        running.result(timeout=60)
    assert denied.value.note == "too much this week - Ana" and not denied.value.timed_out
    assert denied.value.estimated_usd == Decimal("4.40")
    assert "was denied: 'too much this week - Ana'; nothing was created" in str(denied.value)
    assert sora_emulator.stats()["creates"] == 0
    state = run_state(run.id)
    assert state.is_failed() and "too much this week - Ana" in (state.message or "")


def test_an_unanswered_approval_times_out_and_creates_nothing(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str
) -> None:
    key = f"timeout-{uuid.uuid4().hex[:8]}"

    with pytest.raises(ApprovalDenied, match="timed out after 3 s") as denied:
        asyncio.run(
            text_to_video(
                "A lighthouse in a storm",
                out=out,
                credentials=credentials,
                idempotency_key=key,
                approve_over_usd=0,
                approval_timeout_seconds=3,
            )
        )

    assert denied.value.timed_out
    assert sora_emulator.stats()["creates"] == 0


def test_a_single_video_under_the_threshold_is_not_held(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str
) -> None:
    result = asyncio.run(text_to_video("A lighthouse", out=out, credentials=credentials, approve_over_usd=0.40))

    assert result.ok and sora_emulator.stats()["creates"] == 1


def test_a_single_video_over_the_threshold_is_approved_from_the_api(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str
) -> None:
    key = f"single-{uuid.uuid4().hex[:8]}"
    running = _in_background(
        text_to_video("A lighthouse", out=out, credentials=credentials, idempotency_key=key, approve_over_usd=0.39)
    )

    run = paused_run("sora-text-to-video", key, unless=running)
    description, _ = form_of(run)
    assert "Approve $0.40 for 1 video?" in description and "1. A lighthouse" in description
    assert sora_emulator.stats()["creates"] == 0
    resume_flow_run(run.id, run_input={"approve": True, "note": ""})

    assert running.result(timeout=120).ok
    assert sora_emulator.stats()["creates"] == 1


@pytest.mark.parametrize("threshold", [-1, -0.01, float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize("flow", ["batch", "text", "image", "remix"])
def test_a_bad_threshold_is_refused_before_any_request(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str, threshold: Any, flow: str
) -> None:
    with pytest.raises(InvalidParameter) as refused:
        if flow == "batch":
            asyncio.run(batch_text_to_video(REQUESTS[:1], out=out, credentials=credentials, approve_over_usd=threshold))
        elif flow == "text":
            asyncio.run(text_to_video("A boat", out=out, credentials=credentials, approve_over_usd=threshold))
        elif flow == "image":
            asyncio.run(
                image_to_video(
                    "A boat", "memory://none.png", out=out, credentials=credentials, approve_over_usd=threshold
                )
            )
        else:
            asyncio.run(remix_video("video_123", "Bluer", out=out, credentials=credentials, approve_over_usd=threshold))

    assert refused.value.param == "approve_over_usd"
    assert sora_emulator.stats()["requests_total"] == 0


@pytest.mark.parametrize("timeout", [0, -5, float("nan"), float("inf")])
def test_a_bad_approval_timeout_is_refused_before_any_request(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str, timeout: float
) -> None:
    with pytest.raises(InvalidParameter) as refused:
        asyncio.run(
            batch_text_to_video(
                REQUESTS[:1], out=out, credentials=credentials, approve_over_usd=1, approval_timeout_seconds=timeout
            )
        )

    assert refused.value.param == "approval_timeout_seconds"
    assert sora_emulator.stats()["requests_total"] == 0
