"""image_to_video with a first frame from ``memory://``, and remix_video of a completed video."""

from __future__ import annotations

import asyncio
import io
import uuid
from decimal import Decimal

import fsspec
import pytest
from flow_helpers import local_path, make_video, probe, retrieve, sha256_of
from PIL import Image

from prefect_sora._errors import BudgetExceeded, InvalidParameter
from prefect_sora.blocks import SoraCredentials
from prefect_sora.emulator import Emulator
from prefect_sora.flows import image_to_video, remix_video


def frame_in_memory(width: int, height: int) -> str:
    """A PNG first frame of the given size at a fresh ``memory://`` URL."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "teal").save(buffer, "PNG")
    url = f"memory://frames/{uuid.uuid4().hex}.png"
    with fsspec.open(url, "wb") as handle:
        handle.write(buffer.getvalue())
    return url


def test_image_to_video_animates_an_image_read_from_memory(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str
) -> None:
    image_url = frame_in_memory(1280, 720)

    result = asyncio.run(
        image_to_video("The sea starts to move", image_url, size="1280x720", out=out, credentials=credentials)
    )

    # The emulator refuses an upload whose image does not match the size, so a stored
    # video means the multipart create carried the right image.
    assert result.ok and result.url is not None
    assert probe(local_path(result.url)) == (1280, 720, 4.0)
    assert sha256_of(result.url) == result.sha256
    assert result.actual_usd == Decimal("0.40")
    assert retrieve(sora_emulator, result.video_id or "")["size"] == "1280x720"
    assert sora_emulator.stats()["creates"] == 1


@pytest.mark.parametrize(("width", "height"), [(1280, 720), (640, 480)])
def test_an_image_of_the_wrong_size_is_refused_before_any_request(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str, width: int, height: int
) -> None:
    image_url = frame_in_memory(width, height)

    with pytest.raises(InvalidParameter, match=f"{width}x{height}") as refused:
        asyncio.run(
            image_to_video("The sea starts to move", image_url, size="720x1280", out=out, credentials=credentials)
        )

    assert refused.value.param == "input_reference"
    assert sora_emulator.stats()["requests_total"] == 0


def test_remix_makes_a_new_video_from_a_completed_one_priced_from_its_source(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str
) -> None:
    source = make_video(sora_emulator, "A red kite over hills", model="sora-2-pro", size="1280x720")

    result = asyncio.run(remix_video(source, "Make the kite blue", out=out, credentials=credentials, max_cost_usd=2))

    assert result.ok and result.video_id not in (None, source)
    remix = retrieve(sora_emulator, result.video_id or "")
    assert remix["remixed_from_video_id"] == source
    assert remix["prompt"] == "Make the kite blue"
    assert (remix["model"], remix["size"], remix["seconds"]) == ("sora-2-pro", "1280x720", "4")
    assert probe(local_path(result.url or "")) == (1280, 720, 4.0)
    assert result.estimated_usd == result.actual_usd == Decimal("1.20")  # sora-2-pro 720p, 4 s x $0.30
    stats = sora_emulator.stats()
    assert (stats["creates"], stats["remixes"]) == (1, 1)


def test_remix_of_a_video_still_in_progress_is_refused_before_any_create(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str
) -> None:
    source = make_video(sora_emulator, "A red kite over hills [emulator:stuck]", wait=False)

    with pytest.raises(InvalidParameter, match="completed") as refused:
        asyncio.run(remix_video(source, "Make the kite blue", out=out, credentials=credentials))

    assert refused.value.param == "video_id"
    stats = sora_emulator.stats()
    assert (stats["creates"], stats["remixes"]) == (1, 0)


def test_remix_of_a_source_whose_length_the_gateway_left_out_is_refused_not_guessed(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str
) -> None:
    source = make_video(sora_emulator, "A red kite over hills", seconds="12")
    sora_emulator.configure(null_fields=["seconds"])  # as some gateways answer

    with pytest.raises(InvalidParameter, match="seconds") as refused:
        asyncio.run(remix_video(source, "Make the kite blue", out=out, credentials=credentials))

    assert refused.value.param == "video_id"
    assert sora_emulator.stats()["remixes"] == 0


def test_remix_over_budget_is_refused_before_any_create(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str
) -> None:
    source = make_video(sora_emulator, "A red kite over hills", seconds="12")

    with pytest.raises(BudgetExceeded) as refused:
        asyncio.run(remix_video(source, "Make the kite blue", out=out, credentials=credentials, max_cost_usd=1))

    assert refused.value.estimated_usd == Decimal("1.20")  # the source's 12 s at $0.10
    assert sora_emulator.stats()["remixes"] == 0
