"""The official `openai` SDK works against the emulator unchanged, sync and async, typed errors included."""

from __future__ import annotations

import asyncio
import io

import av
import openai
import pytest
from emulator_helpers import image_bytes

from prefect_sora.emulator import Emulator

# The SDK marks the whole Videos API deprecated (OpenAI shut it down); gateways live on.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def sdk(emu: Emulator, *, api_key: str = "sk-test", max_retries: int = 0) -> openai.OpenAI:
    return openai.OpenAI(base_url=emu.base_url, api_key=api_key, max_retries=max_retries)


def test_create_is_multipart_and_create_and_poll_follows_the_poll_hint() -> None:
    with Emulator(job_seconds=0.2, poll_after_ms=20) as sora_emulator:
        _create_and_poll_follows_a_20_ms_hint(sora_emulator)


def _create_and_poll_follows_a_20_ms_hint(sora_emulator: Emulator) -> None:
    client = sdk(sora_emulator)
    created = client.videos.create(model="sora-2", prompt="a red fox", seconds="8", size="1280x720")
    assert (created.status, created.seconds, created.size) == ("queued", "8", "1280x720")
    video = client.videos.create_and_poll(model="sora-2-pro", prompt="a grey wolf", size="1024x1792")
    assert video.status == "completed" and video.progress == 100
    assert video.completed_at is not None and video.expires_at == video.completed_at + 3600
    stats = sora_emulator.stats()
    assert stats["creates"] == 2
    # 0.2 s jobs polled every 20 ms (openai-poll-after-ms), not every second.
    assert stats["polls"][video.id] >= 3


