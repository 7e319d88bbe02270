"""What a LiteLLM proxy does to the Videos API on its way through, as an ASGI layer around the routes.

Seen with a real proxy (``litellm[proxy]`` 1.81.12, ``tests/litellm/OBSERVED.md``) in
front of this emulator; each is a config knob any profile can turn on, and the
``litellm`` profile turns on all of them:

``unserved_routes``          ``list``: ``GET /videos`` is 400 (the proxy finds no model to
                             route it by); ``delete``: 405 ``{"detail": "Method Not
                             Allowed"}``; ``remix``: 500, as the proxy answers when it sends
                             the remix upstream with its environment key
``read_errors_as_500``       a retrieve the upstream refuses (a 4xx: 404, 401, ...) is a 500
                             ``litellm.APIConnectionError`` (the proxy fails to read the
                             refusal as a Video)
``content_errors_as_video``  a refused download (409 not ready, 409 failed, 410, 404) is a
                             200 ``video/mp4`` whose body is the JSON error
``ignore_variant``           ``variant`` is not passed on: a thumbnail request gets the MP4

The proxy's envelope is OpenAI's with ``type`` null and ``code`` the status as a string.
Ids re-encoded in status answers are `echo_id` (`prefect_sora.emulator._echo`); the call id
header and the dropped ``openai-poll-after-ms`` are the gateway's (`_gateway.py`).
"""

from __future__ import annotations

import json

from prefect_sora.emulator._asgi import ASGIApp, Message, Receive, Scope, Send
from prefect_sora.emulator._errors import dump_json
from prefect_sora.emulator._faults import classify
from prefect_sora.emulator._gateway import path_param
from prefect_sora.emulator._ids import decode_litellm_id
from prefect_sora.emulator._state import EmulatorState

_LIST_REFUSED = (
    "litellm.BadRequestError: LLM Provider NOT provided. Pass in the LLM provider you are trying to call. "
    "You passed model=\n Pass model as E.g. For 'Huggingface' inference endpoints pass in "
    "`completion(model='huggingface/starcoder',..)` Learn more: https://docs.litellm.ai/docs/providers"
)
_REMIX_REFUSED = (
    'litellm.APIConnectionError: None - {"error":{"message":"Incorrect API key provided.",'
    '"type":"invalid_request_error","param":null,"code":"invalid_api_key"}}. '
    "Received Model Group=%s\nAvailable Model Group Fallbacks=None"
)
_READ_REFUSED = (
    "litellm.APIConnectionError: None - 3 validation errors for VideoObject\nid\n  Field required "
    "[type=missing, input_value=%s, input_type=dict]"
)


def proxy_error(status: int, message: str) -> tuple[int, bytes]:
    """(status, body) of an error in the proxy's own envelope."""
    return status, dump_json({"error": {"message": message, "type": None, "param": None, "code": str(status)}})


async def _answer(send: Send, status: int, body: bytes, content_type: bytes = b"application/json") -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _without_variant(query: bytes) -> bytes:
    return b"&".join(part for part in query.split(b"&") if part and not part.startswith(b"variant="))


class LiteLLMProxy:
    """The routes as a LiteLLM proxy in front of them answers (the knobs in the module docstring)."""

    def __init__(self, app: ASGIApp, state: EmulatorState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        config = self.state.config
        endpoint = classify(scope["method"], scope["path"]) if scope["type"] == "http" else None
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        if endpoint in config.unserved_routes:
            await self._unserved(endpoint, scope, send)
        elif endpoint == "content" and (config.content_errors_as_video or config.ignore_variant):
            if config.ignore_variant:
                scope = {**scope, "query_string": _without_variant(scope.get("query_string", b""))}
            await self.app(scope, receive, self._errors_as_video(send) if config.content_errors_as_video else send)
        elif endpoint == "retrieve" and config.read_errors_as_500:
            await self.app(scope, receive, self._errors_as_500(send))
        else:
            await self.app(scope, receive, send)

    async def _unserved(self, endpoint: str, scope: Scope, send: Send) -> None:
        if endpoint == "delete":
            await _answer(send, 405, b'{"detail":"Method Not Allowed"}')
            return
        if endpoint == "remix":
            # The proxy routes a remix by the id's model, so the message names it.
            model = self._model_of(scope["path"])
            await _answer(send, *proxy_error(500, _REMIX_REFUSED % model))
            return
        await _answer(send, *proxy_error(400, _LIST_REFUSED))

    @staticmethod
    def _model_of(path: str) -> str:
        parts = decode_litellm_id(path_param(path.split("/")[3]))
        return parts["model_id"] if parts else ""

    @staticmethod
    def _errors_as_video(send: Send) -> Send:
        """Send a refusal as a 200 video/mp4 carrying the JSON error: the proxy relays any body as content."""

        async def relay(message: Message) -> None:
            if message["type"] == "http.response.start" and 400 <= message["status"] < 500:
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != b"content-type"]
                message = {**message, "status": 200, "headers": [*headers, (b"content-type", b"video/mp4")]}
            await send(message)

        return relay

    @staticmethod
    def _errors_as_500(send: Send) -> Send:
        """Send a refused retrieve as the proxy's 500 quoting the upstream's refusal."""
        refused: list[bytes] = []

        async def reshape(message: Message) -> None:
            if message["type"] == "http.response.start" and 400 <= message["status"] < 500:
                refused.append(b"")
                return
            if refused and message["type"] == "http.response.body":
                refused[0] += message.get("body", b"")
                if message.get("more_body", False):
                    return
                try:
                    upstream = repr(json.loads(refused[0]))
                except ValueError:
                    upstream = refused[0].decode("utf-8", "replace")
                await _answer(send, *proxy_error(500, _READ_REFUSED % upstream))
                return
            await send(message)

        return reshape
