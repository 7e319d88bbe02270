"""What gateways send that the schema does not: statuses, odd fields, and the reason in any error envelope."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from prefect_sora._errors import (
    AuthenticationFailed,
    InvalidRequest,
    JobCancelled,
    JobFailed,
    ServerError,
    VideoNotFound,
)
from prefect_sora._models import Video, unix_seconds
from prefect_sora._transport.http import Redactor, envelope, error_from_response
from prefect_sora._transport.statuses import status_category

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("status", "category"),
    [
        ("queued", "pending"),
        ("in_progress", "pending"),
        ("pending", "pending"),
        ("processing", "pending"),
        ("running", "pending"),
        ("preprocessing", "pending"),
        ("In Progress", "pending"),
        ("IN-PROGRESS", "pending"),
        ("completed", "completed"),
        ("succeeded", "completed"),
        ("failed", "failed"),
        ("error", "failed"),
        ("rejected", "failed"),
        ("cancelled", "cancelled"),
        ("canceled", "cancelled"),
        ("expired", "expired"),
        ("weird", "unknown"),
        ("", "unknown"),
        (None, "unknown"),
    ],
)
def test_every_status_falls_in_one_category(status: str | None, category: str) -> None:
    assert status_category(status) == category


def test_a_video_says_whether_it_ended_by_its_category() -> None:
    def job(status: str) -> Video:
        return Video(id="video_1", status=status)

    assert job("processing").is_terminal is False
    assert job("weird").is_terminal is False
    assert job("expired").is_terminal is True
    assert job("canceled").is_failed is True
    assert job("succeeded").is_completed is True


@pytest.mark.parametrize(
    "raw",
    [1760000000, 1760000000.75, "1760000000", "1760000000.75", "2025-10-09T08:53:20Z", "2025-10-09T08:53:20+00:00"],
)
def test_a_timestamp_is_read_from_an_int_a_float_a_numeric_string_or_iso_8601(raw: object) -> None:
    assert unix_seconds(raw) == 1760000000
    assert Video(id="v", status="completed", created_at=raw).created_at == 1760000000  # type: ignore[arg-type]


@pytest.mark.parametrize("raw", [None, "", "yesterday", float("nan"), True, [1]])
def test_an_unreadable_timestamp_is_none_not_a_refused_answer(raw: object) -> None:
    assert Video(id="v", status="completed", created_at=raw).created_at is None  # type: ignore[arg-type]


def test_a_sparse_answer_from_a_gateway_is_a_video() -> None:
    # As reported: created_at a float, seconds and size null, quality and progress missing.
    video = Video.model_validate(
        {
            "id": "video_1",
            "object": "video",
            "status": "completed",
            "created_at": 1760000000.5,
            "seconds": None,
            "size": None,
        }
    )

    assert video.is_completed and video.seconds is None and video.size is None and video.progress == 0
    assert video.duration_seconds is None


def test_odd_types_where_the_schema_has_strings_are_read_as_strings() -> None:
    video = Video.model_validate(
        {"id": "v", "status": "failed", "seconds": 8.0, "quality": 1, "error": {"code": 400, "msg": "prompt rejected"}}
    )

    assert video.seconds == "8" and video.quality == "1"
    assert video.error is not None and video.error.code == "400" and video.error.message == "prompt rejected"
    assert Video.model_validate({"id": "v", "status": "error", "error": "upstream said no"}).error.message == (  # type: ignore[union-attr]
        "upstream said no"
    )


@pytest.mark.parametrize(
    ("body", "content_type", "message", "param", "code"),
    [
        (
            {"error": {"message": "Invalid size", "type": "invalid_request_error", "param": "size", "code": "bad"}},
            "application/json",
            "Invalid size",
            "size",
            "bad",
        ),
        ({"error": "prompt rejected by upstream"}, "application/json", "prompt rejected by upstream", None, None),
        ({"message": "prompt rejected by upstream"}, "application/json", "prompt rejected by upstream", None, None),
        (
            {"code": 400, "msg": "prompt rejected by upstream"},
            "application/json",
            "prompt rejected by upstream",
            None,
            "400",
        ),
        ({"detail": "prompt rejected by upstream"}, "application/json", "prompt rejected by upstream", None, None),
        (
            {"detail": [{"loc": ["body", "seconds"], "msg": "Input should be '4', '8' or '12'"}]},
            "application/json",
            "seconds: Input should be '4', '8' or '12'",
            None,
            None,
        ),
        (
            {
                "error": {
                    "code": "DeploymentNotFound",
                    "message": "The API deployment for this resource does not exist.",
                }
            },
            "application/json",
            "The API deployment for this resource does not exist.",
            None,
            "DeploymentNotFound",
        ),
        ("prompt rejected by upstream", "text/plain", "prompt rejected by upstream", None, None),
        (
            "<html><head><title>502 Bad Gateway</title></head><body><script>x()</script></body></html>",
            "text/html",
            "502 Bad Gateway",
            None,
            None,
        ),
        ("<html><body>no title here</body></html>", "text/html", None, None, None),
        (b"\x00\x01\x02binary", "application/octet-stream", None, None, None),
    ],
)
def test_the_gateways_reason_is_read_from_any_common_envelope(
    body: Any, content_type: str, message: str | None, param: str | None, code: str | None
) -> None:
    raw = body if isinstance(body, bytes) else (json.dumps(body) if isinstance(body, dict) else body).encode()

    assert envelope(raw, content_type) == (message, param, code)


def answer(status: int, body: bytes | str | dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
    content = json.dumps(body).encode() if isinstance(body, dict) else body.encode() if isinstance(body, str) else body
    request = httpx.Request("POST", "https://gateway.example/v1/videos")
    return httpx.Response(status, content=content, headers=headers or {}, request=request)


async def test_a_400_with_a_msg_envelope_says_the_gateways_reason_and_keeps_code_and_request_id() -> None:
    response = answer(400, {"code": 400, "msg": "prompt rejected by upstream"}, {"x-request-id": "req_42"})

    error = await error_from_response(response, video_id=None, redact=Redactor("sk-x"))

    assert isinstance(error, InvalidRequest)
    assert error.message == "Invalid request: prompt rejected by upstream"
    assert (error.code, error.status_code, error.request_id) == ("400", 400, "req_42")


@pytest.mark.parametrize("header", ["apim-request-id", "x-ms-request-id"])
async def test_azures_request_id_headers_are_kept(header: str) -> None:
    error = await error_from_response(
        answer(404, {"error": {"code": "DeploymentNotFound", "message": "no such deployment"}}, {header: "az-1"}),
        video_id=None,
        redact=Redactor("sk-x"),
    )

    assert isinstance(error, VideoNotFound) and error.request_id == "az-1" and "no such deployment" in error.message


async def test_a_message_is_redacted_of_every_secret_and_shortened() -> None:
    key, header_secret = "sk-live-SECRET-1234", "gw-token-SECRET-5678"
    body = f"key {key} and token {header_secret} " + "x" * 5000

    error = await error_from_response(answer(401, body), video_id=None, redact=Redactor(key, header_secret))

    assert isinstance(error, AuthenticationFailed)
    assert key not in str(error) and header_secret not in str(error)
    assert len(error.message) < 600 and error.message.endswith("…")


async def test_a_5xx_html_page_gives_its_title_not_its_markup() -> None:
    page = "<!DOCTYPE html><html><head><title>503 Service Unavailable</title><style>body{}</style></head></html>"

    error = await error_from_response(
        answer(503, page, {"content-type": "text/html"}), video_id="v", redact=Redactor("")
    )

    assert isinstance(error, ServerError) and error.message == "Server error: 503 Service Unavailable"


def test_a_cancelled_job_is_a_job_failed_for_callers_that_only_know_failures() -> None:
    error = JobCancelled("Job cancelled (not billed): no reason given", status="cancelled", video_id="v")

    assert isinstance(error, JobFailed) and error.status == "cancelled"
