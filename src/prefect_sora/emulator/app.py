"""The emulated Sora 2 Videos API: the `/v1/videos` routes, wrapped in the fault layer.

Routes read the raw request (headers, query, body) and answer plain JSON bytes: no FastAPI
parameter models, so no 422s in FastAPI's own shape, and nothing heavier than a dict on the
poll path, which must answer hundreds of requests a second on two cores. Every refusal is
an `APIError` rendered as the API's envelope, route-not-found and unhandled errors included.

Statuses beyond the contract (documented here because the reference is silent on them):
409 `video_not_ready` for content or remix of a job still queued or in progress, 409
`video_failed` for content or remix of a failed job, 409 `video_in_progress` for deleting an
unfinished job, 410 `video_expired` for content past `expires_at`. Non-terminal polls carry
`openai-poll-after-ms` when the config sets `poll_after_ms`.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from prefect_sora.emulator.admin import admin_router
from prefect_sora.emulator.content import content_response, image_info
from prefect_sora.emulator.errors import APIError, json_response
from prefect_sora.emulator.faults import ASGIApp, FaultMiddleware
from prefect_sora.emulator.multipart import parse_body
from prefect_sora.emulator.state import EmulatorState
from prefect_sora.emulator.validation import (
    CreateRequest,
    validate_create,
    validate_list_query,
    validate_remix,
    validate_variant,
)


def _fastapi_app(state: EmulatorState) -> FastAPI:
    app = FastAPI(
        title="Sora 2 API emulator",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )

    @app.exception_handler(APIError)
    async def _api_error(_: Request, exc: APIError) -> Response:
        return exc.response()

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
        return APIError(exc.status_code, str(exc.detail), code=code).response()

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> Response:
        return APIError(500, f"Emulator error: {type(exc).__name__}: {exc}", type="server_error").response()

    def authorize(request: Request) -> None:
        state.authorize(request.headers.get("authorization"))

    @app.post("/v1/videos")
    async def create_video(request: Request) -> Response:
        authorize(request)
        fields = parse_body(request.headers.get("content-type"), await request.body())
        create = validate_create(fields, inspect_image=image_info)
        return json_response(state.create(create))

    @app.get("/v1/videos")
    async def list_videos(request: Request) -> Response:
        authorize(request)
        limit, order, after = validate_list_query(request.query_params)
        return json_response(state.list(limit=limit, order=order, after=after))

    @app.get("/v1/videos/{video_id}")
    async def retrieve_video(request: Request, video_id: str) -> Response:
        authorize(request)
        view, pending = state.poll(video_id)
        poll_after = state.config.poll_after_ms
        headers = {"openai-poll-after-ms": str(poll_after)} if pending and poll_after else None
        return json_response(view, headers=headers)

    @app.delete("/v1/videos/{video_id}")
    async def delete_video(request: Request, video_id: str) -> Response:
        authorize(request)
        return json_response(state.delete(video_id))

    @app.get("/v1/videos/{video_id}/content")
    async def download_content(request: Request, video_id: str) -> Response:
        authorize(request)
        variant = validate_variant(request.query_params)
        return await content_response(state.content(video_id, variant))

    @app.post("/v1/videos/{video_id}/remix")
    async def remix_video(request: Request, video_id: str) -> Response:
        authorize(request)
        source = state.remix_source(video_id)
        fields = parse_body(request.headers.get("content-type"), await request.body())
        prompt = validate_remix(fields)
        remix = CreateRequest(
            model=source.model,
            prompt=prompt,
            seconds=source.seconds,
            size=source.size,
            quality=source.quality,
        )
        return json_response(state.create(remix, remixed_from=source.id))

    app.include_router(admin_router(state))
    return app


def create_app(state: EmulatorState) -> ASGIApp:
    """The full ASGI app for `state`: the fault layer around the FastAPI routes."""
    return FaultMiddleware(_fastapi_app(state), state)
