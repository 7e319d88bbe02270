"""SoraCredentials: a standard Prefect block, registered by entry point and CLI, that keeps its key secret."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from prefect import get_client
from prefect.blocks.core import Block
from prefect.client.schemas.actions import BlockTypeUpdate
from prefect.settings import PREFECT_API_URL
from prefect.testing.standard_test_suites import BlockStandardTestSuite
from prefect.utilities.dispatch import lookup_type
from pydantic import ValidationError

from prefect_sora._errors import InvalidParameter
from prefect_sora.blocks import SoraCredentials


class TestSoraCredentialsIsAStandardBlock(BlockStandardTestSuite):
    @pytest.fixture
    def block(self) -> type[Block]:
        return SoraCredentials

    @pytest.mark.skip(reason="downloads the logo from the internet, and the tests run offline")
    def test_has_a_valid_image(self, block: type[Block]) -> None:
        pass


def test_the_prefect_collections_entry_point_names_the_blocks_module() -> None:
    found = [entry for entry in entry_points(group="prefect.collections") if entry.value == "prefect_sora.blocks"]

    assert [entry.name for entry in found] == ["prefect_sora"]
    assert found[0].load().SoraCredentials is SoraCredentials
    assert lookup_type(Block, "sora-credentials") is SoraCredentials


def test_prefect_block_register_registers_the_block_type_on_the_server() -> None:
    # The session registered the type already, and every xdist worker's blocks are of it on
    # the one shared server: deleting it would delete them all. So the server's copy is made
    # stale instead (its description, which no other test reads), and the command must
    # write it back.
    with get_client(sync_client=True) as client:
        stale = client.read_block_type_by_slug("sora-credentials")
        client.update_block_type(stale.id, BlockTypeUpdate(description="stale: written before the command ran"))
    prefect = Path(sys.executable).with_name("prefect")
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}

    done = subprocess.run(
        [str(prefect), "block", "register", "-m", "prefect_sora.blocks"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "Sora Credentials" in done.stdout, done.stdout  # the command's table of what it registered
    with get_client(sync_client=True) as client:
        block_type = client.read_block_type_by_slug("sora-credentials")
    assert block_type.id == stale.id
    assert block_type.description == SoraCredentials.get_description()
    assert block_type.name == "Sora Credentials"
    assert block_type.code_example and 'SoraCredentials.load("BLOCK_NAME")' in block_type.code_example
    assert "&" not in block_type.code_example, "the server HTML-escapes the example and the UI shows the entities"


def test_a_saved_block_loads_back_whole_and_its_key_stays_secret(api_key: str) -> None:
    SoraCredentials(
        api_key=api_key,
        base_url="https://gateway.example/v1",
        max_retries=2,
        price_overrides={"sora-2": {"720p": Decimal("0.08")}},
    ).save("round-trip", overwrite=True)

    loaded = SoraCredentials.load("round-trip")

    assert loaded.api_key.get_secret_value() == api_key
    assert (loaded.base_url, loaded.max_retries) == ("https://gateway.example/v1", 2)
    assert loaded.price_overrides == {"sora-2": {"720p": Decimal("0.08")}}
    assert loaded.prices()["sora-2"]["720p"] == Decimal("0.08")
    for shown in (
        loaded.model_dump_json(),
        repr(loaded),
        str(loaded),
        str(loaded.model_dump()),
        repr(loaded.get_client()),
    ):
        assert api_key not in shown
    with get_client(sync_client=True) as client:
        document = client.read_block_document_by_name("round-trip", "sora-credentials", include_secrets=False)
    assert api_key not in str(document.data)


@pytest.mark.parametrize(
    "settings",
    [
        {"base_url": "ftp://gateway.example/v1"},
        {"base_url": "http://gateway.example/v1"},
        {"timeout_seconds": "soon"},
        {"max_retries": -1},
        {"price_overrides": {"sora-2": {"4k": "1"}}},
    ],
)
def test_a_validation_error_never_shows_the_key(api_key: str, settings: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as caught:
        SoraCredentials(api_key=api_key, **settings)

    assert api_key not in str(caught.value)
    assert api_key not in repr(caught.value)
    # What Prefect shows for a flow parameter that fails validation: each error's loc and msg.
    assert not [error for error in caught.value.errors() if api_key in str(error["msg"])]


def test_from_env_reads_the_key_and_the_base_url(monkeypatch: pytest.MonkeyPatch, api_key: str) -> None:
    monkeypatch.setenv("SORA_API_KEY", api_key)
    monkeypatch.setenv("SORA_BASE_URL", "http://127.0.0.1:8123/v1")

    credentials = SoraCredentials.from_env(max_retries=1)

    assert credentials.api_key.get_secret_value() == api_key
    assert credentials.base_url == "http://127.0.0.1:8123/v1"
    assert credentials.max_retries == 1


def test_from_env_without_a_base_url_uses_the_default(monkeypatch: pytest.MonkeyPatch, api_key: str) -> None:
    monkeypatch.setenv("SORA_API_KEY", api_key)
    monkeypatch.delenv("SORA_BASE_URL", raising=False)

    assert SoraCredentials.from_env().base_url == "https://api.apiyi.com/v1"


@pytest.mark.parametrize("value", [None, "", "   "])
def test_from_env_without_a_key_says_what_to_set(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    if value is None:
        monkeypatch.delenv("SORA_API_KEY", raising=False)
    else:
        monkeypatch.setenv("SORA_API_KEY", value)

    with pytest.raises(InvalidParameter) as caught:
        SoraCredentials.from_env()

    assert caught.value.param == "SORA_API_KEY"
    assert "set it in the environment" in str(caught.value)


@pytest.mark.parametrize(
    "base_url",
    ["http://127.0.0.1:8000/v1", "http://localhost:8000/v1", "http://[::1]:8000/v1", "https://gw.example/v1"],
)
def test_https_and_loopback_http_are_accepted(base_url: str) -> None:
    assert SoraCredentials(api_key="sk-test", base_url=base_url).base_url == base_url


def test_plain_http_to_another_host_needs_allow_insecure_http() -> None:
    with pytest.raises(ValidationError, match="must use https unless the host is loopback"):
        SoraCredentials(api_key="sk-test", base_url="http://gateway.example/v1")

    allowed = SoraCredentials(api_key="sk-test", base_url="http://gateway.example/v1", allow_insecure_http=True)

    assert allowed.get_client().base_url == "http://gateway.example/v1"


def test_credentials_in_the_base_url_are_refused_without_being_shown() -> None:
    with pytest.raises(ValidationError) as caught:
        SoraCredentials(api_key="sk-test", base_url="https://user:hunter2-secret@gw.example/v1")

    assert "must not carry credentials" in str(caught.value)
    assert "hunter2-secret" not in str(caught.value)


def test_an_empty_key_is_refused() -> None:
    with pytest.raises(ValidationError, match="api_key"):
        SoraCredentials(api_key="  ")


@pytest.mark.parametrize(
    ("overrides", "why"),
    [
        ({"sora-2": {"4k": "1.00"}}, "tiers are 720p, 1024p, 1080p"),
        ({"sora-2": {"720p": "-0.10"}}, "non-negative"),
        ({"sora-2": {"720p": "lots"}}, "decimal"),
    ],
)
def test_bad_price_overrides_are_refused(overrides: dict[str, dict[str, str]], why: str) -> None:
    with pytest.raises(ValidationError, match=why):
        SoraCredentials(api_key="sk-test", price_overrides=overrides)


def test_price_overrides_replace_list_prices_and_can_price_a_new_model() -> None:
    credentials = SoraCredentials(
        api_key="sk-test", price_overrides={"sora-2-pro": {"1080p": "0.65"}, "sora-2-mini": {"720p": 0.05}}
    )

    prices = credentials.prices()

    assert prices["sora-2-pro"] == {"720p": Decimal("0.30"), "1024p": Decimal("0.50"), "1080p": Decimal("0.65")}
    assert prices["sora-2-mini"] == {"720p": Decimal("0.05")}


@pytest.mark.parametrize(
    "bad",
    [
        {"base_url": "http://example.com/v1"},
        {"base_url": "ftp://example.com/v1"},
        {"price_overrides": {"sora-2": {"4k": 1}}},
        {"timeout_seconds": -1},
    ],
)
def test_no_validation_error_records_the_key_even_in_its_structured_form(bad: dict[str, object]) -> None:
    key = "sk-structured-leak-check-7d1e"
    with pytest.raises(ValidationError) as raised:
        SoraCredentials(api_key=key, **bad)
    assert key not in str(raised.value.errors())
    assert key not in raised.value.json()
