"""The emulated Sora 2 Videos API: the `/v1/videos` routes, wrapped in the gateway layer.

Routes read the raw request (headers, query, body) and answer plain JSON bytes: no FastAPI
parameter models, so no 422s in FastAPI's own shape, and nothing heavier than a dict on the
poll path, which must answer hundreds of requests a second on two cores. Every refusal is
an `APIError` rendered in the config's error envelope, route-not-found and unhandled
errors included.

Statuses beyond the contract (documented here because the reference is silent on them):
409 `video_not_ready` for content, remix, extension or edit of a job still queued or in
progress, 409 `video_failed` for those of a failed job, 409 `video_in_progress` for
deleting an unfinished job, 410 `video_expired` for content past `expires_at`, 404
`character_not_found`. Creates and polls of an unfinished job carry `openai-poll-after-ms`
(see `prefect_sora.emulator._poll_after`).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from prefect_sora.emulator._admin import admin_router
from prefect_sora.emulator._asgi import ASGIApp
from prefect_sora.emulator._auth import authorize
from prefect_sora.emulator._content import content_response, image_info
from prefect_sora.emulator._errors import APIError, json_response
from prefect_sora.emulator._gateway import KEY_LABEL, Gateway, path_param
from prefect_sora.emulator._ids import new_character_id
from prefect_sora.emulator._jobs import Kind
from prefect_sora.emulator._multipart import parse_body
from prefect_sora.emulator._proxy import LiteLLMProxy
from prefect_sora.emulator._queries import validate_list_query, validate_variant
from prefect_sora.emulator._sources import (
    DerivedRequest,
    validate_character,
    validate_edit,
    validate_extension,
    validate_remix,
)
from prefect_sora.emulator._state import EmulatorState
from prefect_sora.emulator._uploads import source_of_upload
from prefect_sora.emulator._validation import CreateRequest, quality_of, validate_create


def _fastapi_app(state: EmulatorState) -> FastAPI:
    app = FastAPI(
        title="Sora 2 API emulator",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )

    @app.exception_handler(APIError)
    async def _api_error(_: Request, exc: APIError) -> Response:
        return exc.response(state.config.error_envelope)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
        return APIError(exc.status_code, str(exc.detail), code=code).response(state.config.error_envelope)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> Response:
        error = APIError(500, f"Emulator error: {type(exc).__name__}: {exc}", type="server_error")
        return error.response(state.config.error_envelope)

    def authorized(request: Request) -> str:
        """Check the credentials; the key's label (the gateway found it)."""
        headers = request.headers
        authorize(
            state.config,
            state.profile.auth,
            authorization=headers.get("authorization"),
            api_key=headers.get("api-key"),
        )
        return str(request.scope.get(KEY_LABEL, "anonymous"))

    def created(view: dict[str, object]) -> Response:
        """A create's answer: the new job, and when to poll it first."""
        return json_response(view, headers=_poll_after_header(state.poll_after_ms(str(view["id"]))))

    async def body(request: Request) -> dict[str, object]:
        return parse_body(request.headers.get("content-type"), await request.body())

    @app.post("/v1/videos")
    async def create_video(request: Request) -> Response:
        label = authorized(request)
        create = validate_create(await body(request), inspect_image=image_info, rules=state.rules)
        return created(state.create(create, key_label=label))

    @app.get("/v1/videos")
    async def list_videos(request: Request) -> Response:
        authorized(request)
        limit, order, after = validate_list_query(request.query_params)
        return json_response(state.list(limit=limit, order=order, after=after))

    def derive(derived: DerivedRequest, label: str, kind: Kind) -> Response:
        """Create the job of an extension or edit, from the source job or the uploaded video."""
        source = None
        if derived.video_id is not None:
            source = state.source(derived.video_id)
            model, size, seconds, quality = source.model, source.size, source.seconds, source.quality
        else:
            model, size, seconds = source_of_upload(derived.upload or b"", dict(state.rules.sizes))
            quality = quality_of(model)
        if derived.seconds is not None:
            # An extension's Video object reports the stitched total, as the schema says.
            seconds = str(int(seconds) + int(derived.seconds))
        job = CreateRequest(model, derived.prompt, seconds, size, quality)
        return created(state.create(job, key_label=label, kind=kind, source=source))

    @app.post("/v1/videos/extensions")
    async def extend_video(request: Request) -> Response:
        label = authorized(request)
        return derive(validate_extension(await body(request)), label, "extension")

    @app.post("/v1/videos/edits")
    async def edit_video(request: Request) -> Response:
        label = authorized(request)
        return derive(validate_edit(await body(request)), label, "edit")

    @app.post("/v1/videos/characters")
    async def create_character(request: Request) -> Response:
        authorized(request)
        name = validate_character(await body(request))
        return json_response(state.add_character(new_character_id(state.profile.id_style), name))

    @app.get("/v1/videos/characters/{character_id}")
    async def get_character(request: Request, character_id: str) -> Response:
        authorized(request)
        return json_response(state.character(path_param(character_id)))

    @app.get("/v1/videos/{video_id}")
    async def retrieve_video(request: Request, video_id: str) -> Response:
        authorized(request)
        view, poll_after = state.poll(path_param(video_id))
        return json_response(view, headers=_poll_after_header(poll_after))

    @app.delete("/v1/videos/{video_id}")
    async def delete_video(request: Request, video_id: str) -> Response:
        authorized(request)
        return json_response(state.delete(path_param(video_id)))

    @app.get("/v1/videos/{video_id}/content")
    async def download_content(request: Request, video_id: str) -> Response:
        authorized(request)
        variant = validate_variant(request.query_params)
        return await content_response(state.content(path_param(video_id), variant))

    @app.post("/v1/videos/{video_id}/remix")
    async def remix_video(request: Request, video_id: str) -> Response:
        label = authorized(request)
        source = state.source(path_param(video_id))
        prompt = validate_remix(await body(request))
        remix = CreateRequest(source.model, prompt, source.seconds, source.size, source.quality)
        return created(state.create(remix, key_label=label, kind="remix", source=source))

    app.include_router(admin_router(state))
    return app


def _poll_after_header(poll_after_ms: int | None) -> dict[str, str] | None:
    return None if poll_after_ms is None else {"openai-poll-after-ms": str(poll_after_ms)}


def create_app(state: EmulatorState) -> ASGIApp:
    """The full ASGI app for `state`: the gateway layer around a LiteLLM proxy's reshaping around the routes."""
    return Gateway(LiteLLMProxy(_fastapi_app(state), state), state)
