"""The SoraCredentials block: the API key, the base URL and how to talk to it."""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any, Literal

import httpx
from prefect.blocks.abstract import CredentialsBlock
from prefect.types import SecretDict
from pydantic import ConfigDict, Field, HttpUrl, SecretStr, ValidationInfo, field_validator

from prefect_sora._errors import InvalidParameter
from prefect_sora._pricing import PriceTable, price_table
from prefect_sora._spend import check_name as check_spend_name
from prefect_sora._transport.client import DEFAULT_BASE_URL, SoraClient
from prefect_sora._transport.retries import RetryPolicy
from prefect_sora._validation import check_base_url, check_gateway_headers, check_pacing

#: Where the project lives, and where its docs site (MkDocs, on GitHub Pages) is published.
REPOSITORY_FILES = "https://raw.githubusercontent.com/prefect-sora/prefect-sora/main"
DOCS_SITE = "https://prefect-sora.github.io/prefect-sora"
#: The block's logo, relative to the repository's root.
LOGO_PATH = "docs/assets/sora-credentials.png"


# The example below has no <, > or &: Prefect's server stores a block's code example
# HTML-escaped and its UI shows it as written (`-> str` became `-&gt; str`).
class SoraCredentials(CredentialsBlock):
    """Credentials and connection settings for a Sora 2 Videos API.

    Works with any OpenAI-compatible base URL: a gateway such as APIYI's (the
    default), your own relay, or the bundled emulator for tests and CI.

    Attributes:
        api_key: The bearer token; only leaves the block through the client it builds.
        base_url: The API root including ``/v1``.
        timeout_seconds: Read, write and pool timeout of one HTTP request.
        connect_timeout_seconds: Connect timeout of one HTTP request.
        max_retries: Retries of a transient failure (5xx, connection errors, timeouts).
        retry_window_seconds: Seconds after a request's first transient failure during
            which retries may start; a wait's deadline cuts it shorter.
        allow_insecure_http: Allow ``http://`` to a non-loopback host.
        price_overrides: ``{model: {tier: usd_per_second}}`` for gateways that price
            differently; a model given a price here becomes allowed.
        requests_per_minute: The gateway's request limit for this key; every request
            is paced to stay under it in any minute. None: learned from the gateway.
        max_running_jobs: Most jobs of one process running at once (Azure allows 2);
            creates wait for a place. None: only the gateway's own cap (its 429s).
        rate_limit_name: A Prefect global concurrency limit with slot decay that
            every request takes a slot of, so all workers on the key share one limit.
        rate_limit_patience_seconds: How long one request keeps going again after
            429s, which use up no retries, before it fails with ``RateLimited``.
        spend_limit_name: A spend limit on the Prefect server (``prefect-sora spend-limit
            create NAME --usd 100 --window 24h``) that the flows reserve each job's
            estimate on before its create: every process on the key shares it.
        auth_header: How the key is sent: ``authorization`` (``Authorization: Bearer``,
            the default) or ``api-key`` (Azure OpenAI).
        extra_headers: Headers sent with every request to the API's origin, kept
            secret like the key (never in a repr, a log, an error or the UI).
        default_query: Query parameters sent with every request, e.g.
            ``{"api-version": "preview"}`` for Azure.
        deployments: ``{model: deployment name}``; the deployment name is sent as
            ``model`` (Azure), while prices and checks use the model.
        unknown_status_grace_seconds: How long a job status never seen before is
            treated as pending before the wait ends with ``UnknownStatus``.

    Example:
        Load stored credentials in a flow and hand them to the tasks:
        ```python
        from prefect import flow
        from prefect_sora.blocks import SoraCredentials
        from prefect_sora.tasks import await_video, submit_video

        @flow
        def generate(prompt: str):
            credentials = SoraCredentials.load("BLOCK_NAME")
            video = await_video(credentials, video=submit_video(credentials, prompt=prompt))
            return video.status  # "completed"
        ```
    """

    _block_type_name = "Sora Credentials"
    _block_type_slug = "sora-credentials"
    # HttpUrl, as Block declares them (and as Prefect's own blocks set them). The logo is
    # docs/assets/sora-credentials.png of this repository (square, as Prefect's block
    # test suite requires); the documentation is the docs site's page of the block.
    _logo_url = HttpUrl(f"{REPOSITORY_FILES}/{LOGO_PATH}")
    _documentation_url = HttpUrl(f"{DOCS_SITE}/credentials/")
    _description = (
        "Credentials and base URL for a Sora 2 Videos API (OpenAI-compatible gateways or the local emulator)."
    )

    api_key: SecretStr = Field(title="API key", default=..., description="The API key sent as a bearer token.")
    base_url: str = Field(
        title="Base URL",
        default=DEFAULT_BASE_URL,
        description=(
            "The API root including /v1, e.g. https://api.apiyi.com/v1. Use https://; plain http:// "
            "works only to this machine (localhost, 127.0.0.1) unless Allow insecure HTTP is switched on."
        ),
    )
    timeout_seconds: float = Field(
        title="Timeout (seconds)",
        default=30.0,
        gt=0,
        description="Read, write and pool timeout of one request, in seconds.",
    )
    connect_timeout_seconds: float = Field(
        title="Connect timeout (seconds)", default=10.0, gt=0, description="Connect timeout of one request, in seconds."
    )
    max_retries: int = Field(
        title="Max retries",
        default=4,
        ge=0,
        le=20,
        description="Retries of a transient failure (5xx, connection errors, timeouts).",
    )
    retry_window_seconds: float = Field(
        title="Retry window (seconds)",
        default=60.0,
        gt=0,
        description="Seconds after a request's first transient failure during which retries may start; "
        "a wait's deadline cuts it shorter.",
    )
    allow_insecure_http: bool = Field(
        title="Allow insecure HTTP",
        default=False,
        validate_default=True,  # it carries the base_url check, which must always run
        description="Allow plain http:// to a host that is not loopback (the key then travels in clear).",
    )
    price_overrides: dict[str, dict[str, Decimal]] | None = Field(
        title="Price overrides (USD per second)",
        default=None,
        description="Per-second prices by model and tier (720p, 1024p, 1080p) that replace the list prices.",
    )
    requests_per_minute: int | None = Field(
        title="Requests per minute",
        default=None,
        description="The gateway's requests-per-minute limit for this key; requests are paced to stay under it "
        "in every minute. Empty: learned from the gateway's x-ratelimit headers and 429s.",
    )
    max_running_jobs: int | None = Field(
        title="Max running jobs",
        default=None,
        description="Most jobs running at once from one process (Azure allows 2); a create waits for a place.",
    )
    rate_limit_name: str | None = Field(
        title="Prefect rate limit name",
        default=None,
        description="A Prefect global concurrency limit with slot decay (prefect gcl create NAME --limit L "
        "--slot-decay-per-second D) that every request takes a slot of: all workers on this key share it.",
    )
    rate_limit_patience_seconds: float = Field(
        title="Rate limit patience (seconds)",
        default=900.0,
        ge=0,
        description="Seconds one request keeps going again after 429s (which use no retries) before it fails.",
    )
    spend_limit_name: str | None = Field(
        title="Spend limit name",
        default=None,
        description="A spend limit on the Prefect server (prefect-sora spend-limit create NAME --usd 100 "
        "--window 24h): the flows reserve each job's estimate on it before its create, so every worker on "
        "this key stays within it together. A missing limit stops a run before anything is paid.",
    )

    auth_header: Literal["authorization", "api-key"] = Field(
        title="Auth header",
        default="authorization",
        description="How the key is sent: 'authorization' (Authorization: Bearer KEY) or 'api-key' (Azure OpenAI).",
    )
    extra_headers: SecretDict | None = Field(
        title="Extra headers",
        default=None,
        description="Headers sent with every request to the API's origin; stored and shown as secrets.",
    )
    default_query: dict[str, str] | None = Field(
        title="Default query parameters",
        default=None,
        description='Query parameters sent with every request, e.g. {"api-version": "preview"} for Azure.',
    )
    deployments: dict[str, str] | None = Field(
        title="Deployments (model to name)",
        default=None,
        description="Model to deployment name, sent as `model` (Azure routes by deployment), e.g. "
        '{"sora-2": "my-sora-2"}. Prices and checks still use the model.',
    )
    unknown_status_grace_seconds: float = Field(
        title="Unknown status grace (seconds)",
        default=900.0,
        ge=0,
        description="Seconds a job status never seen before counts as pending before the wait gives up on it.",
    )

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

    @field_validator("extra_headers")
    @classmethod
    def _check_headers(cls, value: SecretDict | None) -> SecretDict | None:
        if value is not None:
            check_gateway_headers(value.get_secret_value())
        return value

    @field_validator("deployments")
    @classmethod
    def _check_deployments(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        names = list((value or {}).values())
        if any(not isinstance(name, str) or not name.strip() for name in names):
            raise InvalidParameter("deployments", value, "a deployment name is a non-empty string")
        if len(set(names)) != len(names):
            # A job echoes the deployment; two models behind one name could not be told apart.
            raise InvalidParameter("deployments", value, "each model needs its own deployment name")
        return value

    @field_validator("price_overrides")
    @classmethod
    def _check_prices(cls, value: dict[str, dict[str, Decimal]] | None) -> dict[str, dict[str, Decimal]] | None:
        price_table(value)  # refuse a bad override now, not at the first estimate
        return value

    @field_validator("requests_per_minute", "max_running_jobs")
    @classmethod
    def _check_positive(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is not None and value < 1:
            raise InvalidParameter(str(info.field_name), value, "must be at least 1, or empty for no limit")
        return value

    @field_validator("rate_limit_name")
    @classmethod
    def _check_rate_limit_name(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            return None  # an empty form field: no shared limit
        check_pacing(requests_per_minute=None, max_running_jobs=None, rate_limit_name=value)
        return value

    @field_validator("spend_limit_name")
    @classmethod
    def _check_spend_limit_name(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            return None  # an empty form field: no spend limit
        return value if value is None else check_spend_name(value)

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

    def _extra_headers(self) -> dict[str, str]:
        headers = self.extra_headers.get_secret_value() if self.extra_headers is not None else {}
        return {str(name): str(value) for name, value in headers.items()}

    def get_client(self) -> SoraClient:
        """A new async client for this API; close it (``async with``) when done.

        The one way the key leaves the block (``CredentialsBlock``'s contract).
        """
        return SoraClient(
            api_key=self.api_key.get_secret_value(),
            base_url=self.base_url,
            timeout=httpx.Timeout(self.timeout_seconds, connect=self.connect_timeout_seconds),
            retry=RetryPolicy(
                max_retries=self.max_retries,
                window_seconds=self.retry_window_seconds,
                rate_limit_patience=self.rate_limit_patience_seconds,
            ),
            allow_insecure_http=self.allow_insecure_http,
            requests_per_minute=self.requests_per_minute,
            max_running_jobs=self.max_running_jobs,
            rate_limit_name=self.rate_limit_name,
            auth_header=self.auth_header,
            extra_headers=self._extra_headers(),
            default_query=self.default_query,
            deployments=self.deployments,
            unknown_status_grace=self.unknown_status_grace_seconds,
        )
