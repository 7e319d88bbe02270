"""Pictures in the Prefect UI: a thumbnail per stored video, a batch's contact sheet, links a browser opens.

Read back from the session's real Prefect server; the pictures come from the emulator
over loopback and, for signed links, from a moto S3 that presigns URLs.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
import sys
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import fsspec
import httpx
import pytest
from flow_helpers import artifacts_of
from PIL import Image
from prefect import flow
from prefect.client.schemas.objects import Artifact

from prefect_sora._errors import InvalidParameter
from prefect_sora._models import VideoRequest
from prefect_sora.blocks import SoraCredentials, SoraStorage
from prefect_sora.emulator import Emulator, EmulatorConfig
from prefect_sora.flows import batch_text_to_video, text_to_video
from prefect_sora.flows._drawing import MAX_DATA_URI_BYTES, Tile, contact_sheet
from prefect_sora.flows._pictures import MEDIA_NOTE, Pictures
from prefect_sora.flows._results import VideoResult

#: Storage keys no artifact may show: moto accepts any, so these are canaries.
S3_KEY_ID = "AKIAPICTURESKEYID"
S3_SECRET = "pictures-SECRET-CANARY-9c1f"


def images(artifacts: list[Artifact]) -> list[Artifact]:
    return [a for a in artifacts if a.type == "image"]


def decoded(url: str) -> Image.Image:
    """The picture behind a ``data:`` URI."""
    header, _, body = url.partition(",")
    assert header.startswith("data:image/") and header.endswith(";base64"), header
    raw = base64.b64decode(body)
    assert len(raw) <= MAX_DATA_URI_BYTES or "contact" in header
    return Image.open(io.BytesIO(raw))


def expires_in(query: dict[str, list[str]]) -> float:
    """Seconds a presigned URL stays valid, from SigV4's X-Amz-Expires or V2's Expires timestamp."""
    if "X-Amz-Expires" in query:
        return float(query["X-Amz-Expires"][0])
    return float(query["Expires"][0]) - time.time()


def everything(artifacts: list[Artifact]) -> str:
    return json.dumps([[str(a.data), a.description, a.key] for a in artifacts])


def test_a_stored_video_shows_a_portrait_thumbnail_its_place_in_words_and_a_spritesheet(
    sora_emulator: Emulator, credentials: SoraCredentials, api_key: str, out: str
) -> None:
    state = asyncio.run(text_to_video("A heron at dawn", out=out, credentials=credentials, return_state=True))
    result = state.result()
    artifacts = asyncio.run(artifacts_of(state.state_details.flow_run_id))

    (thumbnail,) = images(artifacts)
    assert thumbnail.description == "Item 0: thumbnail"
    picture = decoded(str(thumbnail.data))
    assert picture.height > picture.width and max(picture.size) <= 320, "720x1280 stays portrait"
    (place,) = [a for a in artifacts if a.type == "markdown" and a.key is None]
    path = (result.url or "").removeprefix("file://")
    assert f"`{path}`" in str(place.data) and "disk of the machine that ran the flow" in str(place.data)
    assert "file://" not in str(place.data), "no dead link"
    (summary,) = [a for a in artifacts if a.key == "sora-text-to-video-summary"]
    assert "## Spritesheet" in str(summary.data) and "](data:image/jpeg;base64," in str(summary.data)
    assert sora_emulator.stats()["downloads"][result.video_id] == {"video": 1, "thumbnail": 1, "spritesheet": 1}
    assert api_key not in everything(artifacts)


def test_a_batch_gets_one_contact_sheet_with_the_failed_item_crossed_out(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str
) -> None:
    requests = [
        VideoRequest(prompt="A paper boat"),
        VideoRequest(prompt="Forbidden [emulator:fail=moderation_blocked]"),
        VideoRequest(prompt="Dew on a web", size="1280x720"),
    ]
    state = asyncio.run(
        batch_text_to_video(requests, out=out, credentials=credentials, idempotency_key="sheet-1", return_state=True)
    )
    batch = state.result(raise_on_failure=False).result
    artifacts = asyncio.run(artifacts_of(state.state_details.flow_run_id))

    (sheet,) = [a for a in images(artifacts) if a.key == "sora-batch-contact-sheet"]
    picture = decoded(str(sheet.data)).convert("RGB")
    assert picture.size == (3 * 128, 128), "three tiles in a row"
    red, green, blue = picture.getpixel((128 + 20, 20))  # on the failed tile's red cross
    assert red > 180 and green < 80 and blue < 80
    assert picture.getpixel((128 + 64, 100)) == (128, 128, 128), "the failed tile is grey"
    assert picture.getpixel((64, 64)) != (128, 128, 128), "a stored item shows its thumbnail"
    thumbnails = [a for a in images(artifacts) if a.key is None]
    assert sorted(a.description for a in thumbnails) == ["Item 0: thumbnail", "Item 2: thumbnail"]
    landscape = decoded(str(next(a.data for a in thumbnails if a.description == "Item 2: thumbnail")))
    assert landscape.width > landscape.height
    downloads = sora_emulator.stats()["downloads"]
    assert [downloads.get(item.video_id or "", {}).get("thumbnail", 0) for item in batch.items] == [1, 0, 1], (
        "one thumbnail request per stored video, none for the failed one; the sheet reuses them"
    )


def test_a_batch_on_s3_links_signed_urls_that_fetch_the_video_and_never_show_the_secret(
    sora_emulator: Emulator, credentials: SoraCredentials, api_key: str, s3_endpoint: str
) -> None:
    public = {"client_kwargs": {"endpoint_url": s3_endpoint, "region_name": "us-east-1"}}
    storage = SoraStorage(
        base_url="s3://videos/", storage_options={"key": S3_KEY_ID, "secret": S3_SECRET}, public_options=public
    )
    requests = [
        VideoRequest(prompt="A lantern on a lake"),
        VideoRequest(prompt="Bad [emulator:fail=moderation_blocked]"),
    ]
    state = asyncio.run(
        batch_text_to_video(
            requests,
            out="pictures-1/",
            storage=storage,
            credentials=credentials,
            link_expiry_seconds=3600,
            idempotency_key="pictures-1",
            return_state=True,
        )
    )
    options = {**public, "key": S3_KEY_ID, "secret": S3_SECRET}
    batch = state.result(raise_on_failure=False).result
    artifacts = asyncio.run(artifacts_of(state.state_details.flow_run_id))

    (link,) = [a for a in artifacts if a.type == "markdown" and a.key is None]
    url = str(link.data).split("](", 1)[1].rstrip(")")
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert f"{parts.scheme}://{parts.netloc}" == s3_endpoint and parts.path.endswith(".mp4")
    assert query.get("X-Amz-Signature") or query.get("Signature"), "signed (SigV4 or the V2 s3fs asks moto for)"
    assert 3500 < expires_in(query) <= 3600, "valid for link_expiry_seconds"
    fs = fsspec.filesystem("s3", **options)
    stored = fs.cat_file((batch.items[0].url or "").removeprefix("s3://"))
    assert httpx.get(url).raise_for_status().content == stored
    for picture in images(artifacts):
        image_url = str(picture.data)
        assert image_url.startswith(s3_endpoint) and "Signature=" in image_url
        assert httpx.get(image_url).raise_for_status().headers["content-type"].startswith(("image/", "binary/"))
    assert sorted(a.key or "" for a in images(artifacts)) == ["", "sora-batch-contact-sheet"]
    assert [p for p in fs.find("videos/pictures-1") if "/.prefect-sora/" not in p] == [
        (batch.items[0].url or "").removeprefix("s3://")
    ], "the pictures stay out of the videos' folder"
    text = everything(artifacts)
    assert S3_SECRET not in text and api_key not in text

    # A rerun (as the parent of a sharded batch) draws its sheet from the kept thumbnail, not a new request.
    again = asyncio.run(
        batch_text_to_video(
            requests,
            out="pictures-1/",
            storage=storage,
            credentials=credentials,
            idempotency_key="pictures-1",
            return_state=True,
        )
    )
    (sheet,) = [a for a in images(asyncio.run(artifacts_of(again.state_details.flow_run_id))) if a.key]
    picture = Image.open(io.BytesIO(httpx.get(str(sheet.data)).raise_for_status().content)).convert("RGB")
    assert picture.size == (256, 128) and picture.getpixel((64, 64)) != (128, 128, 128), "item 0's thumbnail"
    downloads = sora_emulator.stats()["downloads"][batch.items[0].video_id]
    assert downloads == {"video": 1, "thumbnail": 1}


def test_without_pillow_the_batch_summary_says_how_to_get_a_contact_sheet(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "PIL", None)  # `import PIL` now fails, as without the media extra
    state = asyncio.run(
        batch_text_to_video([VideoRequest(prompt="A quiet pond")], out=out, credentials=credentials, return_state=True)
    )
    assert state.is_completed()
    artifacts = asyncio.run(artifacts_of(state.state_details.flow_run_id))
    (summary,) = [a for a in artifacts if a.key == "sora-batch-summary"]
    assert MEDIA_NOTE in str(summary.data)
    assert not [a for a in images(artifacts) if a.key], "no contact sheet"


@pytest.mark.parametrize("expiry", [0, -5, 7 * 24 * 3600 + 1])
def test_a_link_expiry_outside_one_second_to_seven_days_is_refused_before_any_request(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str, expiry: int
) -> None:
    with pytest.raises(InvalidParameter, match="link_expiry_seconds"):
        asyncio.run(text_to_video("A kite", out=out, credentials=credentials, link_expiry_seconds=expiry))
    with pytest.raises(InvalidParameter, match="link_expiry_seconds"):
        asyncio.run(batch_text_to_video([VideoRequest(prompt="A kite")], out=out, link_expiry_seconds=expiry))
    assert sora_emulator.stats()["requests_total"] == 0


def test_a_gateway_that_ignores_variants_gets_no_pictures_and_no_warning(
    api_key: str, out: str, caplog: pytest.LogCaptureFixture
) -> None:
    # LiteLLM answers a thumbnail request with the MP4: the content type says so.
    with Emulator(EmulatorConfig(job_seconds=0.2, ignore_variant=True)) as emulator:
        credentials = SoraCredentials(api_key=api_key, base_url=emulator.base_url)
        with caplog.at_level(logging.WARNING):
            state = asyncio.run(text_to_video("A fox", out=out, credentials=credentials, return_state=True))
        result = state.result()
    artifacts = asyncio.run(artifacts_of(state.state_details.flow_run_id))
    assert result.ok and not images(artifacts)
    (summary,) = [a for a in artifacts if a.key == "sora-text-to-video-summary"]
    assert "Spritesheet" not in str(summary.data)
    assert not [r for r in caplog.records if "picture" in r.getMessage() or "spritesheet" in r.getMessage()]


def test_a_thumbnail_that_cannot_be_fetched_is_a_warning_and_the_link_is_still_made(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str, caplog: pytest.LogCaptureFixture
) -> None:
    @flow
    async def one_stored() -> Any:
        async with credentials.get_client() as client:
            pictures = Pictures(client=client)
            # A stored file whose job the service does not know: the thumbnail request is a 404.
            result = VideoResult(prompt="p", video_id="video_unknown", status="stored", url=f"{out}x.mp4", bytes=10)
            await pictures.on_stored(result)
            return pictures.thumbnails

    with caplog.at_level(logging.WARNING):
        state = asyncio.run(one_stored(return_state=True))
    assert state.is_completed() and state.result() == {}
    artifacts = asyncio.run(artifacts_of(state.state_details.flow_run_id))
    assert [a.description for a in artifacts] == ["Item 0: stored, 10 bytes"]
    assert [r.levelname for r in caplog.records if "no picture in the UI" in r.getMessage()] == ["WARNING"]


def test_a_contact_sheet_shows_at_most_48_tiles_in_rows_of_8() -> None:
    sheet = contact_sheet([Tile(i, "failed") for i in range(50)])
    assert sheet is not None
    assert Image.open(io.BytesIO(sheet)).size == (8 * 128, 6 * 128)
