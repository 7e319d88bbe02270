"""The `echo_id` knob: status answers name a job by another id, which routes elsewhere, as a LiteLLM proxy does."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
from emulator_helpers import AUTH, create, wait_status

from prefect_sora.emulator import Emulator
from prefect_sora.emulator._ids import decode_litellm_id


@pytest.fixture
def echoing() -> Iterator[Emulator]:
    with Emulator(profile="openai", job_seconds=0.2, echo_id="reencoded") as emu:
        yield emu


def test_the_default_echoes_the_created_id(sora_emulator: Emulator, api: httpx.Client) -> None:
    created = create(api)
    assert sora_emulator.config.echo_id == "same"
    assert api.get(f"/videos/{created['id']}").json()["id"] == created["id"]
    assert api.get("/videos").json()["data"][0]["id"] == created["id"]


def test_litellm_echoes_the_id_reencoded_without_its_model_and_only_the_created_id_downloads() -> None:
    with (
        Emulator(profile="litellm", job_seconds=0.2, echo_id="reencoded") as emu,
        httpx.Client(base_url=emu.base_url, headers=AUTH, timeout=10) as api,
    ):
        created = create(api, model="sora-2-pro")["id"]
        echoed = wait_status(api, quote(created, safe=""), "completed")["id"]
        api.get(f"/videos/{quote(echoed, safe='')}/content")
        assert api.get(f"/videos/{quote(created, safe='')}/content").headers["content-type"] == "video/mp4"
        stats = emu.stats()
    made, seen = decode_litellm_id(created), decode_litellm_id(echoed)
    assert made is not None and made["model_id"] == "sora-2-pro"
    assert seen == {**made, "model_id": ""}, "the same upstream job, the model part empty"
    assert stats["misrouted"] == 1 and stats["downloads"] == {created: {"video": 1}}


def test_requests_by_the_echoed_id_fail_as_routed_elsewhere_and_the_created_id_works(echoing: Emulator) -> None:
    with httpx.Client(base_url=echoing.base_url, headers=AUTH, timeout=10) as api:
        created = create(api)["id"]
        done = wait_status(api, quote(created, safe=""), "completed")
        echoed = quote(done["id"], safe="")
        assert done["id"] != created
        listed = api.get("/videos").json()
        assert [video["id"] for video in listed["data"]] == [done["id"]] == [listed["first_id"]]
        for method, path, body in [
            ("GET", f"/videos/{echoed}", None),
            ("GET", f"/videos/{echoed}/content", None),
            ("POST", f"/videos/{echoed}/remix", {"prompt": "again"}),
            ("POST", "/videos/extensions", {"video": {"id": done["id"]}, "prompt": "on", "seconds": "4"}),
            ("DELETE", f"/videos/{echoed}", None),
        ]:
            response = api.request(method, path, json=body)
            assert response.status_code >= 500, response.text
            assert "api.openai.com" in response.text and echoing.url not in response.text
        by_created = api.get(f"/videos/{quote(created, safe='')}/content")
        assert by_created.status_code == 200 and by_created.headers["content-type"] == "video/mp4"
        remix = api.post(f"/videos/{quote(created, safe='')}/remix", json={"prompt": "again"})
        assert remix.status_code == 200
        assert api.get("/videos", params={"after": done["id"]}).status_code == 200, "a listed id pages on"
    stats = echoing.stats()
    assert stats["downloads"] == {created: {"video": 1}} and stats["remixes"] == 1 and stats["misrouted"] == 5
