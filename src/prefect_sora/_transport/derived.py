"""The rest of the Videos API: jobs made from an existing video (extensions, edits) and characters.

Kept out of :mod:`prefect_sora._transport.client` so that module stays the HTTP core;
:class:`~prefect_sora._transport.client.SoraClient` inherits these methods and they use
its one retry loop, its lookup of ambiguous creates and its id checks.

Like every ``/videos`` endpoint, these are marked deprecated in OpenAI's schema
(the official endpoint shut down in 2026-09); gateways still serve them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import httpx
from pydantic import ValidationError

from prefect_sora._errors import UnexpectedResponse
from prefect_sora._models import Character, Video
from prefect_sora._transport.http import request_id
from prefect_sora._validation import check_video_id, id_segment


class _Client(Protocol):
    """What these methods need of the client they are mixed into."""

    async def _create(
        self,
        path: str,
        kwargs: dict[str, Any],
        headers: Mapping[str, str] | None,
        match: Mapping[str, str],
        exclude_ids: frozenset[str],
    ) -> Video: ...

    async def _json(
        self, method: str, path: str, *, video_id: str | None = None, **kwargs: Any
    ) -> tuple[httpx.Response, Any]: ...


class DerivedJobs:
    """``POST /videos/extensions``, ``POST /videos/edits``, ``/videos/characters``: mixed into SoraClient."""

    async def extend_video(
        self: _Client,
        video_id: str,
        prompt: str,
        seconds: str,
        *,
        match: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        exclude_ids: frozenset[str] = frozenset(),
    ) -> Video:
        """``POST /videos/extensions``: continue a completed video by ``seconds`` more (deprecated in the schema).

        The new job's ``seconds`` is the stitched total. Arguments must already be
        validated (:func:`prefect_sora._validation.normalize_extension_seconds`).
        ``match``: fields the new job carries besides the prompt (its model, size),
        for the lookup after an ambiguous failure.
        """
        body = {"video": {"id": check_video_id(video_id)}, "prompt": prompt, "seconds": seconds}
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return await self._create(
            "/videos/extensions", {"json": body}, headers, {**(match or {}), "prompt": prompt}, exclude_ids
        )

    async def edit_video(
        self: _Client,
        video_id: str,
        prompt: str,
        *,
        match: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        exclude_ids: frozenset[str] = frozenset(),
    ) -> Video:
        """``POST /videos/edits``: a new job that edits a completed video as the prompt says (deprecated in the schema).

        The new job keeps the source's model, size and length.
        """
        body = {"video": {"id": check_video_id(video_id)}, "prompt": prompt}
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return await self._create(
            "/videos/edits", {"json": body}, headers, {**(match or {}), "prompt": prompt}, exclude_ids
        )

    async def create_character(
        self: _Client, video: bytes, name: str, *, filename: str = "character.mp4", content_type: str = "video/mp4"
    ) -> Character:
        """``POST /videos/characters``: a character from an uploaded video, as multipart (deprecated in the schema).

        Not a generation: nothing is billed. Not looked up after an ambiguous
        failure (there is no list of characters): it raises SubmissionUncertain.
        """
        response, body = await self._json(
            "POST", "/videos/characters", data={"name": name}, files={"video": (filename, video, content_type)}
        )
        return _character(body, response)

    async def retrieve_character(self: _Client, character_id: str) -> Character:
        """``GET /videos/characters/{id}``: a character made earlier (deprecated in the schema)."""
        response, body = await self._json("GET", f"/videos/characters/{id_segment(character_id, param='character_id')}")
        return _character(body, response)


def _character(body: Any, response: httpx.Response) -> Character:
    try:
        character = Character.model_validate(body)
    except ValidationError as exc:
        raise UnexpectedResponse(
            "The server's answer is not a character object", request_id=request_id(response.headers)
        ) from exc
    if character.id is not None:
        check_video_id(character.id, from_server=True)
    return character
