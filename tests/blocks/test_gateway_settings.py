"""Auth and routing are block settings: the key's header, secret extra headers, default query, deployments."""

from __future__ import annotations

from typing import Any

import pytest
from prefect.client.orchestration import get_client
from pydantic import ValidationError

from prefect_sora.blocks import SoraCredentials

HEADER_SECRET = "gw-token-LEAKCANARY-6a2f"


def test_gateway_settings_round_trip_and_the_extra_headers_stay_secret(api_key: str) -> None:
    SoraCredentials(
        api_key=api_key,
        base_url="https://my-resource.openai.azure.com/openai/v1",
        auth_header="api-key",
        extra_headers={"X-Gateway-Token": HEADER_SECRET},
        default_query={"api-version": "preview"},
        deployments={"sora-2": "my-sora-2"},
        unknown_status_grace_seconds=120,
    ).save("azure-round-trip", overwrite=True)

    loaded = SoraCredentials.load("azure-round-trip")

    assert loaded.auth_header == "api-key" and loaded.default_query == {"api-version": "preview"}
    assert loaded.deployments == {"sora-2": "my-sora-2"} and loaded.unknown_status_grace_seconds == 120
    assert loaded.extra_headers is not None
    assert loaded.extra_headers.get_secret_value() == {"X-Gateway-Token": HEADER_SECRET}
    for shown in (loaded.model_dump_json(), repr(loaded), str(loaded.model_dump()), repr(loaded.get_client())):
        assert HEADER_SECRET not in shown and api_key not in shown
    with get_client(sync_client=True) as client:
        document = client.read_block_document_by_name("azure-round-trip", "sora-credentials", include_secrets=False)
    assert HEADER_SECRET not in str(document.data)


def test_the_client_sends_the_key_as_the_block_says(api_key: str) -> None:
    azure = SoraCredentials(api_key=api_key, auth_header="api-key", extra_headers={"X-Team": "video"}).get_client()
    default = SoraCredentials(api_key=api_key).get_client()

    assert azure._auth == {"X-Team": "video", "api-key": api_key}
    assert default._auth == {"Authorization": f"Bearer {api_key}"}


@pytest.mark.parametrize(
    "settings",
    [
        {"auth_header": "x-api-key"},
        {"extra_headers": {"Authorization": "Bearer other"}},
        {"extra_headers": {"api-key": "other"}},
        {"extra_headers": {"Bad Header": "x"}},
        {"extra_headers": {"X-Ok": "line\r\nInjected: 1"}},
        {"deployments": {"sora-2": "shared", "sora-2-pro": "shared"}},
        {"deployments": {"sora-2": ""}},
        {"unknown_status_grace_seconds": -1},
    ],
)
def test_bad_gateway_settings_are_refused_without_showing_a_secret(api_key: str, settings: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as caught:
        SoraCredentials(api_key=api_key, **settings)

    assert api_key not in str(caught.value)
    assert "Bearer other" not in str(caught.value) and "Injected" not in str(caught.value)
