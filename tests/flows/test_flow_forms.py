"""The run forms Prefect builds from the flows' signatures: choices for closed sets, no null choice for empty text."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from prefect.utilities.callables import parameter_schema
from prefect.utilities.schema_tools import validate

from prefect_sora._models import VideoRequest
from prefect_sora.blocks import SoraCredentials
from prefect_sora.emulator import Emulator
from prefect_sora.flows import batch_text_to_video, image_to_video, remix_video, text_to_video

MODELS = ["sora-2", "sora-2-pro"]
SIZES = ["720x1280", "1280x720", "1024x1792", "1792x1024", "1080x1920", "1920x1080"]
FLOWS = {"text_to_video": text_to_video, "image_to_video": image_to_video, "remix_video": remix_video}


def schema_of(flow: Any) -> dict[str, Any]:
    """The parameter schema `prefect deploy` sends to the server, from which the UI draws the run form."""
    return dict(parameter_schema(flow.fn).model_dump_for_openapi())


@pytest.mark.parametrize("name", ["text_to_video", "image_to_video"])
def test_model_size_and_seconds_are_offered_as_choices(name: str) -> None:
    properties = schema_of(FLOWS[name])["properties"]

    assert properties["model"]["enum"] == MODELS
    assert properties["size"]["enum"] == SIZES
    assert properties["seconds"]["enum"] == ["4", "8", "12"]


def test_each_batch_item_offers_model_size_and_seconds_as_choices() -> None:
    requests = schema_of(batch_text_to_video)["properties"]["requests"]

    item = requests["items"]
    assert (item["properties"]["model"]["enum"], item["properties"]["size"]["enum"]) == (MODELS, SIZES)
    assert item["properties"]["seconds"]["enum"] == ["4", "8", "12"]
    assert requests["minItems"] == 1 and item["required"] == ["prompt"]


@pytest.mark.parametrize("name", ["text_to_video", "image_to_video", "remix_video", "batch_text_to_video"])
def test_optional_text_and_options_are_plain_boxes_whose_defaults_pass_the_servers_check(name: str) -> None:
    flow = {**FLOWS, "batch_text_to_video": batch_text_to_video}[name]
    schema = schema_of(flow)
    plain = [
        p
        for p in ("idempotency_key", "journal_url", "storage_options", "image_storage_options")
        if p in schema["properties"]
    ]

    for parameter in plain:
        assert "anyOf" not in schema["properties"][parameter], f"{parameter} would show a str/None choice"
    # What the form sends when nothing is typed: every default, checked as the server checks it.
    defaults = {name: spec["default"] for name, spec in schema["properties"].items() if "default" in spec}
    validate(defaults, schema, raise_on_error=True, ignore_required=True)


def test_an_empty_key_and_journal_url_mean_not_given(
    sora_emulator: Emulator, credentials: SoraCredentials, out: str
) -> None:
    batch = asyncio.run(
        batch_text_to_video(
            [VideoRequest(prompt="A paper boat")],
            out=out,
            credentials=credentials,
            idempotency_key="",
            journal_url="",
            storage_options={},
        )
    )

    assert batch.stored == 1
    assert batch.journal_url.startswith(f"file://{out}.prefect-sora/journal/")  # beside the outputs
    assert batch.idempotency_key  # the flow run's id
