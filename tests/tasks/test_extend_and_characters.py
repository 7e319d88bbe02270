"""The rest of the Videos API as tasks: extensions and edits priced first, characters, JSON image references."""

from __future__ import annotations

import base64
import io
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image

from prefect_sora._errors import BudgetExceeded, InvalidParameter, VideoNotFound
from prefect_sora._models import ImageReference, Video
from prefect_sora.blocks import SoraCredentials
from prefect_sora.emulator import Emulator
from prefect_sora.tasks import (
    await_video,
    create_character,
    fetch_video,
    retrieve_character,
    submit_edit,
    submit_extension,
    submit_video,
)

pytestmark = pytest.mark.anyio


def data_url(width: int, height: int) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (30, 90, 200)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def completed(credentials: SoraCredentials, prompt: str = "A red kite over hills", **kw: object) -> Video:
    video: Video = await_video(
        credentials, video=submit_video(credentials, prompt=prompt, **kw), progress_artifact=False
    )
    return video


def test_an_extension_is_priced_at_the_sources_tier_for_its_own_seconds_and_stitched(
    credentials: SoraCredentials, sora_emulator: Emulator
) -> None:
    source = completed(credentials, seconds=4)

    extended = submit_extension(
        credentials, video=source, prompt="The kite climbs into the clouds", seconds=8, max_cost_usd="0.80"
    )
    done = await_video(credentials, video=extended, progress_artifact=False)

    assert done.seconds == "12" and done.model == "sora-2"
    assert sora_emulator.stats()["extensions"] == 1


def test_an_extension_over_budget_sends_nothing(credentials: SoraCredentials, sora_emulator: Emulator) -> None:
    source = completed(credentials, "A pro clip", model="sora-2-pro", size="1792x1024")

    with pytest.raises(BudgetExceeded) as refused:
        submit_extension(credentials, video=source, prompt="More", seconds=20, max_cost_usd=5)  # 20 s x $0.50 = $10

    assert refused.value.estimated_usd == Decimal("10.00")
    assert sora_emulator.stats()["extensions"] == 0


@pytest.mark.parametrize("seconds", [0, 5, "10", 24, 4.0, True])
def test_an_extension_of_a_length_the_api_does_not_take_is_refused_before_any_request(
    credentials: SoraCredentials, sora_emulator: Emulator, seconds: object
) -> None:
    with pytest.raises(InvalidParameter) as refused:
        submit_extension(credentials, video="video_123", prompt="More", seconds=seconds)

    assert refused.value.param == "seconds"
    assert sora_emulator.stats()["extensions"] == 0 and sora_emulator.stats()["polls_total"] == 0


def test_a_source_whose_size_the_gateway_left_out_is_never_priced_from_a_guess(
    credentials: SoraCredentials, sora_emulator: Emulator
) -> None:
    source = completed(credentials)
    sora_emulator.configure(null_fields=["size"])

    with pytest.raises(InvalidParameter, match="did not report the source video's size") as refused:
        submit_extension(credentials, video=source.id, prompt="More", seconds=4)
    extended = submit_extension(
        credentials, video=source.id, prompt="More", seconds=4, size="720x1280", max_cost_usd="0.40"
    )

    assert refused.value.param == "size"
    assert extended.status == "queued" and sora_emulator.stats()["extensions"] == 1


def test_an_edit_keeps_the_source_and_is_priced_like_a_new_video_of_its_length(
    credentials: SoraCredentials, sora_emulator: Emulator
) -> None:
    source = completed(credentials, seconds=8)

    with pytest.raises(BudgetExceeded):
        submit_edit(credentials, video=source, prompt="Make the kite blue", max_cost_usd="0.79")
    edit = submit_edit(credentials, video=source, prompt="Make the kite blue", max_cost_usd="0.80")
    done = await_video(credentials, video=edit, progress_artifact=False)

    assert (done.seconds, done.size, done.model) == ("8", source.size, "sora-2")
    assert sora_emulator.stats()["edits"] == 1


def test_an_unfinished_source_is_refused_before_the_create(
    credentials: SoraCredentials, sora_emulator: Emulator
) -> None:
    pending = submit_video(credentials, prompt="Still going [emulator:stuck]")

    with pytest.raises(InvalidParameter, match="must be a completed video"):
        submit_extension(credentials, video=pending.id, prompt="More", seconds=4)

    assert sora_emulator.stats()["extensions"] == 0


def test_a_character_is_made_from_a_stored_clip_and_read_back(
    credentials: SoraCredentials, sora_emulator: Emulator, tmp_path: Path
) -> None:
    stored = fetch_video(credentials, video=completed(credentials), destination=f"{tmp_path}/")

    made = create_character(credentials, video_file=stored.url, name="Scarf Fox")
    again = retrieve_character(credentials, character_id=made.id)

    assert made.id and again.id == made.id and again.name == "Scarf Fox"
    assert again.created_at is not None and sora_emulator.stats()["characters"] == 1


@pytest.mark.parametrize(("video_file", "name"), [(b"not a video at all", "Fox"), (b"\x00\x00\x00\x18ftypisom", "")])
def test_a_character_from_something_not_a_video_or_without_a_name_is_refused_before_any_request(
    credentials: SoraCredentials, sora_emulator: Emulator, video_file: bytes, name: str
) -> None:
    with pytest.raises(InvalidParameter):
        create_character(credentials, video_file=video_file, name=name)

    assert sora_emulator.stats()["characters"] == 0


def test_an_unknown_character_is_not_found(credentials: SoraCredentials) -> None:
    with pytest.raises(VideoNotFound, match="char_missing"):
        retrieve_character(credentials, character_id="char_missing")


@pytest.mark.parametrize(
    "reference",
    [
        ImageReference(image_url="https://images.example.com/first-frame.png"),
        ImageReference(file_id="file-abc123"),
        ImageReference(image_url=data_url(720, 1280)),
    ],
)
def test_an_image_reference_given_as_json_starts_a_video(
    credentials: SoraCredentials, sora_emulator: Emulator, reference: ImageReference
) -> None:
    video = completed(credentials, "The frame comes alive", input_reference=reference)

    assert video.status == "completed" and sora_emulator.stats()["creates"] == 1


@pytest.mark.parametrize(
    "reference",
    [
        ImageReference(),
        ImageReference(image_url="https://a.example/x.png", file_id="file-1"),
        ImageReference(image_url="ftp://a.example/x.png"),
        ImageReference(image_url="https://user:pass@a.example/x.png"),
        ImageReference(image_url="data:text/plain;base64,aGk="),
        ImageReference(image_url=data_url(1280, 720)),  # not the video's size
        ImageReference(image_url="data:image/png;base64,not base64!"),
        ImageReference(file_id="  "),
    ],
)
def test_a_bad_image_reference_is_refused_before_any_request(
    credentials: SoraCredentials, sora_emulator: Emulator, reference: ImageReference
) -> None:
    with pytest.raises(InvalidParameter, match="input_reference"):
        submit_video(credentials, prompt="x", input_reference=reference)

    assert sora_emulator.stats()["creates"] == 0
