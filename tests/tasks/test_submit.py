"""submit_video and submit_remix: refuse bad input before any request, send what the API expects, pay once."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import fsspec
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from prefect_sora import ImageReference
from prefect_sora._errors import AuthenticationFailed, InvalidParameter, UnexpectedResponse
from prefect_sora.blocks import SoraCredentials
from prefect_sora.emulator import Emulator
from prefect_sora.tasks import await_video, submit_remix, submit_video


def image(width: int, height: int, kind: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 40)).save(buffer, format=kind)
    return buffer.getvalue()


REFUSALS: list[tuple[dict[str, Any], str]] = [
    ({"seconds": 10}, "seconds"),
    ({"seconds": "10"}, "seconds"),
    ({"seconds": 4.0}, "seconds"),
    ({"seconds": True}, "seconds"),
    ({"seconds": None}, "seconds"),
    ({"size": "1920x1080"}, "size"),  # 1080p on sora-2
    ({"size": "640x480", "model": "sora-2-pro"}, "size"),
    ({"prompt": ""}, "prompt"),
    ({"prompt": "  \n "}, "prompt"),
    ({"prompt": "x" * 32_001}, "prompt"),
    ({"model": "sora-3"}, "model"),
    ({"input_reference": b"not an image at all"}, "input_reference"),
    ({"input_reference": image(640, 480)}, "input_reference"),
    ({"input_reference": image(1280, 720)}, "input_reference"),  # landscape for a portrait video
    ({"input_reference": ImageReference()}, "input_reference"),
]


@pytest.mark.parametrize(("change", "param"), REFUSALS, ids=[f"{p}-{i}" for i, (_, p) in enumerate(REFUSALS)])
def test_a_refused_parameter_is_named_and_costs_no_request(
    credentials: SoraCredentials, sora_emulator: Emulator, change: dict[str, Any], param: str
) -> None:
    arguments: dict[str, Any] = {"prompt": "a koi pond", **change}

    with pytest.raises(InvalidParameter) as caught:
        submit_video(credentials, **arguments)

    assert caught.value.param == param
    assert caught.value.allowed in str(caught.value)
    assert sora_emulator.stats()["requests_total"] == 0


def test_a_missing_image_file_is_refused_before_any_request(
    credentials: SoraCredentials, sora_emulator: Emulator, tmp_path: Path
) -> None:
    with pytest.raises(InvalidParameter, match="could not be read"):
        submit_video(credentials, prompt="a koi pond", input_reference=tmp_path / "missing.png")

    assert sora_emulator.stats()["requests_total"] == 0


@pytest.mark.parametrize(("seconds", "sent"), [(4, "4"), (8, "8"), (12, "12"), ("8", "8")])
def test_seconds_as_ints_are_sent_as_the_strings_the_api_wants(
    credentials: SoraCredentials, sora_emulator: Emulator, seconds: Any, sent: str
) -> None:
    video = submit_video(credentials, prompt="a koi pond", seconds=seconds)

    # The emulator answers a numeric seconds with 400, as the service does; read back its record.
    record = httpx.get(f"{sora_emulator.base_url}/videos/{video.id}", headers={"Authorization": "Bearer k"}).json()
    assert record["seconds"] == sent
    assert video.seconds == sent
    assert sora_emulator.stats()["creates"] == 1


def test_1080p_is_accepted_on_sora_2_pro_and_a_32000_character_prompt_is_sent(
    credentials: SoraCredentials, sora_emulator: Emulator
) -> None:
    prompt = "p" * 32_000

    video = submit_video(credentials, prompt=prompt, model="sora-2-pro", size="1920x1080", seconds=12)

    assert (video.model, video.size, video.seconds) == ("sora-2-pro", "1920x1080", "12")
    assert video.prompt == prompt
    assert sora_emulator.stats()["requests_total"] == 1


@pytest.mark.parametrize("kind", ["PNG", "JPEG", "WEBP"])
def test_an_image_of_the_right_size_goes_up_as_multipart(
    credentials: SoraCredentials, sora_emulator: Emulator, kind: str
) -> None:
    video = submit_video(credentials, prompt="the same scene, moving", input_reference=image(720, 1280, kind))

    assert video.status == "queued"
    assert sora_emulator.stats()["creates"] == 1


def test_an_image_can_come_from_any_fsspec_url(credentials: SoraCredentials, sora_emulator: Emulator) -> None:
    with fsspec.open("memory://inputs/start.jpg", "wb") as handle:
        handle.write(image(1280, 720, "JPEG"))

    video = submit_video(credentials, prompt="a koi pond", size="1280x720", input_reference="memory://inputs/start.jpg")

    assert video.size == "1280x720"
    assert sora_emulator.stats()["creates"] == 1


VALID_SIZES = {"sora-2": ("720x1280", "1280x720"), "sora-2-pro": ("720x1280", "1280x720", "1024x1792", "1080x1920")}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    model=st.sampled_from(["sora-2", "sora-2-pro", "sora-9"]),
    size=st.sampled_from(["720x1280", "1280x720", "1024x1792", "1080x1920", "800x600"]),
    seconds=st.sampled_from(["4", 8, "12", 10, "6"]),
    length=st.sampled_from([0, 1, 32_000, 32_001]),
)
def test_over_the_wire_valid_requests_make_one_job_and_invalid_ones_no_request(
    credentials: SoraCredentials, sora_emulator: Emulator, model: str, size: str, seconds: Any, length: int
) -> None:
    before = sora_emulator.stats()
    valid = size in VALID_SIZES.get(model, ()) and str(seconds) in ("4", "8", "12") and length >= 1 and length <= 32_000

    if valid:
        video = submit_video(credentials, prompt="q" * length, model=model, size=size, seconds=seconds)
        assert (video.model, video.size, video.seconds) == (model, size, str(seconds))
    else:
        with pytest.raises(InvalidParameter):
            submit_video(credentials, prompt="q" * length, model=model, size=size, seconds=seconds)

    after = sora_emulator.stats()
    assert after["creates"] - before["creates"] == int(valid)
    assert after["requests_total"] - before["requests_total"] == int(valid)


@pytest.mark.parametrize("fault", ["500", "reset"])
def test_a_create_lost_before_the_service_saw_it_is_resent_once_and_makes_one_job(
    credentials: SoraCredentials, sora_emulator: Emulator, fault: str
) -> None:
    sora_emulator.inject(fault, endpoint="create")

    video = submit_video(credentials, prompt="a koi pond")

    stats = sora_emulator.stats()
    assert stats["faults"] == {fault: 1}
    assert stats["lists"] == 1  # looked up before paying again
    assert stats["creates"] == 1 and stats["jobs_total"] == 1
    assert sora_emulator.plan(video.id)


def test_a_remix_starts_from_a_completed_video(credentials: SoraCredentials, sora_emulator: Emulator) -> None:
    source = await_video(credentials, video=submit_video(credentials, prompt="a red kite"))

    remix = submit_remix(credentials, video=source, prompt="make the kite blue")

    assert remix.remixed_from_video_id == source.id
    assert remix.prompt == "make the kite blue"
    assert (remix.model, remix.size, remix.seconds) == (source.model, source.size, source.seconds)
    assert sora_emulator.stats()["remixes"] == 1


@pytest.mark.parametrize(("video", "prompt", "param"), [("..", "blue", "video_id"), ("video_1", "", "prompt")])
def test_a_bad_remix_costs_no_request(
    credentials: SoraCredentials, sora_emulator: Emulator, video: str, prompt: str, param: str
) -> None:
    with pytest.raises(InvalidParameter) as caught:
        submit_remix(credentials, video=video, prompt=prompt)

    assert caught.value.param == param
    assert sora_emulator.stats()["requests_total"] == 0


def test_an_unsafe_id_from_the_server_is_refused(rogue_server: Any, api_key: str) -> None:
    """The emulator only issues printable ids, so a rogue server answers the create with one that is not."""
    body = json.dumps({"id": "video_1\x00", "object": "video", "status": "queued", "progress": 0}).encode()
    base_url = rogue_server(lambda method, path, headers: (200, {"content-type": "application/json"}, body))
    credentials = SoraCredentials(api_key=api_key, base_url=base_url)

    with pytest.raises(UnexpectedResponse, match="unsafe video id"):
        submit_video(credentials, prompt="a koi pond")


def test_a_key_echoed_back_by_a_server_is_redacted(
    rogue_server: Any, api_key: str, log_records: pytest.LogCaptureFixture
) -> None:
    """The emulator never echoes the key; a rogue server puts the bearer it got into its 401 message."""

    def echo(method: str, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        message = f"Incorrect API key provided: {headers.get('Authorization', '')}"
        return 401, {"content-type": "application/json"}, json.dumps({"error": {"message": message}}).encode()

    credentials = SoraCredentials(api_key=api_key, base_url=rogue_server(echo))

    with pytest.raises(AuthenticationFailed) as caught:
        submit_video(credentials, prompt="a koi pond")

    assert "Incorrect API key provided: Bearer ***" in str(caught.value)
    assert api_key not in repr(caught.value)
    assert not [r for r in log_records.records if api_key in r.getMessage()]
