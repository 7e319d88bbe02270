"""text_to_video against the emulator: a playable MP4, a truthful result, and refusals before any request."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from flow_helpers import local_path, probe, sha256_of
from prefect.exceptions import ParameterTypeError
from pydantic import SecretStr

from prefect_sora._errors import BudgetExceeded, InvalidParameter
from prefect_sora.blocks import SoraCredentials
from prefect_sora.emulator import Emulator
from prefect_sora.flows import text_to_video


def test_stores_a_playable_mp4_of_the_requested_size_and_length_and_reports_it(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str
) -> None:
    result = asyncio.run(
        text_to_video(
            "A koi pond at dawn, slow dolly in",
            seconds="8",
            size="1280x720",
            out=out,
            credentials=credentials,
            max_cost_usd=0.80,  # exactly the estimate is enough
        )
    )

    assert result.status == "stored" and result.ok
    assert result.video_id is not None and result.video_id.startswith("video_")
    assert result.url is not None
    path = local_path(result.url)
    assert path.parent == local_path(f"file://{out}").resolve()
    assert path.stat().st_size == result.bytes
    assert sha256_of(result.url) == result.sha256
    assert probe(path) == (1280, 720, 8.0)
    assert result.estimated_usd == result.actual_usd == Decimal("0.80")  # 8 s x $0.10
    stats = sora_emulator.stats()
    assert (stats["creates"], stats["downloads_by_variant"]["video"]) == (1, 1)


def test_a_budget_below_the_estimate_refuses_before_any_request(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str
) -> None:
    with pytest.raises(BudgetExceeded) as refused:
        asyncio.run(text_to_video("A red kite", seconds="8", out=out, credentials=credentials, max_cost_usd=0.79))

    assert (refused.value.estimated_usd, refused.value.max_cost_usd) == (Decimal("0.80"), Decimal("0.79"))
    stats = sora_emulator.stats()
    assert (stats["creates"], stats["requests_total"]) == (0, 0)


@pytest.mark.parametrize(
    ("changes", "param"),
    [
        ({"prompt": ""}, "prompt"),
        ({"prompt": "x" * 32_001}, "prompt"),
        ({"model": "sora-3"}, "model"),
        ({"size": "640x480"}, "size"),
        ({"size": "1792x1024"}, "size"),  # a sora-2-pro size, not sora-2's
        ({"max_cost_usd": -1.0}, "max_cost_usd"),
        ({"idempotency_key": "../escape"}, "idempotency_key"),
    ],
)
def test_invalid_parameters_are_refused_before_any_request(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str, changes: dict[str, Any], param: str
) -> None:
    arguments: dict[str, Any] = {"prompt": "A red kite", "out": out, "credentials": credentials, **changes}

    with pytest.raises(InvalidParameter) as refused:
        asyncio.run(text_to_video(**arguments))

    assert refused.value.param == param
    assert sora_emulator.stats()["requests_total"] == 0


def test_seconds_outside_4_8_12_is_refused_by_the_flow_signature_before_any_request(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str
) -> None:
    with pytest.raises(ParameterTypeError, match="seconds"):
        asyncio.run(text_to_video("A red kite", seconds="10", out=out, credentials=credentials))  # type: ignore[arg-type]

    assert sora_emulator.stats()["requests_total"] == 0


def test_a_saved_block_with_a_plain_http_remote_url_is_refused_naming_the_field_and_the_fix(
    sora_emulator: Emulator, out: str
) -> None:
    # Prefect's block forms save without checking; the run must say more than "failed validation".
    saved = SoraCredentials.model_construct(api_key=SecretStr("sk-form"), base_url="http://api.example.com/v1")
    saved.save("saved-over-http", overwrite=True)

    with pytest.raises(InvalidParameter) as refused:
        asyncio.run(text_to_video("A red kite", out=out, credentials="saved-over-http"))

    assert refused.value.param == "base_url"
    assert "https" in str(refused.value) and "allow_insecure_http" in str(refused.value)
    assert "sk-form" not in str(refused.value)
    assert sora_emulator.stats()["requests_total"] == 0