def test_retrieve_list_with_auto_pagination_and_delete(sora_emulator: Emulator) -> None:
    client = sdk(sora_emulator)
    ids = [client.videos.create(model="sora-2", prompt=f"clip {index}").id for index in range(12)]
    assert client.videos.retrieve(ids[0]).id == ids[0]
    listed = [video.id for video in client.videos.list(limit=5)]
    assert listed == ids[::-1], "auto-pagination follows `after` across three pages"
    assert sora_emulator.stats()["lists"] == 3
    ascending = client.videos.list(limit=100, order="asc")
    assert [video.id for video in ascending.data] == ids
    done = client.videos.poll(ids[0])
    deleted = client.videos.delete(done.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (ids[0], True, "video.deleted")


def test_download_content_for_each_variant(sora_emulator: Emulator) -> None:
    client = sdk(sora_emulator)
    video = client.videos.create_and_poll(model="sora-2", prompt="a red fox")
    mp4 = client.videos.download_content(video.id)
    assert mp4.response.headers["content-type"] == "video/mp4"
    with av.open(io.BytesIO(mp4.content)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (720, 1280)
    thumbnail = client.videos.download_content(video.id, variant="thumbnail")
    spritesheet = client.videos.download_content(video.id, variant="spritesheet")
    assert thumbnail.response.headers["content-type"] == "image/webp" and thumbnail.content[8:12] == b"WEBP"
    assert spritesheet.response.headers["content-type"] == "image/jpeg" and spritesheet.content[:2] == b"\xff\xd8"


def test_remix(sora_emulator: Emulator) -> None:
    client = sdk(sora_emulator)
    source = client.videos.create_and_poll(model="sora-2", prompt="a red fox", seconds="12")
    remix = client.videos.remix(source.id, prompt="the same fox, at night")
    assert remix.remixed_from_video_id == source.id and remix.seconds == "12"
    assert client.videos.poll(remix.id).status == "completed"


def test_input_reference_upload_through_the_sdk(sora_emulator: Emulator) -> None:
    client = sdk(sora_emulator)
    good = ("ref.png", image_bytes(1280, 720), "image/png")
    video = client.videos.create(model="sora-2", prompt="animate", size="1280x720", input_reference=good)
    assert video.status == "queued"
    with pytest.raises(openai.BadRequestError) as caught:
        client.videos.create(model="sora-2", prompt="animate", size="720x1280", input_reference=good)
    assert caught.value.code == "invalid_image_size"


def test_typed_errors(sora_emulator: Emulator) -> None:
    client = sdk(sora_emulator)
    with pytest.raises(openai.BadRequestError) as bad:
        client.videos.create(model="sora-2", prompt="x", size="1920x1080")  # type: ignore[arg-type]
    assert bad.value.status_code == 400 and bad.value.param == "size"
    assert bad.value.request_id is not None and bad.value.request_id.startswith("req_")
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve("video_does_not_exist")
    sora_emulator.inject(429)
    with pytest.raises(openai.RateLimitError):
        client.videos.list()
    pending = client.videos.create(model="sora-2", prompt="not yet")
    with pytest.raises(openai.ConflictError):
        client.videos.download_content(pending.id)


def test_authentication_error_for_a_wrong_key() -> None:
    with Emulator(api_key="sk-right", job_seconds=0.1) as emu:
        with pytest.raises(openai.AuthenticationError) as caught:
            sdk(emu, api_key="sk-wrong").videos.list()
        assert caught.value.code == "invalid_api_key"
        assert sdk(emu, api_key="sk-right").videos.list().data == []


def test_sdk_retries_ride_out_injected_rate_limits(sora_emulator: Emulator) -> None:
    sora_emulator.configure(retry_after_seconds=0.01)
    video = sdk(sora_emulator).videos.create(model="sora-2", prompt="p")
    sora_emulator.inject(429, count=2, endpoint="retrieve")
    assert sdk(sora_emulator, max_retries=2).videos.retrieve(video.id).id == video.id
    stats = sora_emulator.stats()
    assert stats["faults"] == {"429": 2} and stats["polls"][video.id] == 1


def test_sdk_sees_a_reset_as_a_connection_error(sora_emulator: Emulator) -> None:
    sora_emulator.inject("reset")
    with pytest.raises(openai.APIConnectionError):
        sdk(sora_emulator).videos.list()


async def _async_round_trip(emu: Emulator) -> tuple[str, int, str]:
    client = openai.AsyncOpenAI(base_url=emu.base_url, api_key="sk-test", max_retries=0)
    video = await client.videos.create_and_poll(model="sora-2", prompt="async fox")
    content = await client.videos.download_content(video.id, variant="thumbnail")
    remix = await client.videos.remix(video.id, prompt="again")
    listed = [item.id async for item in client.videos.list(limit=1)]
    await client.videos.poll(remix.id)
    assert (await client.videos.delete(remix.id)).deleted
    with pytest.raises(openai.NotFoundError):
        await client.videos.retrieve(remix.id)
    await client.close()
    return video.status, len(listed), content.response.headers["content-type"]


def test_async_client_against_an_emulator_started_in_async_code() -> None:
    async def main() -> tuple[str, int, str]:
        async with Emulator(job_seconds=0.2, poll_after_ms=20) as emu:
            return await _async_round_trip(emu)

    assert asyncio.run(main()) == ("completed", 2, "image/webp")


# -- every profile that speaks the SDK's auth ------------------------------------------------


def profile_client(emu: Emulator) -> openai.OpenAI:
    if emu.config.profile == "azure":
        # The Azure client sends the key as `api-key` (and `?api-version=`), as Azure wants.
        return openai.AzureOpenAI(base_url=emu.base_url, api_key="az-test", api_version="preview", max_retries=0)
    return sdk(emu)


@pytest.mark.parametrize("profile", ["openai", "apiyi", "azure", "litellm"])
def test_create_poll_download_extend_edit_and_characters_in_every_profile(profile: str) -> None:
    # LiteLLM's ids and auth, without its gaps: through the real proxy the SDK's
    # create_and_poll hands back the re-encoded id, which nothing can download by.
    served = {"echo_id": "same", "unserved_routes": []} if profile == "litellm" else {}
    with Emulator(profile=profile, job_seconds=0.2, poll_after_ms=20, **served) as emu:
        client = profile_client(emu)
        video = client.videos.create_and_poll(model="sora-2", prompt="a red fox", size="1280x720", seconds="4")
        assert (video.status, video.model, video.size) == ("completed", "sora-2", "1280x720")
        mp4 = client.videos.download_content(video.id).content
        assert mp4[4:8] == b"ftyp"
        assert client.videos.retrieve(video.id).id == video.id
        assert [item.id for item in client.videos.list()] == [video.id]
        # The SDK's extend/edit send the source as an upload (its `{"id": ...}` form fails
        # client-side in openai 3.x); the job takes the uploaded video's size and length.
        extended = client.videos.extend(video=("clip.mp4", mp4, "video/mp4"), prompt="and on", seconds="8")
        edited = client.videos.edit(video=("clip.mp4", mp4, "video/mp4"), prompt="at night")
        assert (extended.seconds, edited.seconds, edited.size) == ("12", "4", "1280x720")
        assert client.videos.poll(extended.id).status == "completed"
        character = client.videos.create_character(name="Fox", video=("fox.mp4", mp4, "video/mp4"))
        assert client.videos.get_character(str(character.id)).name == "Fox"
        stats = emu.stats()
        assert (stats["creates"], stats["extensions"], stats["edits"], stats["characters"]) == (1, 1, 1, 1)
        if profile == "azure":
            assert stats["api_versions_seen"] == ["preview"]
        if profile == "litellm":
            assert video.id.startswith("video_") and len(video.id) > 100


def test_azure_needs_the_azure_client_or_an_api_key_header() -> None:
    with Emulator(profile="azure", job_seconds=0.2) as emu:
        with pytest.raises(openai.AuthenticationError) as caught:
            sdk(emu).videos.list()
        assert caught.value.code == "401"
        headers = openai.OpenAI(
            base_url=emu.base_url, api_key="unused", default_headers={"api-key": "az"}, max_retries=0
        )
        assert headers.videos.list().data == []
        with pytest.raises(openai.NotFoundError) as missing:
            profile_client(emu).videos.create(model="sora-2-pro", prompt="p")
        assert missing.value.code == "DeploymentNotFound"


def test_sdk_retries_ride_out_the_rpm_limit() -> None:
    with Emulator(job_seconds=0.2, rpm=600, rpm_burst=1) as emu:
        client = sdk(emu, max_retries=3)
        for _ in range(4):
            client.videos.list()
        stats = emu.stats()
        assert stats["lists"] == 4 and stats["rate_limited"]["rpm"] >= 1
        assert stats["peak_accepted_per_minute"] == {next(iter(stats["requests_by_key"])): 4}
