"""Gateway profiles: each one's auth, base path, sizes and ids, as a client pointed at that gateway meets them."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
from emulator_helpers import AUTH, assert_error, create, wait_status

from prefect_sora.emulator import Emulator, EmulatorConfig
from prefect_sora.emulator._ids import decode_litellm_id

AZURE_KEY = {"api-key": "az-test-key"}


@pytest.fixture
def azure() -> Iterator[Emulator]:
    with Emulator(profile="azure", job_seconds=0.2) as emu:
        yield emu


def azure_api(emu: Emulator) -> httpx.Client:
    return httpx.Client(base_url=emu.base_url, headers=AZURE_KEY, timeout=10)


def post(base_url: str, body: dict[str, object], headers: dict[str, str] = AUTH) -> httpx.Response:
    return httpx.post(f"{base_url}/videos", json=body, headers=headers, timeout=10)


# -- apiyi (the default) and openai ----------------------------------------------------------


def test_the_default_profile_is_the_gateway_page(sora_emulator: Emulator, api: httpx.Client) -> None:
    assert sora_emulator.config.profile == "apiyi"
    assert sora_emulator.base_url.endswith("/v1") and not sora_emulator.base_url.endswith("/openai/v1")
    assert create(api, model="sora-2-pro", size="1920x1080")["size"] == "1920x1080"
    assert_error(api.post("/videos", json={"prompt": "no model"}), 400, code="missing_required_parameter")


def test_openai_profile_has_the_schema_sizes_only_and_defaults_the_model() -> None:
    with Emulator(profile="openai", job_seconds=0.2) as emu:
        refused = post(emu.base_url, {"model": "sora-2-pro", "prompt": "p", "size": "1080x1920"})
        error = assert_error(refused, 400, param="size")
        assert "1080x1920" in error["message"] and "1792x1024" in error["message"]
        assert post(emu.base_url, {"model": "sora-2-pro", "prompt": "p", "size": "1792x1024"}).status_code == 200
        defaulted = post(emu.base_url, {"prompt": "no model"}).json()
        assert (defaulted["model"], defaulted["status"]) == ("sora-2", "queued")
        assert_error(httpx.get(f"{emu.base_url}/videos", headers=AZURE_KEY), 401, code="invalid_api_key")


# -- azure -----------------------------------------------------------------------------------


def test_azure_serves_its_v1_base_and_takes_the_api_key_header(azure: Emulator) -> None:
    assert azure.base_url == f"{azure.url}/openai/v1"
    with azure_api(azure) as api:
        video = create(api)
        assert api.get(f"/videos/{video['id']}").json()["id"] == video["id"]
    also = httpx.get(f"{azure.url}/v1/videos/{video['id']}", headers=AZURE_KEY)
    assert also.status_code == 200, "/v1 keeps working"
    assert httpx.get(f"{azure.url}/openai/v1x/videos", headers=AZURE_KEY).status_code == 404


@pytest.mark.parametrize("headers", [AUTH, {}, {"api-key": ""}])
def test_azure_refuses_a_bearer_alone_in_its_own_error_shape(azure: Emulator, headers: dict[str, str]) -> None:
    response = httpx.get(f"{azure.base_url}/videos", headers=headers)
    assert response.status_code == 401
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == "401" and "subscription key" in body["error"]["message"]


def test_azure_with_a_configured_key_accepts_only_that_one() -> None:
    with Emulator(profile="azure", api_key="az-right", job_seconds=0.2) as emu:
        wrong = httpx.get(f"{emu.base_url}/videos", headers={"api-key": "az-wrong"})
        assert wrong.status_code == 401 and "az-wrong" not in wrong.text and "az-right" not in wrong.text
        both = {"api-key": "az-right", "Authorization": "Bearer something-else"}
        assert httpx.get(f"{emu.base_url}/videos", headers=both).status_code == 200


def test_azure_model_is_a_deployment_name(azure: Emulator) -> None:
    with azure_api(azure) as api:
        missing = api.post("/videos", json={"model": "sora-2-pro", "prompt": "p"})
        assert missing.status_code == 404
        assert missing.json() == {
            "error": {"code": "DeploymentNotFound", "message": missing.json()["error"]["message"]}
        }
        assert "deployment" in missing.json()["error"]["message"]
        azure.configure(deployments={"video-pro-eu": "sora-2-pro"})
        video = create(api, model="video-pro-eu", size="1280x720", seconds="12")
        assert (video["model"], video["quality"], video["seconds"]) == ("video-pro-eu", "high", "12")
        assert api.post("/videos", json={"model": "sora-2", "prompt": "p"}).status_code == 404
        assert_error(api.post("/videos", json={"model": "video-pro-eu", "prompt": "p", "size": "1024x1792"}), 400)


def test_azure_defaults_two_running_jobs_24h_content_and_records_api_versions(azure: Emulator) -> None:
    config = azure.config
    assert (config.max_running_jobs, config.content_ttl_seconds, config.deployments) == (2, 86400, {"sora-2": "sora-2"})
    with azure_api(azure) as api:
        first = create(api, prompt="first")
        create(api, prompt="second")
        third = api.post("/videos", json={"model": "sora-2", "prompt": "third"})
        assert_error(third, 429, code="too_many_running_jobs")
        done = wait_status(api, first["id"], "completed")
        assert done["expires_at"] - done["completed_at"] == 86400
        assert api.get("/videos", params={"api-version": "preview"}).status_code == 200
        api.get("/videos", params={"api-version": "2025-04-01-preview", "limit": "1"})
    assert azure.stats()["api_versions_seen"] == ["2025-04-01-preview", "preview"]


def test_explicit_fields_win_over_profile_defaults() -> None:
    config = EmulatorConfig(profile="azure", max_running_jobs=5, content_ttl_seconds=60)
    assert (config.max_running_jobs, config.content_ttl_seconds) == (5, 60)
    switched = EmulatorConfig().updated(profile="azure")
    assert (switched.max_running_jobs, switched.content_ttl_seconds) == (2, 86400)
    back = switched.updated(profile="openai")
    assert (back.max_running_jobs, back.content_ttl_seconds, back.deployments) == (None, 3600, None)
    kept = EmulatorConfig(content_ttl_seconds=10).updated(profile="azure")
    assert kept.content_ttl_seconds == 10, "a field set away from the old profile's default stays"


def test_switching_profile_at_runtime_moves_the_base_url(sora_emulator: Emulator) -> None:
    sora_emulator.configure(profile="azure")
    assert sora_emulator.base_url.endswith("/openai/v1")
    assert httpx.get(f"{sora_emulator.base_url}/videos", headers=AZURE_KEY).status_code == 200
    sora_emulator.reset()
    assert sora_emulator.base_url.endswith(f"{sora_emulator.port}/v1")


# -- litellm ---------------------------------------------------------------------------------

LITELLM_ID = re.compile(r"^video_[A-Za-z0-9+/]+={0,2}$")


@pytest.fixture
def litellm() -> Iterator[Emulator]:
    with Emulator(profile="litellm", job_seconds=0.2) as emu:
        yield emu


def test_litellm_ids_are_base64_of_provider_model_and_upstream_id(litellm: Emulator) -> None:
    with httpx.Client(base_url=litellm.base_url, headers=AUTH) as api:
        ids = {model: create(api, model=model)["id"] for model in ("sora-2", "sora-2-pro")}
    for model, video_id in ids.items():
        assert LITELLM_ID.match(video_id), video_id
        text = base64.b64decode(video_id.removeprefix("video_")).decode()
        assert re.fullmatch(rf"litellm:custom_llm_provider:openai;model_id:{model};video_id:video_[0-9a-f]{{32}}", text)
        assert decode_litellm_id(video_id) == {
            "provider": "openai",
            "model_id": model,
            "video_id": text.rsplit(":", 1)[1],
        }
    assert ids["sora-2"].endswith("="), "this length of text pads: the id holds a character clients escape"


def test_litellm_ids_round_trip_through_every_route_percent_encoded() -> None:
    # The id style on its own: the proxy's other deviations off, every route served.
    served = {"echo_id": "same", "unserved_routes": [], "read_errors_as_500": False}
    with (
        Emulator(profile="litellm", job_seconds=0.2, **served) as litellm,
        httpx.Client(base_url=litellm.base_url, headers=AUTH, timeout=10) as api,
    ):
        video = wait_status(api, create(api)["id"], "completed")
        escaped = quote(video["id"], safe="")
        assert "%3D" in escaped
        assert api.get(f"/videos/{escaped}").json()["id"] == video["id"]
        assert api.get(f"/videos/{escaped}/content").headers["content-type"] == "video/mp4"
        remix = api.post(f"/videos/{escaped}/remix", json={"prompt": "again"}).json()
        assert remix["remixed_from_video_id"] == video["id"]
        plan = httpx.get(f"{litellm.url}/_emulator/videos/{escaped}").json()
        assert plan["id"] == video["id"]
        wait_status(api, remix["id"], "completed")
        assert api.delete(f"/videos/{quote(remix['id'], safe='')}").json()["deleted"] is True
        stats = litellm.stats()
    assert stats["polls"][video["id"]] >= 2 and stats["downloads"][video["id"]] == {"video": 1}


def proxy_error(response: httpx.Response, status: int) -> str:
    """The message of an error in LiteLLM's envelope (type null, code the status as a string)."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["type"] is None and error["code"] == str(status), error
    return str(error["message"])


