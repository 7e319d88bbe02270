"""A hostile or buggy server is met with a clear error: no crash, no hang, no write outside the destination."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hostile import HostileServer, Reply, serve, video

from prefect_sora._durable.download import download
from prefect_sora._errors import InvalidContent, TransportError, UnexpectedResponse
from prefect_sora._transport.client import SoraClient
from prefect_sora._transport.retries import RetryPolicy
from prefect_sora._transport.waiting import wait_for_video

pytestmark = pytest.mark.anyio

KEY = "sk-hostile-4f1c9d2e"
MP4_HEAD = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomavc1"


def client_for(server: HostileServer, **kwargs: object) -> SoraClient:
    return SoraClient(api_key=KEY, base_url=server.base_url, retry=RetryPolicy(max_retries=0), **kwargs)  # type: ignore[arg-type]


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize("bad_id", ["..", ".", "", "video_1\x00", "line\nbreak", "x" * 1025])
async def test_an_id_no_server_issues_is_refused_before_it_reaches_a_path(hostile: HostileServer, bad_id: str) -> None:
    hostile.on("GET", "/v1/videos/video_ok", video(id=bad_id))
    async with client_for(hostile) as client:
        with pytest.raises(UnexpectedResponse, match="unsafe video id"):
            await client.retrieve_video("video_ok")


@pytest.mark.parametrize("odd_id", ["../../etc/passwd", "a/b", "video 1", "dmlkZW8/+x==", "x" * 300])
async def test_an_odd_id_from_the_server_is_used_encoded_in_one_path_segment_and_stored_inside_the_folder(
    hostile: HostileServer, tmp_path: Path, odd_id: str
) -> None:
    # Since gateways issue ids like LiteLLM's base64 (with / + =), any printable id is
    # accepted; it is percent-encoded in every path and made a safe, unique file name.
    from urllib.parse import quote

    segment = quote(odd_id, safe="")
    hostile.on("GET", f"/v1/videos/{segment}", video(id=odd_id))
    hostile.on("GET", f"/v1/videos/{segment}/content", Reply(body=MP4_HEAD, headers={"content-type": "video/mp4"}))
    async with client_for(hostile) as client:
        job = await client.retrieve_video(odd_id)
        stored = await download(client, job.id, f"{tmp_path}/out/")

    assert [seen["path"] for seen in hostile.seen] == [f"/v1/videos/{segment}", f"/v1/videos/{segment}/content"]
    (written,) = files_under(tmp_path)
    assert written.parent == tmp_path / "out" and stored.video_id == odd_id


async def test_a_video_id_with_dots_and_slashes_cannot_escape_the_destination(tmp_path: Path) -> None:
    from prefect_sora._durable.storage import file_name, resolve_destination

    for hostile_id in ("../../escape", "..", "/etc/passwd", "a/../../b", "..\\..\\win"):
        _, path = resolve_destination(f"{tmp_path}/out/", file_name(hostile_id, "video", "video/mp4"))
        assert Path(path).resolve().parent == (tmp_path / "out").resolve(), hostile_id


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b'{"error": {"message": "quota exceeded"}}'),
        ("text/html", b"<html><body>502 Bad Gateway</body></html>"),
        ("video/mp4", b'{"error": {"message": "not a video, mislabelled"}}'),
        ("video/mp4", b"<!DOCTYPE html><html>gateway page</html>"),
    ],
)
async def test_a_200_that_is_not_a_video_is_never_stored(
    hostile: HostileServer, tmp_path: Path, content_type: str, body: bytes
) -> None:
    hostile.on("GET", "/v1/videos/video_ok/content", Reply(body=body, headers={"content-type": content_type}))
    async with client_for(hostile) as client:
        with pytest.raises(InvalidContent, match="nothing stored"):
            await download(client, "video_ok", f"{tmp_path}/")
    assert files_under(tmp_path) == []


async def test_a_body_shorter_than_its_content_length_leaves_nothing(hostile: HostileServer, tmp_path: Path) -> None:
    body = MP4_HEAD + b"\x00" * 200_000
    hostile.on(
        "GET", "/v1/videos/video_ok/content", Reply(body=body, headers={"content-type": "video/mp4"}, cut=50_000)
    )
    async with client_for(hostile) as client:
        with pytest.raises(TransportError, match="cut short"):
            await download(client, "video_ok", f"{tmp_path}/")
    assert files_under(tmp_path) == []


async def test_a_body_longer_than_its_content_length_is_stored_only_as_announced(
    hostile: HostileServer, tmp_path: Path
) -> None:
    body = MP4_HEAD + b"\x01" * 1000
    hostile.on(
        "GET",
        "/v1/videos/video_ok/content",
        Reply(body=body, headers={"content-type": "video/mp4"}, extra=b"TRAILING GARBAGE" * 100),
    )
    async with client_for(hostile) as client:
        stored = await download(client, "video_ok", f"{tmp_path}/")
    (written,) = files_under(tmp_path)
    assert written.read_bytes() == body  # the announced bytes, not one more
    assert stored.bytes == len(body)


async def test_a_content_length_that_lies_upward_is_refused(hostile: HostileServer, tmp_path: Path) -> None:
    body = MP4_HEAD + b"\x02" * 1000
    hostile.on(
        "GET",
        "/v1/videos/video_ok/content",
        Reply(body=body, headers={"content-type": "video/mp4", "content-length": str(len(body) + 5000)}, cut=len(body)),
    )
    async with client_for(hostile) as client:
        with pytest.raises(TransportError):
            await download(client, "video_ok", f"{tmp_path}/")
    assert files_under(tmp_path) == []


@pytest.mark.parametrize(("raw", "expected"), [(250, 100.0), (-40, 0.0), ("NaN", 0.0), ("lots", 0.0), (None, 0.0)])
async def test_progress_outside_0_to_100_is_clamped(hostile: HostileServer, raw: object, expected: float) -> None:
    hostile.on("GET", "/v1/videos/video_ok", video(status="in_progress", progress=raw))
    async with client_for(hostile) as client:
        assert (await client.retrieve_video("video_ok")).progress == expected


async def test_an_unknown_status_is_waited_on_until_the_deadline_within_its_grace(
    hostile: HostileServer, caplog: pytest.LogCaptureFixture
) -> None:
    from prefect_sora._errors import WaitTimeout

    hostile.on("GET", "/v1/videos/video_ok", video(status="rendering_on_mars", progress=30))
    async with client_for(hostile) as client:
        with pytest.raises(WaitTimeout) as raised:
            await wait_for_video(client, "video_ok", timeout=1.5)
    assert raised.value.video_id == "video_ok"
    assert raised.value.status == "rendering_on_mars"
    assert any("unknown status" in record.message for record in caplog.records)


async def test_very_large_json_is_refused_not_buffered(hostile: HostileServer) -> None:
    huge = json.dumps({"id": "video_ok", "status": "queued", "padding": "x" * (8 << 20)}).encode()
    hostile.on("GET", "/v1/videos/video_ok", Reply(body=huge, headers={"content-type": "application/json"}))
    async with client_for(hostile) as client:
        with pytest.raises(UnexpectedResponse, match="larger than"):
            await client.retrieve_video("video_ok")


async def test_html_where_json_was_expected_is_a_clear_error(hostile: HostileServer) -> None:
    hostile.on(
        "GET", "/v1/videos/video_ok", Reply(body=b"<html>maintenance</html>", headers={"content-type": "text/html"})
    )
    async with client_for(hostile) as client:
        with pytest.raises(UnexpectedResponse, match="Expected JSON"):
            await client.retrieve_video("video_ok")


async def test_a_server_echoing_the_key_in_an_error_does_not_leak_it(hostile: HostileServer) -> None:
    echo = json.dumps({"error": {"message": f"Incorrect API key provided: {KEY}", "code": "invalid_api_key"}})
    hostile.on("GET", "/v1/videos/video_ok", Reply(401, echo.encode(), {"content-type": "application/json"}))
    async with client_for(hostile) as client:
        with pytest.raises(Exception) as raised:
            await client.retrieve_video("video_ok")
    assert KEY not in str(raised.value) and KEY not in repr(raised.value)
    assert "***" in str(raised.value)


async def test_the_bearer_is_not_sent_to_another_host_on_a_redirect(hostile: HostileServer, tmp_path: Path) -> None:
    with serve(HostileServer()) as elsewhere:
        elsewhere.on(
            "GET", "/cdn/video.mp4", Reply(body=MP4_HEAD + b"\x03" * 100, headers={"content-type": "video/mp4"})
        )
        target = f"http://127.0.0.1:{elsewhere.port}/cdn/video.mp4"
        hostile.on("GET", "/v1/videos/video_ok/content", Reply(302, b"", {"location": target}))
        async with client_for(hostile) as client:
            stored = await download(client, "video_ok", f"{tmp_path}/")
    assert stored.bytes == len(MP4_HEAD) + 100
    assert hostile.seen[0]["headers"]["authorization"] == f"Bearer {KEY}"
    assert "authorization" not in elsewhere.seen[0]["headers"]


async def test_neither_the_api_key_header_nor_extra_headers_follow_a_redirect_to_another_host(
    hostile: HostileServer, tmp_path: Path
) -> None:
    with serve(HostileServer()) as elsewhere:
        elsewhere.on(
            "GET", "/cdn/video.mp4", Reply(body=MP4_HEAD + b"\x05" * 100, headers={"content-type": "video/mp4"})
        )
        target = f"http://127.0.0.1:{elsewhere.port}/cdn/video.mp4?sig=abc"
        hostile.on("GET", "/v1/videos/video_ok/content", Reply(302, b"", {"location": target}))
        azure = client_for(
            hostile,
            auth_header="api-key",
            extra_headers={"X-Gateway-Token": "tok-9"},
            default_query={"api-version": "v"},
        )
        async with azure as client:
            await download(client, "video_ok", f"{tmp_path}/")
    sent = hostile.seen[0]["headers"]
    assert sent["api-key"] == KEY and sent["x-gateway-token"] == "tok-9" and "authorization" not in sent
    cdn = elsewhere.seen[0]["headers"]
    assert "api-key" not in cdn and "x-gateway-token" not in cdn and "authorization" not in cdn


async def test_a_same_origin_redirect_keeps_the_bearer(hostile: HostileServer, tmp_path: Path) -> None:
    hostile.on("GET", "/v1/videos/video_ok/content", Reply(307, b"", {"location": "/v1/files/real.mp4"}))
    hostile.on("GET", "/v1/files/real.mp4", Reply(body=MP4_HEAD + b"\x04" * 10, headers={"content-type": "video/mp4"}))
    async with client_for(hostile) as client:
        await download(client, "video_ok", f"{tmp_path}/")
    assert hostile.seen[1]["headers"]["authorization"] == f"Bearer {KEY}"


async def test_a_redirect_down_to_plain_http_on_a_remote_host_is_refused(hostile: HostileServer) -> None:
    hostile.on("GET", "/v1/videos/video_ok/content", Reply(302, b"", {"location": "http://cdn.example.com/v.mp4"}))
    async with client_for(hostile) as client:
        with pytest.raises(UnexpectedResponse, match="plain http"):
            async with client.stream_content("video_ok"):
                pass
