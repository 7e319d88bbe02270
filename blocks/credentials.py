"""The SoraCredentials block: the API key, the base URL and how to talk to it."""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any

import httpx
from prefect.blocks.core import Block
from pydantic import ConfigDict, Field, HttpUrl, SecretStr, ValidationInfo, field_validator

from prefect_sora.client import DEFAULT_BASE_URL, SoraClient
from prefect_sora.errors import InvalidParameter
from prefect_sora.pricing import PriceTable, price_table
from prefect_sora.retries import RetryPolicy
from prefect_sora.validation import check_base_url


class SoraCredentials(Block):
    """Credentials and connection settings for a Sora 2 Videos API.

    Works with any OpenAI-compatible base URL: a gateway such as APIYI's (the
    default), your own relay, or the bundled emulator for tests and CI.

    Attributes:
        api_key: The bearer token; only leaves the block through the client it builds.
        base_url: The API root including ``/v1``.
        timeout_seconds: Read, write and pool timeout of one HTTP request.
        connect_timeout_seconds: Connect timeout of one HTTP request.
        max_retries: Retries of a transient failure (429, 5xx, connection errors).
        allow_insecure_http: Allow ``http://`` to a non-loopback host.
        price_overrides: ``{model: {tier: usd_per_second}}`` for gateways that price
            differently; a model given a price here becomes allowed.

    Example:
        Load stored credentials in a flow and hand them to the tasks:
        ```python
        from prefect import flow
        from prefect_sora.blocks import SoraCredentials
        from prefect_sora.tasks import await_video, submit_video

        @flow
        def generate(prompt: str) -> str:
            credentials = SoraCredentials.load("BLOCK_NAME")
            video = await_video(credentials, submit_video(credentials, prompt))
            return video.status  # "completed"
        ```
    """

    _block_type_name = "Sora Credentials"
    _block_type_slug = "sora-credentials"
    # HttpUrl, as Block declares them (and as Prefect's own blocks set them).
    _logo_url = HttpUrl(
        "https://cdn.sanity.io/images/3ugk85nk/production/760539393a7dbf93a143fb01c2a8b0fe7157a8d8-247x250.png"
    )
    _documentation_url = HttpUrl("https://github.com/prefect-sora/prefect-sora#the-credentials-block")
    _description = (
        "Credentials and base URL for a Sora 2 Videos API (OpenAI-compatible gateways or the local emulator)."
    )

    api_key: SecretStr = Field(default=..., description="The API key sent as a bearer token.")
    base_url: str = Field(
        default=DEFAULT_BASE_URL,
        description="The API root including /v1, e.g. https://api.apiyi.com/v1 or http://127.0.0.1:8000/v1.",
    )
    timeout_seconds: float = Field(
        default=30.0, gt=0, description="Read, write and pool timeout of one request, in seconds."
    )
    connect_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Connect timeout of one request, in seconds."
    )
    max_retries: int = Field(
        default=4,
        ge=0,
        le=20,
        description="Retries of a transient failure (429, 5xx, transport errors).",
    )
    allow_insecure_http: bool = Field(
        default=False,
        validate_default=True,  # it carries the base_url check, which must always run
        description="Allow plain http:// to a host that is not loopback (the key then travels in clear).",
    )
    price_overrides: dict[str, dict[str, Decimal]] | None = Field(
        default=None,
        description="Per-second prices by model and tier (720p, 1024p, 1080p) that replace the list prices.",
    )

    # A validation error must not quote the input: it holds the key.
    # A validation error must not quote the input: it may hold the key. Checks
    # are field validators, so the input recorded with an error (``errors()``)
    # is that one field's value, never the whole block with its key.
    model_config = ConfigDict(hide_input_in_errors=True)

    @field_validator("api_key")
    @classmethod
    def _check_key(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise InvalidParameter("api_key", "", "must not be empty")
        return value

    @field_validator("allow_insecure_http")
    @classmethod
    def _check_base_url(cls, allow: bool, info: ValidationInfo) -> bool:
        # Checked here rather than on base_url: the rule needs both, and base_url comes first.
        if isinstance(info.data.get("base_url"), str):
            check_base_url(info.data["base_url"], allow_insecure_http=allow)
        return allow

    @field_validator("price_overrides")
    @classmethod
    def _check_prices(cls, value: dict[str, dict[str, Decimal]] | None) -> dict[str, dict[str, Decimal]] | None:
        price_table(value)  # refuse a bad override now, not at the first estimate
        return value

    @classmethod
    def from_env(cls, **overrides: Any) -> SoraCredentials:
        """Build credentials from ``SORA_API_KEY`` and ``SORA_BASE_URL``.

        Raises:
            InvalidParameter: ``SORA_API_KEY`` is not set.
        """
        key = os.environ.get("SORA_API_KEY", "")
        if not key.strip():
            raise InvalidParameter("SORA_API_KEY", "", "set it in the environment (or load a SoraCredentials block)")
        values: dict[str, Any] = {"api_key": key}
        if os.environ.get("SORA_BASE_URL"):
            values["base_url"] = os.environ["SORA_BASE_URL"]
        return cls(**{**values, **overrides})

    def prices(self) -> PriceTable:
        """The effective price table: list prices with this block's overrides."""
        return price_table(self.price_overrides)

    def get_client(self) -> SoraClient:
        """A new async client for this API; close it (``async with``) when done."""
        return SoraClient(
            api_key=self.api_key.get_secret_value(),
            base_url=self.base_url,
            timeout=httpx.Timeout(self.timeout_seconds, connect=self.connect_timeout_seconds),
            retry=RetryPolicy(max_retries=self.max_retries),
            allow_insecure_http=self.allow_insecure_http,
        )
