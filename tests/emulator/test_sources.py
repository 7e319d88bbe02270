"""Extensions, edits and characters (the rest of the Videos API), and input_reference in every form."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Mapping

import av
import httpx
import pytest
from emulator_helpers import assert_error, create, image_bytes, wait_status

from prefect_sora.emulator import Emulator
from prefect_sora.emulator._media import render_mp4

Part = str | tuple[str, bytes, str]


def form(api: httpx.Client, path: str, fields: Mapping[str, Part]) -> httpx.Response:
    """POST a multipart/form-data body with exactly these parts (text, or (filename, bytes, type))."""
    body = b""
    for name, value in fields.items():
        if isinstance(value, str):
            body += f'--b\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value.encode() + b"\r\n"
        else:
            filename, data, content_type = value
            head = f'--b\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            body += f"{head}Content-Type: {content_type}\r\n\r\n".encode() + data + b"\r\n"
    body += b"--b--\r\n"
    return api.post(path, content=body, headers={"content-type": "multipart/form-data; boundary=b"})


def completed(api: httpx.Client, **fields: str) -> dict[str, object]:
    return wait_status(api, str(create(api, **fields)["id"]), "completed")


def duration_of(mp4: bytes) -> float:
    with av.open(io.BytesIO(mp4)) as container:
        stream = container.streams.video[0]
        assert stream.duration is not None and stream.time_base is not None
        return float(stream.duration * stream.time_base)


# -- extensions ------------------------------------------------------------------------------


def test_an_extension_keeps_model_and_size_and_reports_the_stitched_length(
    sora_emulator: Emulator, api: httpx.Client
) -> None:
    source = completed(api, model="sora-2-pro", size="1280x720", seconds="4")
    response = api.post("/videos/extensions", json={"video": {"id": source["id"]}, "prompt": "on", "seconds": "4"})
    assert response.status_code == 200, response.text
    extension = response.json()
    assert (extension["model"], extension["size"], extension["quality"]) == ("sora-2-pro", "1280x720", "high")
    assert extension["seconds"] == "8", "the schema: for extensions, the stitched total duration"
    assert extension["status"] == "queued" and extension["remixed_from_video_id"] is None
    plan = sora_emulator.plan(str(extension["id"]))
    assert (plan["kind"], plan["source_video_id"]) == ("extension", source["id"])
    wait_status(api, str(extension["id"]), "completed")
    assert duration_of(api.get(f"/videos/{extension['id']}/content").content) == pytest.approx(8.0)
    assert sora_emulator.stats()["extensions"] == 1 and sora_emulator.stats()["creates"] == 1


@pytest.mark.parametrize("seconds", ["4", "8", "12", "16", "20"])
def test_extension_seconds_are_the_schema_descriptions_five(api: httpx.Client, seconds: str) -> None:
    source = completed(api)
    body = {"video": {"id": source["id"]}, "prompt": "on", "seconds": seconds}
    assert api.post("/videos/extensions", json=body).json()["seconds"] == str(4 + int(seconds))


def test_extensions_in_multipart_with_the_video_as_fields_or_as_a_json_string(api: httpx.Client) -> None:
    source = completed(api)
    bracketed = form(api, "/videos/extensions", {"video[id]": str(source["id"]), "prompt": "a", "seconds": "8"})
    as_json = form(
        api, "/videos/extensions", {"video": json.dumps({"id": source["id"]}), "prompt": "b", "seconds": "12"}
    )
    assert (bracketed.status_code, as_json.status_code) == (200, 200), (bracketed.text, as_json.text)
    assert (bracketed.json()["seconds"], as_json.json()["seconds"]) == ("12", "16")


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"prompt": "p", "seconds": "4"}, "video", "missing_required_parameter"),
        ({"video": {"id": "V"}, "seconds": "4"}, "prompt", "missing_required_parameter"),
        ({"video": {"id": "V"}, "prompt": "p"}, "seconds", "missing_required_parameter"),
        ({"video": {"id": "V"}, "prompt": "p", "seconds": "10"}, "seconds", "invalid_value"),
        ({"video": {"id": "V"}, "prompt": "p", "seconds": 8}, "seconds", "invalid_type"),
        ({"video": "V", "prompt": "p", "seconds": "4"}, "video", "invalid_type"),
        ({"video": {"url": "V"}, "prompt": "p", "seconds": "4"}, "video", "invalid_value"),
        ({"video": {"id": ""}, "prompt": "p", "seconds": "4"}, "video.id", "invalid_type"),
        ({"video": {"id": "V"}, "prompt": "", "seconds": "4"}, "prompt", "string_below_min_length"),
        ({"video": {"id": "V"}, "prompt": "p", "seconds": "4", "size": "1280x720"}, "size", "unknown_parameter"),
    ],
)
def test_extension_validation(api: httpx.Client, body: dict[str, object], param: str, code: str) -> None:
    source = completed(api)
    if isinstance(body.get("video"), dict) and body["video"] == {"id": "V"}:
        body = {**body, "video": {"id": source["id"]}}
    assert_error(api.post("/videos/extensions", json=body), 400, param=param, code=code)


def test_extensions_and_edits_need_a_completed_source(api: httpx.Client) -> None:
    pending = create(api, prompt="[emulator:stuck]")
    failed = wait_status(api, str(create(api, prompt="[emulator:fail]")["id"]), "failed")
    for path, extra in (("/videos/extensions", {"seconds": "4"}), ("/videos/edits", {})):
        missing = api.post(path, json={"video": {"id": "video_missing"}, "prompt": "p", **extra})
        assert_error(missing, 404, code="video_not_found")
        not_ready = api.post(path, json={"video": {"id": pending["id"]}, "prompt": "p", **extra})
        assert_error(not_ready, 409, code="video_not_ready")
        refused = api.post(path, json={"video": {"id": failed["id"]}, "prompt": "p", **extra})
        assert_error(refused, 409, code="video_failed")


# -- edits -----------------------------------------------------------------------------------


def test_an_edit_keeps_model_size_and_seconds(sora_emulator: Emulator, api: httpx.Client) -> None:
    source = completed(api, model="sora-2", size="1280x720", seconds="8")
    edit = api.post("/videos/edits", json={"video": {"id": source["id"]}, "prompt": "make it night"}).json()
    assert (edit["model"], edit["size"], edit["seconds"], edit["prompt"]) == (
        "sora-2",
        "1280x720",
        "8",
        "make it night",
    )
    multipart = form(api, "/videos/edits", {"video[id]": str(source["id"]), "prompt": "rain"})
    assert multipart.status_code == 200 and multipart.json()["seconds"] == "8"
    assert_error(api.post("/videos/edits", json={"video": {"id": source["id"]}, "prompt": "p", "seconds": "4"}), 400)
    assert sora_emulator.plan(str(edit["id"]))["kind"] == "edit"
    assert sora_emulator.stats()["edits"] == 2


def test_edits_and_extensions_of_an_uploaded_video_take_its_size_and_length(api: httpx.Client) -> None:
    mp4 = render_mp4(1280, 720, 8.0, seed=3)
    edit = form(api, "/videos/edits", {"video": ("clip.mp4", mp4, "video/mp4"), "prompt": "p"})
    assert edit.status_code == 200, edit.text
    assert (edit.json()["model"], edit.json()["size"], edit.json()["seconds"]) == ("sora-2", "1280x720", "8")
    extended = form(api, "/videos/extensions", {"video": ("c.mp4", mp4, "video/mp4"), "prompt": "p", "seconds": "4"})
    assert extended.json()["seconds"] == "12"
    pro = form(api, "/videos/edits", {"video": ("c.mp4", render_mp4(1792, 1024, 4.0), "video/mp4"), "prompt": "p"})
    assert (pro.json()["model"], pro.json()["quality"]) == ("sora-2-pro", "high")


@pytest.mark.parametrize(
    ("payload", "code"),
    [(b"not a video at all", "invalid_video_format"), (render_mp4(64, 64, 1.0), "invalid_video_size")],
)
def test_an_uploaded_source_must_be_a_video_the_api_could_make(api: httpx.Client, payload: bytes, code: str) -> None:
    response = form(api, "/videos/edits", {"video": ("c.mp4", payload, "video/mp4"), "prompt": "p"})
    assert_error(response, 400, param="video", code=code)


# -- characters ------------------------------------------------------------------------------


def test_a_character_is_made_from_an_uploaded_video_and_read_back(sora_emulator: Emulator, api: httpx.Client) -> None:
    mp4 = render_mp4(720, 1280, 1.0)
    response = form(api, "/videos/characters", {"video": ("me.mp4", mp4, "video/mp4"), "name": "Captain Koi"})
    assert response.status_code == 200, response.text
    character = response.json()
    assert set(character) == {"id", "object", "name", "created_at"}
    assert character["id"].startswith("char_") and character["name"] == "Captain Koi"
    assert isinstance(character["created_at"], int) and character["object"] == "character"
    assert api.get(f"/videos/characters/{character['id']}").json() == character
    assert_error(api.get("/videos/characters/char_missing"), 404, code="character_not_found", param="character_id")
    assert sora_emulator.stats()["characters"] == 1


@pytest.mark.parametrize(
    ("fields", "param", "code"),
    [
        ({"name": "x"}, "video", "missing_required_parameter"),
        ({"video": ("v.mp4", b"\x00\x00\x00\x18ftypisom", "video/mp4")}, "name", "missing_required_parameter"),
        ({"video": ("v.mp4", b"\x00\x00\x00\x18ftypisom", "video/mp4"), "name": ""}, "name", "invalid_value"),
        ({"video": ("v.mp4", b"\x00\x00\x00\x18ftypisom", "video/mp4"), "name": "n" * 81}, "name", "invalid_value"),
        ({"video": "a video", "name": "x"}, "video", "invalid_type"),
        ({"video": ("v.png", image_bytes(8, 8), "image/png"), "name": "x"}, "video", "invalid_video_format"),
    ],
)
def test_character_validation(api: httpx.Client, fields: Mapping[str, Part], param: str, code: str) -> None:
    assert_error(form(api, "/videos/characters", fields), 400, param=param, code=code)


def test_a_name_of_80_characters_is_accepted(api: httpx.Client) -> None:
    fields: dict[str, Part] = {"video": ("v.mp4", b"\x00\x00\x00\x18ftypisom", "video/mp4"), "name": "n" * 80}
    assert form(api, "/videos/characters", fields).status_code == 200


def test_faults_can_be_aimed_at_the_new_endpoints(sora_emulator: Emulator, api: httpx.Client) -> None:
    source = completed(api)
    sora_emulator.inject(500, endpoint="extend")
    sora_emulator.inject(503, endpoint="character_retrieve")
    sora_emulator.inject(429, endpoint="edit")
    body = {"video": {"id": source["id"]}, "prompt": "p"}
    assert api.post("/videos/edits", json=body).status_code == 429
    assert api.post("/videos/extensions", json={**body, "seconds": "4"}).status_code == 500
    assert api.get("/videos/characters/char_x").status_code == 503
    assert api.get("/videos/characters/char_x").status_code == 404
    assert api.post("/videos/extensions", json={**body, "seconds": "4"}).status_code == 200
    assert sora_emulator.stats()["faults"] == {"500": 1, "503": 1, "429": 1}


# -- input_reference in every form ---------------------------------------------------------


def data_url(width: int, height: int) -> str:
    return "data:image/png;base64," + base64.b64encode(image_bytes(width, height)).decode()


@pytest.mark.parametrize("key", ["image_url", "file_id"])
def test_input_reference_objects_in_json_and_both_multipart_spellings(api: httpx.Client, key: str) -> None:
    value = data_url(1280, 720) if key == "image_url" else "file-abc123"
    base: dict[str, Part] = {"model": "sora-2", "prompt": "p", "size": "1280x720"}
    as_json = api.post("/videos", json={**base, "input_reference": {key: value}})
    bracketed = form(api, "/videos", {**base, f"input_reference[{key}]": value})
    as_string = form(api, "/videos", {**base, "input_reference": json.dumps({key: value})})
    assert [r.status_code for r in (as_json, bracketed, as_string)] == [200, 200, 200], as_string.text


def test_input_reference_data_urls_are_checked_in_multipart_too(api: httpx.Client) -> None:
    fields: dict[str, Part] = {"model": "sora-2", "prompt": "p", "size": "1280x720"}
    wrong = form(api, "/videos", {**fields, "input_reference[image_url]": data_url(720, 1280)})
    assert_error(wrong, 400, param="input_reference", code="invalid_image_size")
    both = form(
        api, "/videos", {**fields, "input_reference": json.dumps({"image_url": "https://a/b.png", "file_id": "f"})}
    )
    assert_error(both, 400, param="input_reference", code="invalid_value")