def test_litellm_answers_each_route_as_the_real_proxy_did(litellm: Emulator) -> None:
    litellm.configure(poll_after_ms=50)
    with httpx.Client(base_url=litellm.base_url, headers=AUTH, timeout=10) as api:
        created = create(api, prompt="slow [emulator:seconds=0.6]")
        path = f"/videos/{quote(created['id'], safe='')}"
        polled = api.get(path)
        assert "openai-poll-after-ms" not in polled.headers, "the proxy drops the hint"
        assert re.fullmatch(r"[0-9a-f-]{36}", polled.headers["x-litellm-call-id"])
        assert "x-request-id" not in polled.headers
        echoed = decode_litellm_id(polled.json()["id"])
        assert echoed == {**(decode_litellm_id(created["id"]) or {}), "model_id": ""}, "re-encoded, model empty"

        not_ready = api.get(f"{path}/content")
        assert (not_ready.status_code, not_ready.headers["content-type"]) == (200, "video/mp4")
        assert not_ready.json()["error"]["code"] == "video_not_ready", "JSON sent as video"
        assert "x-litellm-call-id" not in not_ready.headers

        wait_status(api, quote(created["id"], safe=""), "completed")
        thumbnail = api.get(f"{path}/content", params={"variant": "thumbnail"})
        assert thumbnail.headers["content-type"] == "video/mp4" and thumbnail.content[4:8] == b"ftyp"

        assert "LLM Provider NOT provided" in proxy_error(api.get("/videos"), 400)
        unknown = proxy_error(api.get("/videos/" + created["id"].replace("x", "y", 1)), 500)
        assert "video_not_found" in unknown
        assert "Incorrect API key" in proxy_error(api.post(f"{path}/remix", json={"prompt": "blue"}), 500)
        deleted = api.delete(path)
        assert (deleted.status_code, deleted.json()) == (405, {"detail": "Method Not Allowed"})
    stats = litellm.stats()
    assert (stats["creates"], stats["remixes"], stats["lists"], stats["deletes"]) == (1, 0, 0, 0)
    assert stats["downloads_by_variant"] == {"video": 1}, "the thumbnail request served the video"


