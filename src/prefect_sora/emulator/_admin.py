"""The emulator's own HTTP controls under `/_emulator`, outside the emulated `/v1` API.

They let a test or benchmark in another process read the counters, change the config,
script faults, expire content and see a job's precise plan. They need no bearer token, are
never faulted and are not counted.

====================================  =======================================================
``GET /_emulator/health``             ``{"ok": true}`` once the server answers
``GET /_emulator/stats``              counters (see `prefect_sora.emulator._stats`, `.limits`)
``POST /_emulator/reset``             no jobs, zero counters, startup config
``GET /_emulator/config``             the current config (API key masked)
``PATCH /_emulator/config``           change fields: ``{"failure_rate": 0.5, "rpm": 60}``
``POST /_emulator/faults``            ``{"fault": "429", "count": 2, "endpoint": "retrieve"}``
``GET /_emulator/faults``             the scripted faults not yet spent
``GET /_emulator/videos/{id}``        the job's plan, with precise float times
``POST /_emulator/videos/{id}/expire``  the job's content expires now
``POST /_emulator/videos/{id}/finish``  a held job (``[emulator:hold]``) ends now
====================================  =======================================================
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import Response

from prefect_sora.emulator._config import Endpoint, FaultKind
from prefect_sora.emulator._errors import invalid, json_response
from prefect_sora.emulator._gateway import path_param
from prefect_sora.emulator._state import EmulatorState


class FaultScript(BaseModel):
    """The body of `POST /_emulator/faults`."""

    model_config = ConfigDict(extra="forbid")

    fault: FaultKind
    count: int = Field(default=1, ge=1)
    endpoint: Endpoint | None = None


def _summarise(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['msg']}" for error in exc.errors()
    )


async def _json_object(request: Request) -> dict[str, object]:
    try:
        data = json.loads(await request.body() or b"{}")
    except ValueError:
        raise invalid("The body must be JSON.", param=None, code="invalid_json") from None
    if not isinstance(data, dict):
        raise invalid("The body must be a JSON object.", param=None, code="invalid_json")
    return data


def admin_router(state: EmulatorState) -> APIRouter:
    """The `/_emulator` routes bound to `state`."""
    router = APIRouter(prefix="/_emulator")

    @router.get("/health")
    async def health() -> Response:
        return json_response({"ok": True})

    @router.get("/stats")
    async def stats() -> Response:
        return json_response(state.snapshot())

    @router.post("/reset")
    async def reset() -> Response:
        state.reset()
        return json_response({"reset": True})

    @router.get("/config")
    async def get_config() -> Response:
        return json_response(state.config.public_dump())

    @router.patch("/config")
    async def patch_config(request: Request) -> Response:
        changes = await _json_object(request)
        try:
            config = state.configure(changes)
        except ValidationError as exc:
            raise invalid(_summarise(exc), param=None, code="invalid_config") from None
        return json_response(config.public_dump())

    @router.post("/faults")
    async def inject(request: Request) -> Response:
        body = await _json_object(request)
        if isinstance(body.get("fault"), int):
            body["fault"] = str(body["fault"])
        try:
            script = FaultScript.model_validate(body)
        except ValidationError as exc:
            raise invalid(_summarise(exc), param=None, code="invalid_fault") from None
        state.inject(script.fault, count=script.count, endpoint=script.endpoint)
        return json_response({"scripted": state.faults.pending()})

    @router.get("/faults")
    async def pending_faults() -> Response:
        with state.lock:
            return json_response({"scripted": state.faults.pending()})

    @router.get("/videos/{video_id}")
    async def plan(video_id: str) -> Response:
        return json_response(state.plan(path_param(video_id)))

    @router.post("/videos/{video_id}/expire")
    async def expire(video_id: str) -> Response:
        return json_response(state.expire(path_param(video_id)))

    @router.post("/videos/{video_id}/finish")
    async def finish(video_id: str) -> Response:
        return json_response(state.finish(path_param(video_id)))

    return router
