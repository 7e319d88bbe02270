"""Redirects follow HTTP's method rules, and credentials never leave the API's origin.

The emulator never redirects (a correct Sora API has no reason to), so these
run against the small loopback server of ``hostile.py``, which answers each
request with what the test sets and records the method, headers and body of
every request it sees, over a real socket.
"""

from __future__ import annotations

import json

import pytest
from hostile import HostileServer, Reply, serve, video

from prefect_sora._transport.client import SoraClient
from prefect_sora._transport.http import redirect_method
from prefect_sora._transport.retries import RetryPolicy
from prefect_sora._validation import validate_request

pytestmark = pytest.mark.anyio

KEY = "sk-redirect-7e21b0"
CREDENTIAL_HEADERS = ("authorization", "api-key", "x-gateway-token")


def client_for(server: HostileServer, **kwargs: object) -> SoraClient:
    return SoraClient(api_key=KEY, base_url=server.base_url, retry=RetryPolicy(max_retries=0), **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("method", "status", "expected"),
    [
        ("POST", 301, "GET"),
        ("POST", 302, "GET"),
        ("POST", 303, "GET"),
        ("POST", 307, "POST"),
        ("POST", 308, "POST"),
        ("GET", 301, "GET"),
        ("GET", 303, "GET"),
        ("DELETE", 301, "DELETE"),
        ("DELETE", 302, "GET"),
        ("DELETE", 303, "GET"),
        ("DELETE", 307, "DELETE"),
        ("HEAD", 302, "HEAD"),
        ("HEAD", 303, "HEAD"),
    ],
)
def test_the_method_of_a_redirects_next_hop(method: str, status: int, expected: str) -> None:
    assert redirect_method(method, status) == expected


@pytest.mark.parametrize("status", [301, 302, 303])
async def test_a_create_redirected_with_301_302_or_303_becomes_a_get_without_a_body(
    hostile: HostileServer, status: int
) -> None:
    hostile.on("POST", "/v1/videos", Reply(status, b"", {"location": "/v1/videos/video_ok"}))
    hostile.on("GET", "/v1/videos/video_ok", video(status="queued", progress=0))
    async with client_for(hostile, extra_headers={"X-Gateway-Token": "tok-3"}) as client:
        made = await client.create_video(validate_request(prompt="a fox"))

    assert made.id == "video_ok"
    post, hop = hostile.seen
    assert (post["method"], json.loads(post["body"])["prompt"]) == ("POST", "a fox")
    assert (hop["method"], hop["path"], hop["body"]) == ("GET", "/v1/videos/video_ok", b"")
    assert "content-type" not in hop["headers"] and "content-length" not in hop["headers"]
    # The same origin: the credentials go along.
    assert hop["headers"]["authorization"] == f"Bearer {KEY}" and hop["headers"]["x-gateway-token"] == "tok-3"


@pytest.mark.parametrize("status", [307, 308])
async def test_a_create_redirected_with_307_or_308_is_sent_again_with_its_method_and_body(
    hostile: HostileServer, status: int
) -> None:
    hostile.on("POST", "/v1/videos", Reply(status, b"", {"location": "/v1/moved/videos"}))
    hostile.on("POST", "/v1/moved/videos", video(id="video_moved", status="queued", progress=0))
    async with client_for(hostile) as client:
        made = await client.create_video(validate_request(prompt="a fox"), idempotency_key="key-1")

    assert made.id == "video_moved"
    post, hop = hostile.seen
    assert (hop["method"], hop["path"]) == ("POST", "/v1/moved/videos")
    assert hop["body"] == post["body"] and json.loads(hop["body"])["prompt"] == "a fox"
    assert hop["headers"]["content-type"] == "application/json"
    assert hop["headers"]["idempotency-key"] == "key-1"
    assert hop["headers"]["authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize("status", [303, 307])
@pytest.mark.parametrize("auth_header", ["authorization", "api-key"])
async def test_no_credential_header_follows_a_redirect_of_a_create_to_another_host(
    hostile: HostileServer, status: int, auth_header: str
) -> None:
    with serve(HostileServer()) as elsewhere:
        method = "GET" if status == 303 else "POST"
        elsewhere.on(method, "/elsewhere", video(id="video_far", status="queued", progress=0))
        target = f"http://127.0.0.1:{elsewhere.port}/elsewhere"
        hostile.on("POST", "/v1/videos", Reply(status, b"", {"location": target}))
        client = client_for(hostile, auth_header=auth_header, extra_headers={"X-Gateway-Token": "tok-9"})
        async with client:
            made = await client.create_video(validate_request(prompt="a fox"))

    assert made.id == "video_far"
    sent = hostile.seen[0]["headers"]
    assert any(name in sent for name in CREDENTIAL_HEADERS[:2]) and sent["x-gateway-token"] == "tok-9"
    (far,) = elsewhere.seen
    assert far["method"] == method
    assert not [name for name in CREDENTIAL_HEADERS if name in far["headers"]]
    # 307 carries the body to the other host (it is the request, not a credential); 303 drops it.
    assert (far["body"] == hostile.seen[0]["body"]) if status == 307 else far["body"] == b""
