"""Echoed ids: a gateway whose status answers name the job by another id than its create did.

A LiteLLM proxy answers a create with ``video_`` + base64 of
``litellm:custom_llm_provider:openai;model_id:MODEL;video_id:UPSTREAM``, but re-encodes the
id of its status answers with the model part empty. That echoed id still names the job,
yet a request by it (a download, a remix, a poll) routes to the proxy's default upstream,
which knows no such job and is not the configured one: a 5xx naming another host. With
`EmulatorConfig.echo_id` = ``"reencoded"`` the emulator does the same: retrieve and list
answers carry `echoed_video_id`, every route refuses that id with `misrouted`, and the id
the create answered keeps working. An id of another style gets a recognisable ``echo-``
prefix instead.
"""

from __future__ import annotations

import base64

from prefect_sora.emulator._errors import APIError
from prefect_sora.emulator._ids import decode_litellm_id

#: Where the real proxy sends an id that names no model: OpenAI's own API, not the emulator.
DEFAULT_UPSTREAM = "https://api.openai.com/v1"


def echoed_video_id(video_id: str) -> str:
    """The id a re-encoding gateway echoes for the job created as `video_id`."""
    parts = decode_litellm_id(video_id)
    if parts is None:
        return f"echo-{video_id}"
    text = f"litellm:custom_llm_provider:{parts['provider']};model_id:;video_id:{parts['video_id']}"
    return "video_" + base64.b64encode(text.encode()).decode()


def misrouted(video_id: str) -> APIError:
    """The 500 for a request by an echoed id: the proxy sent it to an upstream that is not configured.

    Worded as LiteLLM 1.81.12 answered in a loopback-only namespace (``tests/litellm/OBSERVED.md``),
    the video id added so that a test can tell which request it was.
    """
    host = DEFAULT_UPSTREAM.removeprefix("https://").split("/")[0]
    return APIError(
        500,
        f"litellm.APIConnectionError: openai - Cannot connect to host {host}:443 "
        f"[Temporary failure in name resolution] (video '{video_id}')",
        type="server_error",
        code="500",
    )
