"""Pictures in the Prefect UI, in a real browser: a video's thumbnail, a batch's contact sheet, a signed link.

The flows run in this process against the session's `prefect server` and a fresh
emulator before the browser starts (Playwright's sync API would otherwise hand
Prefect's sync calls a running loop); the browser then opens what a user would.
Screenshots go to $PREFECT_SORA_SCREENSHOTS (``docs/`` for the docs' pictures).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import fsspec
import httpx
import pytest
from servers import prefect_api
from ui_helpers import API_KEY, Screenshots, visit

from prefect_sora._models import VideoRequest
from prefect_sora.blocks import SoraCredentials, SoraStorage
from prefect_sora.emulator import Emulator
from prefect_sora.flows import batch_text_to_video, text_to_video

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

S3_SECRET = "ui-pictures-SECRET-CANARY-41d7"
#: As the UI tests' conftest launches it: root in CI, where Chromium's sandbox refuses to start.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def _artifacts(api_url: str, flow_run_id: str) -> list[dict[str, Any]]:
    body = {"artifacts": {"flow_run_id": {"any_": [flow_run_id]}}}
    return list(prefect_api("POST", f"{api_url}/artifacts/filter", body).json())


@pytest.fixture(scope="module")
def runs(
    prefect_server: None,
    prefect_server_process: dict[str, str],
    s3_endpoint: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, Any]]:
    """A single video stored locally, a local batch with a failed item, and a batch on S3 (moto signs)."""
    out = f"{tmp_path_factory.mktemp('ui-pictures')}/videos/"
    public = {"client_kwargs": {"endpoint_url": s3_endpoint, "region_name": "us-east-1"}}
    storage = SoraStorage(
        base_url="s3://videos/", storage_options={"key": "AKIAUIPICTURES", "secret": S3_SECRET}, public_options=public
    )
    with Emulator(job_seconds=0.5) as emulator:
        credentials = SoraCredentials(api_key=API_KEY, base_url=emulator.base_url)
        single = asyncio.run(
            text_to_video("A heron at dawn, portrait", out=out, credentials=credentials, return_state=True)
        )
        prompts = ["A paper boat", "A forbidden scene [emulator:fail=moderation_blocked]", "Dew on a web", "A kite"]
        sizes = ["720x1280", "720x1280", "1280x720", "720x1280"]
        batch = asyncio.run(
            batch_text_to_video(
                [VideoRequest(prompt=p, size=s) for p, s in zip(prompts, sizes, strict=True)],
                out=out,
                credentials=credentials,
                return_state=True,
            )
        )
        signed = asyncio.run(
            batch_text_to_video(
                [VideoRequest(prompt="A lantern on a lake")],
                out="ui-pictures/",
                storage=storage,
                credentials=credentials,
                link_expiry_seconds=86400,
                return_state=True,
            )
        )
    yield {
        "api": prefect_server_process["PREFECT_API_URL"],
        "single": str(single.state_details.flow_run_id),
        "batch": str(batch.state_details.flow_run_id),
        "signed": str(signed.state_details.flow_run_id),
        "signed_url": signed.result().items[0].url,
        "options": {**public, "key": "AKIAUIPICTURES", "secret": S3_SECRET},
        "s3": s3_endpoint,
    }


@pytest.fixture(scope="module")
def ui(runs: dict[str, Any]) -> str:
    return str(runs["api"]).removesuffix("/api") + "/v2"


@pytest.fixture(scope="module")
def pictures_browser(chromium: str, runs: dict[str, Any]) -> Iterator[Any]:
    """Chromium under Playwright, started once the flows have run."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def tab(pictures_browser: Any) -> Iterator[Any]:
    context = pictures_browser.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()


def shown_image(page: Any) -> dict[str, Any]:
    """The artifact page's image once it has loaded: its source and natural size (0 if broken)."""
    page.wait_for_function(
        "() => [...document.querySelectorAll('main img')].some(i => i.complete && i.naturalWidth > 0)"
    )
    return dict(
        page.evaluate(
            "() => { const i = [...document.querySelectorAll('main img')].find(i => i.naturalWidth > 0);"
            " return {src: i.src, width: i.naturalWidth, height: i.naturalHeight}; }"
        )
    )


def test_a_single_runs_thumbnail_shows_in_the_browser_portrait(
    tab: Any, ui: str, runs: dict[str, Any], screenshots: Screenshots
) -> None:
    artifacts = _artifacts(runs["api"], runs["single"])
    (thumbnail,) = [a for a in artifacts if a["type"] == "image"]
    visit(tab, f"{ui}/artifacts/artifact/{thumbnail['id']}", expect_text="Item 0: thumbnail")

    image = shown_image(tab)
    assert image["src"].startswith("data:image/jpeg;base64,")
    assert image["height"] > image["width"], "a 720x1280 video's thumbnail stays portrait"
    screenshots.take(tab, "ui-thumbnail.png")


def test_a_batchs_contact_sheet_shows_every_item_with_the_failed_one_marked(
    tab: Any, ui: str, runs: dict[str, Any], screenshots: Screenshots
) -> None:
    artifacts = _artifacts(runs["api"], runs["batch"])
    (sheet,) = [a for a in artifacts if a["key"] == "sora-batch-contact-sheet"]
    visit(tab, f"{ui}/artifacts/artifact/{sheet['id']}", expect_text="contact sheet")

    image = shown_image(tab)
    assert (image["width"], image["height"]) == (4 * 128, 128), "four numbered tiles in one row"
    red = tab.evaluate(
        """src => new Promise(done => { const i = new Image(); i.onload = () => {
             const c = document.createElement('canvas'); c.width = i.width; c.height = i.height;
             const g = c.getContext('2d'); g.drawImage(i, 0, 0);
             done([...g.getImageData(128 + 20, 20, 1, 1).data]); }; i.src = src; })""",
        image["src"],
    )
    assert red[0] > 180 and red[1] < 80 and red[2] < 80, f"item 1's tile is crossed in red: {red}"
    screenshots.take(tab, "ui-contact-sheet.png")


def test_a_stored_video_on_s3_has_a_signed_link_that_opens_the_mp4(
    tab: Any, ui: str, runs: dict[str, Any], screenshots: Screenshots
) -> None:
    artifacts = _artifacts(runs["api"], runs["signed"])
    assert S3_SECRET not in json.dumps(artifacts) and API_KEY not in json.dumps(artifacts)
    (link,) = [a for a in artifacts if a["type"] == "markdown" and not a["key"]]
    page = visit(tab, f"{ui}/artifacts/artifact/{link['id']}", expect_text="Item 0: stored")

    anchor = tab.locator("main a[href*='Signature=']").first
    href = str(anchor.get_attribute("href"))
    parts = urlsplit(href)
    assert f"{parts.scheme}://{parts.netloc}" == runs["s3"] and parts.path.endswith(".mp4"), href
    assert S3_SECRET not in tab.content() and S3_SECRET not in page
    fs = fsspec.filesystem("s3", **runs["options"])
    assert httpx.get(href, timeout=10).raise_for_status().content == fs.cat_file(
        str(runs["signed_url"]).removeprefix("s3://")
    ), "the link opens the stored MP4"
    if screenshots:  # the UI may re-render the artifact (and detach the link) meanwhile
        with contextlib.suppress(Exception):
            tab.locator("main a[href*='Signature=']").first.scroll_into_view_if_needed(timeout=5000)
    screenshots.take(tab, "ui-signed-link.png")
