"""The emulator refuses what the gateway reference refuses, with 400/401/404 in the API's envelope."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from emulator_helpers import assert_error, create, image_bytes

from prefect_sora.emulator import Emulator


def post(api: httpx.Client, body: dict[str, Any]) -> httpx.Response:
    return api.post("/videos", json=body)


# -- JSON create --------------------------------------------------------------------------


def test_defaults_are_four_seconds_portrait_720p(api: httpx.Client) -> None:
    video = create(api)
    assert (video["seconds"], video["size"], video["quality"]) == ("4", "720x1280", "standard")


@pytest.mark.parametrize("seconds", ["4", "8", "12"])
def test_seconds_as_strings_are_accepted(api: httpx.Client, seconds: str) -> None:
    assert create(api, seconds=seconds)["seconds"] == seconds


@pytest.mark.parametrize("seconds", [4, 8, "10", "15", "4.0", 4.0, None, ""])
def test_seconds_other_than_the_three_strings_is_a_400(api: httpx.Client, seconds: object) -> None:
    response = post(api, {"model": "sora-2", "prompt": "p", "seconds": seconds})
    assert_error(response, 400, param="seconds")


def test_integer_seconds_message_says_it_must_be_a_string(api: httpx.Client) -> None:
    error = assert_error(post(api, {"model": "sora-2", "prompt": "p", "seconds": 4}), 400)
    assert "string" in error["message"] and error["type"] == "invalid_request_error"


@pytest.mark.parametrize("size", ["1024x1792", "1792x1024", "1080x1920", "1920x1080", "640x480"])
def test_sora_2_only_has_the_720p_tiers(api: httpx.Client, size: str) -> None:
    assert_error(post(api, {"model": "sora-2", "prompt": "p", "size": size}), 400, param="size")


@pytest.mark.parametrize("size", ["720x1280", "1280x720", "1024x1792", "1792x1024", "1080x1920", "1920x1080"])
def test_sora_2_pro_has_every_tier_and_high_quality(api: httpx.Client, size: str) -> None:
    video = create(api, model="sora-2-pro", size=size)
    assert (video["size"], video["model"], video["quality"]) == (size, "sora-2-pro", "high")


def test_sora_2_pro_refuses_sizes_outside_its_tiers(api: httpx.Client) -> None:
    assert_error(post(api, {"model": "sora-2-pro", "prompt": "p", "size": "2048x2048"}), 400, param="size")


def test_model_is_required(api: httpx.Client) -> None:
    assert_error(post(api, {"prompt": "p"}), 400, param="model", code="missing_required_parameter")


def test_prompt_is_required(api: httpx.Client) -> None:
    assert_error(post(api, {"model": "sora-2"}), 400, param="prompt", code="missing_required_parameter")


@pytest.mark.parametrize("model", ["sora-3", "gpt-4o", "", 2])
def test_unknown_model_is_a_400(api: httpx.Client, model: object) -> None:
    assert_error(post(api, {"model": model, "prompt": "p"}), 400, param="model")


def test_empty_prompt_is_a_400(api: httpx.Client) -> None:
    assert_error(post(api, {"model": "sora-2", "prompt": ""}), 400, param="prompt")


def test_prompt_of_32000_characters_is_accepted_and_32001_refused(api: httpx.Client) -> None:
    assert create(api, prompt="x" * 32_000)["prompt"] == "x" * 32_000
    assert_error(post(api, {"model": "sora-2", "prompt": "x" * 32_001}), 400, param="prompt")


def test_non_string_prompt_is_a_400(api: httpx.Client) -> None:
    assert_error(post(api, {"model": "sora-2", "prompt": ["a"]}), 400, param="prompt", code="invalid_type")


def test_unknown_parameter_is_a_400(api: httpx.Client) -> None:
    response = post(api, {"model": "sora-2", "prompt": "p", "duration": "4"})
    assert_error(response, 400, param="duration", code="unknown_parameter")


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b""])
def test_body_that_is_not_a_json_object_is_a_400(api: httpx.Client, body: bytes) -> None:
    response = api.post("/videos", content=body, headers={"content-type": "application/json"})
    assert_error(response, 400)


def test_unsupported_content_type_is_a_400(api: httpx.Client) -> None:
    response = api.post("/videos", content=b"model=sora-2", headers={"content-type": "text/plain"})
    assert_error(response, 400, code="unsupported_content_type")


# -- input_reference in JSON ----------------------------------------------------------------


def test_input_reference_as_a_plain_string_is_a_400(api: httpx.Client) -> None:
    body = {"model": "sora-2", "prompt": "p", "input_reference": "https://example.com/a.png"}
    assert_error(post(api, body), 400, param="input_reference", code="invalid_type")


@pytest.mark.parametrize("reference", [{"image_url": "https://example.com/a.png"}, {"file_id": "file-123"}])
def test_input_reference_object_with_url_or_file_id_is_accepted(api: httpx.Client, reference: dict[str, str]) -> None:
    assert create(api, input_reference=reference)["status"] == "queued"


@pytest.mark.parametrize(
    "reference",
    [{}, {"image_url": "https://a/b.png", "file_id": "file-1"}, {"url": "https://a"}, {"image_url": ""}],
)
def test_input_reference_object_needs_exactly_one_of_its_keys(api: httpx.Client, reference: dict[str, str]) -> None:
    body = {"model": "sora-2", "prompt": "p", "input_reference": reference}
    assert_error(post(api, body), 400)


def test_data_url_images_are_decoded_and_checked(api: httpx.Client) -> None:
    good = "data:image/png;base64," + base64.b64encode(image_bytes(720, 1280)).decode()
    bad = "data:image/png;base64," + base64.b64encode(image_bytes(1280, 720)).decode()
    assert create(api, input_reference={"image_url": good})["status"] == "queued"
    response = post(api, {"model": "sora-2", "prompt": "p", "input_reference": {"image_url": bad}})
    assert_error(response, 400, code="invalid_image_size")


@pytest.mark.parametrize("url", ["ftp://example.com/a.png", "data:image/png,notbase64", "data:image/png;base64,@@@"])
def test_other_image_urls_are_refused(api: httpx.Client, url: str) -> None:
    response = post(api, {"model": "sora-2", "prompt": "p", "input_reference": {"image_url": url}})
    assert_error(response, 400, param="input_reference.image_url")


# -- multipart create ---------------------------------------------------------------------


def multipart(api: httpx.Client, data: dict[str, str], image: tuple[str, bytes, str] | None = None) -> httpx.Response:
    files = {"input_reference": image} if image else None
    # httpx only sends multipart when there is a file; force it for text-only bodies.
    if files is None:
        files = {"_": ("", b"", "text/plain")}
        return api.post("/videos", data=data, files=files)
    return api.post("/videos", data=data, files=files)


def test_multipart_with_matching_image_is_accepted(api: httpx.Client) -> None:
    for fmt, mime in (("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")):
        image = ("ref", image_bytes(1280, 720, fmt), mime)
        response = multipart(api, {"model": "sora-2", "prompt": "p", "size": "1280x720", "seconds": "8"}, image)
        assert response.status_code == 200, response.text
        assert (response.json()["size"], response.json()["seconds"]) == ("1280x720", "8")


def test_multipart_image_must_match_size(api: httpx.Client) -> None:
    image = ("ref.png", image_bytes(720, 1280), "image/png")
    response = multipart(api, {"model": "sora-2", "prompt": "p", "size": "1280x720"}, image)
    assert_error(response, 400, param="input_reference", code="invalid_image_size")


@pytest.mark.parametrize(
    "payload",
    [b"definitely not an image", image_bytes(720, 1280, "GIF"), image_bytes(720, 1280, "BMP")],
)
def test_multipart_upload_that_is_not_jpeg_png_or_webp_is_a_400(api: httpx.Client, payload: bytes) -> None:
    response = multipart(api, {"model": "sora-2", "prompt": "p"}, ("ref", payload, "image/png"))
    assert_error(response, 400, param="input_reference", code="invalid_image_format")


def test_multipart_seconds_ten_is_a_400(api: httpx.Client) -> None:
    response = api.post(
        "/videos",
        data={"model": "sora-2", "prompt": "p", "seconds": "10"},
        files={"input_reference": ("r.png", image_bytes(720, 1280), "image/png")},
    )
    assert_error(response, 400, param="seconds")


def test_multipart_nested_reference_fields_become_an_object(api: httpx.Client) -> None:
    response = api.post(
        "/videos",
        content=(
            b'--b\r\nContent-Disposition: form-data; name="model"\r\n\r\nsora-2\r\n'
            b'--b\r\nContent-Disposition: form-data; name="prompt"\r\n\r\np\r\n'
            b'--b\r\nContent-Disposition: form-data; name="input_reference[file_id]"\r\n\r\nfile-9\r\n'
            b"--b--\r\n"
        ),
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert response.status_code == 200, response.text


def test_malformed_multipart_is_a_400(api: httpx.Client) -> None:
    response = api.post("/videos", content=b"garbage", headers={"content-type": "multipart/form-data"})
    assert_error(response, 400)


# -- authentication ---------------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "", "Bearer", "Basic c2stdGVzdA==", "sk-test", "Token sk-test"])
def test_missing_or_malformed_bearer_is_a_401(sora_emulator: Emulator, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    response = httpx.get(f"{sora_emulator.base_url}/videos", headers=headers)
    error = assert_error(response, 401, code="invalid_api_key")
    assert "x-request-id" in response.headers
    assert error["type"] == "invalid_request_error"


def test_any_non_empty_bearer_is_accepted_without_a_configured_key(sora_emulator: Emulator) -> None:
    response = httpx.get(f"{sora_emulator.base_url}/videos", headers={"Authorization": "Bearer anything"})
    assert response.status_code == 200


def test_configured_key_is_the_only_one_accepted_and_never_echoed() -> None:
    with Emulator(api_key="sk-right", job_seconds=0.1) as emu:
        wrong = httpx.get(f"{emu.base_url}/videos", headers={"Authorization": "Bearer sk-wrong"})
        error = assert_error(wrong, 401, code="invalid_api_key")
        assert "sk-wrong" not in error["message"] and "sk-right" not in wrong.text
        right = httpx.get(f"{emu.base_url}/videos", headers={"Authorization": "Bearer sk-right"})
        assert right.status_code == 200
        assert "sk-right" not in repr(emu.config)


# -- 404 and other refusals ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/videos/video_missing"),
        ("DELETE", "/videos/video_missing"),
        ("GET", "/videos/video_missing/content"),
        ("POST", "/videos/video_missing/remix"),
    ],
)
def test_unknown_video_id_is_a_404(api: httpx.Client, method: str, path: str) -> None:
    response = api.request(method, path, json={"prompt": "p"} if method == "POST" else None)
    assert_error(response, 404, code="video_not_found")


def test_unknown_route_is_a_404_in_the_envelope(api: httpx.Client) -> None:
    assert_error(api.get("/images"), 404)


@pytest.mark.parametrize("query", [{"limit": "101"}, {"limit": "-1"}, {"limit": "ten"}, {"order": "newest"}])
def test_list_query_out_of_range_is_a_400(api: httpx.Client, query: dict[str, str]) -> None:
    assert_error(api.get("/videos", params=query), 400, param=next(iter(query)))


def test_list_after_an_unknown_id_is_a_400(api: httpx.Client) -> None:
    assert_error(api.get("/videos", params={"after": "video_nope"}), 400, param="after")


def test_unknown_content_variant_is_a_400(api: httpx.Client) -> None:
    video = create(api)
    assert_error(api.get(f"/videos/{video['id']}/content", params={"variant": "gif"}), 400, param="variant")


def test_every_response_carries_a_request_id(api: httpx.Client) -> None:
    responses = [api.get("/videos"), api.get("/videos/x"), api.get("/nope")]
    ids = {response.headers["x-request-id"] for response in responses}
    assert len(ids) == 3 and all(value.startswith("req_") for value in ids)
