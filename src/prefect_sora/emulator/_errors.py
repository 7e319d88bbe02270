"""The API's error envelopes and the lean JSON responses every route answers with.

The real service answers every failure as `{"error": {message, type, param, code}}`;
clients (the official SDK among them) read `error.message` and `error.code` from it, so
the emulator renders every refusal through `APIError` and never through FastAPI's default
`{"detail": ...}` shapes. Gateways reshape errors, so the config's `error_envelope` picks
one of the shapes seen in the wild (`render_error`), and Azure's own refusals (401,
`DeploymentNotFound`) come as `{"error": {"code", "message"}}` in the default envelope.
Responses are plain `dict -> JSON bytes`: the poll route is the hot path and must not pay
for per-request model validation.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Literal

from starlette.responses import Response

from prefect_sora.emulator._config import ErrorEnvelope as Envelope

Shape = Literal["openai", "azure"]


class APIError(Exception):
    """A refusal rendered as the API's error envelope with an HTTP status."""

    def __init__(
        self,
        status_code: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
        shape: Shape = "openai",
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = dict(headers or {})
        self.shape = shape

    def body(self) -> dict[str, object]:
        """The OpenAI envelope, as the JSON object the client receives."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }

    def render(self, envelope: Envelope = "openai") -> tuple[bytes, bytes]:
        """(content type, body) in `envelope`."""
        return render_error(
            self.status_code,
            self.message,
            type=self.type,
            param=self.param,
            code=self.code,
            envelope=envelope,
            shape=self.shape,
        )

    def response(self, envelope: Envelope = "openai") -> Response:
        """The error as an HTTP response in `envelope`."""
        content_type, body = self.render(envelope)
        return Response(
            content=body,
            status_code=self.status_code,
            media_type=content_type.decode(),
            headers=self.headers or None,
        )


_JSON = b"application/json"


def render_error(
    status: int,
    message: str,
    *,
    type: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
    envelope: Envelope = "openai",
    shape: Shape = "openai",
) -> tuple[bytes, bytes]:
    """(content type, body) of one error answer in `envelope`."""
    if envelope == "openai":
        if shape == "azure":
            return _JSON, dump_json({"error": {"code": code, "message": message}})
        return _JSON, dump_json({"error": {"message": message, "type": type, "param": param, "code": code}})
    if envelope == "string":
        return _JSON, dump_json({"error": message})
    if envelope == "message":
        return _JSON, dump_json({"message": message})
    if envelope == "msg":
        return _JSON, dump_json({"code": status, "msg": message})
    if envelope == "detail":
        return _JSON, dump_json({"detail": message})
    return b"text/plain; charset=utf-8", message.encode()


def invalid(message: str, *, param: str | None, code: str = "invalid_value") -> APIError:
    """A 400 for a request the client must fix before sending again."""
    return APIError(400, message, param=param, code=code)


def not_found(video_id: str) -> APIError:
    """The 404 for an id the emulator does not hold (never created, or deleted)."""
    return APIError(
        404,
        f"Video with id '{video_id}' not found.",
        param="video_id",
        code="video_not_found",
    )


def dump_json(data: object) -> bytes:
    """Compact JSON bytes; the one serializer every response goes through."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def json_response(data: object, *, status_code: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON response built from plain data, without any model validation on the way."""
    return Response(
        content=dump_json(data),
        status_code=status_code,
        media_type="application/json",
        headers=dict(headers) if headers else None,
    )
