"""SoraCredentials' rate limit settings: checked before any request, saved and loaded, handed to the client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from prefect_sora._pacing.pacer import forget_pacers
from prefect_sora.blocks import SoraCredentials


@pytest.fixture(autouse=True)
def _fresh_pacers() -> Iterator[None]:
    forget_pacers()
    yield
    forget_pacers()


def test_rate_limit_settings_are_off_unless_set() -> None:
    credentials = SoraCredentials(api_key="sk-test")

    assert (credentials.requests_per_minute, credentials.max_running_jobs, credentials.rate_limit_name) == (
        None,
        None,
        None,
    )
    assert credentials.rate_limit_patience_seconds == 900.0


def test_saved_rate_limit_settings_load_back_and_reach_the_client(api_key: str) -> None:
    SoraCredentials(
        api_key=api_key,
        requests_per_minute=375,
        max_running_jobs=2,
        rate_limit_name="sora-key-1",
        rate_limit_patience_seconds=120,
    ).save("paced", overwrite=True)

    loaded = SoraCredentials.load("paced")
    client = loaded.get_client()

    assert (loaded.requests_per_minute, loaded.max_running_jobs, loaded.rate_limit_name) == (375, 2, "sora-key-1")
    assert client.retry.rate_limit_patience == 120
    pacer = client._pacer
    assert pacer.bucket.configured == 375
    assert pacer._jobs.limit == 2
    assert pacer._shared is not None and pacer._shared.name == "sora-key-1"
    assert api_key not in repr(pacer) and api_key not in pacer.label


@pytest.mark.parametrize(
    "settings",
    [
        {"requests_per_minute": 0},
        {"requests_per_minute": -120},
        {"max_running_jobs": 0},
        {"rate_limit_name": "a/b"},
        {"rate_limit_patience_seconds": -1},
    ],
)
def test_a_non_positive_rate_or_cap_is_refused_without_showing_the_key(api_key: str, settings: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as caught:
        SoraCredentials(api_key=api_key, **settings)

    (field,) = settings
    assert [error["loc"] for error in caught.value.errors()] == [(field,)]
    assert api_key not in str(caught.value) and api_key not in caught.value.json()


def test_an_empty_rate_limit_name_from_a_form_means_no_shared_limit() -> None:
    assert SoraCredentials(api_key="sk-test", rate_limit_name="  ").rate_limit_name is None
