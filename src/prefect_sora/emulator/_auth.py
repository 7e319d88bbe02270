"""Who may call the emulated API: a bearer token, or Azure's ``api-key`` header, per profile.

Any non-empty key is accepted unless the config sets `api_key`; then only that one is, and
it is compared in constant time and never echoed, not even masked. The Azure profile reads
the ``api-key`` header only: a request with just ``Authorization: Bearer`` is a 401 in
Azure's own shape, as the real service answers a client pointed at the wrong auth scheme.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from prefect_sora.emulator._config import EmulatorConfig
from prefect_sora.emulator._errors import APIError
from prefect_sora.emulator._profiles import Auth

_AZURE_DENIED = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a "
    "valid key for an active subscription and use a correct regional API endpoint for your resource."
)


def _unauthorized(message: str) -> APIError:
    return APIError(401, message, type="invalid_request_error", code="invalid_api_key")


def _bearer(authorization: bytes | str | None) -> bytes | None:
    if not authorization:
        return None
    raw = authorization.encode("latin-1") if isinstance(authorization, str) else authorization
    scheme, _, token = raw.partition(b" ")
    token = token.strip()
    return token if scheme.lower() == b"bearer" and token else None


def request_key(headers: Iterable[tuple[bytes, bytes]], auth: Auth) -> bytes | None:
    """The key a request presents (for the per-key limits), whether or not it is valid."""
    bearer = api_key = None
    for name, value in headers:
        if name == b"authorization":
            bearer = _bearer(value)
        elif name == b"api-key":
            api_key = value.strip() or None
    if auth == "api-key":
        return api_key or bearer
    return bearer or api_key


def authorize(config: EmulatorConfig, auth: Auth, *, authorization: str | None, api_key: str | None) -> None:
    """Accept the request's credentials or refuse them.

    Raises:
        APIError: 401 for a missing, malformed or wrong key.
    """
    if auth == "api-key":
        presented = (api_key or "").strip()
        if not presented:
            raise APIError(401, _AZURE_DENIED, type="invalid_request_error", code="401", shape="azure")
        _check(config, presented.encode(), APIError(401, _AZURE_DENIED, code="401", shape="azure"))
        return
    if not authorization:
        raise _unauthorized(
            "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
        )
    token = _bearer(authorization)
    if token is None:
        raise _unauthorized("Malformed Authorization header: expected 'Bearer YOUR_KEY'.")
    _check(config, token, _unauthorized("Incorrect API key provided."))


def _check(config: EmulatorConfig, presented: bytes, refusal: APIError) -> None:
    expected = config.api_key
    if expected is not None and not secrets.compare_digest(presented, expected.get_secret_value().encode()):
        raise refusal