def test_each_litellm_deviation_is_a_knob_any_profile_can_turn_on() -> None:
    with (
        Emulator(profile="openai", job_seconds=0.2, unserved_routes=["list"], ignore_variant=True) as emu,
        httpx.Client(base_url=emu.base_url, headers=AUTH, timeout=10) as api,
    ):
        video = wait_status(api, create(api)["id"], "completed")
        assert api.get(f"/videos/{video['id']}").headers["x-request-id"].startswith("req_")
        assert proxy_error(api.get("/videos"), 400)
        thumbnail = api.get(f"/videos/{video['id']}/content", params={"variant": "thumbnail"})
        assert thumbnail.headers["content-type"] == "video/mp4"
        assert_error(api.get("/videos/video_nope"), 404, code="video_not_found")
        emu.configure(read_errors_as_500=True, content_errors_as_video=True)
        assert "video_not_found" in proxy_error(api.get("/videos/video_nope"), 500)
        missing = api.get("/videos/video_nope/content")
        assert (missing.status_code, missing.headers["content-type"]) == (200, "video/mp4")
    assert EmulatorConfig(profile="openai").unserved_routes == []
    assert EmulatorConfig(profile="litellm", unserved_routes=[]).unserved_routes == [], "an explicit field wins"


@pytest.mark.parametrize(("method", "suffix"), [("GET", ""), ("DELETE", ""), ("GET", "/content"), ("POST", "/remix")])
def test_an_encoded_slash_stays_inside_the_id(api: httpx.Client, method: str, suffix: str) -> None:
    body = {"prompt": "p"} if method == "POST" else None
    response = api.request(method, f"/videos/video_ab%2Bc%2Fd%3D{suffix}", json=body)
    error = assert_error(response, 404, code="video_not_found", param="video_id")
    assert "'video_ab+c/d='" in error["message"], "routed to the video route with the id decoded"
