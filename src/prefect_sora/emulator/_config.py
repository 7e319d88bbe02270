"""The emulator's knobs: timing, job outcomes and request faults, in one validated model.

Everything the emulator does that is not fixed by the API contract is decided here, so a
test can say exactly what world it wants ("every job takes 0.3 s", "one request in ten is
a 429") and get the same world again from the same `seed`.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from prefect_sora.emulator._profiles import BASE_DEFAULTS, DEFAULT_PROFILE, ProfileName, profile_defaults

Endpoint = Literal[
    "create",
    "retrieve",
    "list",
    "delete",
    "content",
    "remix",
    "extend",
    "edit",
    "character_create",
    "character_retrieve",
]
"""The `/v1` operations faults can be aimed at."""

ALL_ENDPOINTS: tuple[Endpoint, ...] = get_args(Endpoint)

FaultKind = Literal["429", "500", "502", "503", "reset", "slow", "truncate", "lost"]
"""What an injected request fault does: an HTTP error, a TCP reset, a delay, a cut body, or
`lost`: the request is carried out (a job is created) and then the connection is reset
instead of answering, the case that tempts a client to pay twice."""

FAULT_KINDS: tuple[FaultKind, ...] = ("429", "500", "502", "503", "reset", "slow", "truncate", "lost")

BurstStatus = Literal[500, 502, 503]

SchemaStatus = Literal["queued", "in_progress", "completed", "failed"]
TimestampFormat = Literal["int", "float", "string", "iso"]
"""How `created_at`, `completed_at` and `expires_at` are sent: int seconds (the schema),
float seconds, a numeric string, or ISO 8601 UTC (``2026-11-24T10:00:00Z``)."""

ErrorEnvelope = Literal["openai", "string", "message", "msg", "detail", "text"]
"""How every error answer is shaped: ``{"error": {message, type, param, code}}`` (openai),
``{"error": "..."}`` (string), ``{"message": "..."}``, ``{"code": 429, "msg": "..."}`` (msg),
``{"detail": "..."}``, or a text/plain body."""

EchoId = Literal["same", "reencoded"]
"""Which id retrieve and list answers name a job by: the one its create answered (same), or
another that routes elsewhere (reencoded, as a LiteLLM proxy does; see
`prefect_sora.emulator._echo`)."""

ProxyRoute = Literal["list", "delete", "remix"]
"""Routes a gateway may not serve (LiteLLM's proxy: see `prefect_sora.emulator._proxy`)."""

RequestIdHeader = Literal["x-request-id", "x-litellm-call-id"]

NullableField = Literal["seconds", "size", "quality", "progress"]
OmittableField = Literal[
    "model",
    "progress",
    "created_at",
    "completed_at",
    "expires_at",
    "size",
    "seconds",
    "quality",
    "prompt",
    "remixed_from_video_id",
    "error",
]


def _burst_statuses() -> list[BurstStatus]:
    return [500, 502, 503]


def _rate(default: float = 0.0) -> Any:
    return Field(default=default, ge=0.0, le=1.0)


class EmulatorConfig(BaseModel):
    """How the emulated Sora 2 service behaves.

    Timing: with `job_seconds` set, every job without faults completes exactly that many
    seconds after its creation (a short queued phase included); otherwise each job's
    duration is drawn from `job_seconds_range` by a generator seeded with `seed` and the
    job's creation ordinal. `max_running` caps how many jobs generate at once; the rest
    wait `queued` for a free slot (and so finish later than planned).

    Outcomes: `failure_rate` of the jobs end `failed` with a code from `failure_codes`,
    `stuck_rate` of them stay `in_progress` forever.

    Request faults (drawn per request from the seeded generator, only for endpoints in
    `fault_endpoints`): 429 with `retry-after` headers, bursts of 5xx, TCP resets, slow
    answers (the work is done at once, the answer comes `slow_seconds` late), truncated
    content bodies, and lost answers (the work is done, then the connection is reset).

    Limits (per key: the bearer token, or the ``api-key`` header): `rpm` requests a minute
    as a token bucket of `rpm_burst` tokens (default ``max(1, rpm // 10)``) refilled at
    rpm/60 a second, and `max_running_jobs` queued or in-progress jobs; past either, a 429.

    Gateway: `profile` picks the service impersonated (see `prefect_sora.emulator._profiles`)
    and sets defaults for `deployments`, `max_running_jobs` and `content_ttl_seconds`.
    Deviations reported from compatible gateways, usable with any profile:
    `status_aliases` (schema status -> what is sent), `timestamp_format`, `null_fields`,
    `omit_fields`, `error_envelope`, `retry_after_headers` and `echo_id`; and a LiteLLM
    proxy's (`prefect_sora.emulator._proxy`): `unserved_routes`, `read_errors_as_500`,
    `content_errors_as_video`, `ignore_variant`, `request_id_header` (whose name carries
    each answer's id; LiteLLM's leaves it off downloads) and `poll_after_header` (off: no
    ``openai-poll-after-ms`` whatever `poll_after_ms` says).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = 0
    job_seconds: float | None = Field(default=None, ge=0.0)
    job_seconds_range: tuple[float, float] = (2.0, 6.0)
    queue_seconds_range: tuple[float, float] = (0.05, 0.5)
    max_running: int | None = Field(default=None, ge=1)

    failure_rate: float = _rate()
    failure_codes: list[str] = Field(default_factory=lambda: ["moderation_blocked"], min_length=1)
    stuck_rate: float = _rate()

    rate_limit_rate: float = _rate()
    retry_after_seconds: float = Field(default=1.0, ge=0.0)
    error_burst_rate: float = _rate()
    error_burst_length: int = Field(default=3, ge=1)
    error_burst_statuses: list[BurstStatus] = Field(default_factory=_burst_statuses, min_length=1)
    reset_rate: float = _rate()
    slow_rate: float = _rate()
    slow_seconds: float = Field(default=2.0, ge=0.0)
    truncate_rate: float = _rate()
    lost_rate: float = _rate()
    fault_endpoints: list[Endpoint] = Field(default_factory=lambda: list(ALL_ENDPOINTS))

    content_ttl_seconds: float = Field(default=BASE_DEFAULTS["content_ttl_seconds"], ge=0.0)
    # `openai-poll-after-ms` on unfinished jobs: None derives it from the job's planned end,
    # 0 sends none (as most gateways), N sends N (see prefect_sora.emulator._poll_after).
    poll_after_ms: int | None = Field(default=None, ge=0)
    api_key: SecretStr | None = None
    synthetic_content_bytes: int | None = Field(default=None, ge=0)

    rpm: int | None = Field(default=None, ge=1)
    rpm_burst: int | None = Field(default=None, ge=1)
    max_running_jobs: int | None = Field(default=None, ge=1)

    profile: ProfileName = DEFAULT_PROFILE
    deployments: dict[str, str] | None = None
    status_aliases: dict[SchemaStatus, str] = Field(default_factory=dict)
    timestamp_format: TimestampFormat = "int"
    null_fields: list[NullableField] = Field(default_factory=list)
    omit_fields: list[OmittableField] = Field(default_factory=list)
    error_envelope: ErrorEnvelope = "openai"
    retry_after_headers: bool = True
    echo_id: EchoId = "same"
    unserved_routes: list[ProxyRoute] = Field(default_factory=list)
    read_errors_as_500: bool = False
    content_errors_as_video: bool = False
    ignore_variant: bool = False
    request_id_header: RequestIdHeader = "x-request-id"
    poll_after_header: bool = True

    @model_validator(mode="before")
    @classmethod
    def _profile_defaults(cls, data: Any) -> Any:
        # A profile's defaults fill only the fields the caller left out.
        if isinstance(data, dict):
            profile = data.get("profile", DEFAULT_PROFILE)
            if profile in get_args(ProfileName):
                data = {**profile_defaults(profile), **data}
        return data

    @property
    def bucket_capacity(self) -> int | None:
        """Tokens the rpm bucket holds when full (None without `rpm`)."""
        if self.rpm is None:
            return None
        return self.rpm_burst if self.rpm_burst is not None else max(1, self.rpm // 10)

    @model_validator(mode="after")
    def _check_consistency(self) -> EmulatorConfig:
        for name in ("job_seconds_range", "queue_seconds_range"):
            low, high = getattr(self, name)
            if not 0.0 <= low <= high:
                raise ValueError(f"{name} must be (low, high) with 0 <= low <= high")
        if self.failure_rate + self.stuck_rate > 1.0:
            raise ValueError("failure_rate + stuck_rate must not exceed 1")
        request_rates = (
            self.rate_limit_rate,
            self.error_burst_rate,
            self.reset_rate,
            self.slow_rate,
            self.truncate_rate,
            self.lost_rate,
        )
        if sum(request_rates) > 1.0:
            raise ValueError("the request fault rates must not add up to more than 1")
        return self

    def updated(self, **changes: Any) -> EmulatorConfig:
        """A validated copy with `changes` applied (`model_copy` would skip validation).

        A change of `profile` also moves the fields still at the old profile's defaults to
        the new profile's defaults.
        """
        merged = {name: getattr(self, name) for name in type(self).model_fields}
        new_profile = changes.get("profile", self.profile)
        if new_profile != self.profile and new_profile in get_args(ProfileName):
            for name, value in profile_defaults(self.profile).items():
                if merged[name] == value:
                    del merged[name]
        merged.update(changes)
        return type(self).model_validate(merged)

    def public_dump(self) -> dict[str, Any]:
        """The config as JSON-ready data, the API key masked."""
        data = self.model_dump(mode="json")
        data["api_key"] = None if self.api_key is None else "**********"
        return data
