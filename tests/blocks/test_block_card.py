"""What the Prefect UI shows of the block: a CredentialsBlock with titled fields, a square logo, its docs page."""

from __future__ import annotations

import re
from pathlib import Path

from PIL import Image
from prefect import get_client
from prefect.blocks.abstract import CredentialsBlock

from prefect_sora import SoraClient, SoraCredentials
from prefect_sora.blocks import _credentials

REPOSITORY = Path(__file__).resolve().parents[2]


def test_the_block_is_a_credentials_block_whose_client_is_the_sora_client() -> None:
    credentials = SoraCredentials(api_key="sk-card", base_url="http://127.0.0.1:9/v1")
    client = credentials.get_client()

    assert isinstance(credentials, CredentialsBlock)
    assert isinstance(client, SoraClient)
    assert client.base_url == "http://127.0.0.1:9/v1"


def test_every_field_has_a_title_and_the_key_and_url_read_as_written() -> None:
    untitled = [name for name, field in SoraCredentials.model_fields.items() if not field.title]
    properties = SoraCredentials.model_json_schema()["properties"]

    assert untitled == []
    assert properties["api_key"]["title"] == "API key"
    assert properties["base_url"]["title"] == "Base URL"
    assert properties["allow_insecure_http"]["title"] == "Allow insecure HTTP"
    # The base URL's help names the switch by the title the form shows.
    assert "Allow insecure HTTP" in properties["base_url"]["description"]


def test_the_logo_is_a_square_committed_in_the_repository_at_the_path_its_url_names() -> None:
    logo = REPOSITORY / _credentials.LOGO_PATH

    with Image.open(logo) as image:
        width, height = image.size

    # Prefect's block test suite checks the same on the downloaded logo.
    assert width == height
    assert 45 < width < 1000
    assert str(SoraCredentials._logo_url) == f"{_credentials.REPOSITORY_FILES}/{_credentials.LOGO_PATH}"
    assert str(SoraCredentials._logo_url).startswith("https://raw.githubusercontent.com/")


def test_the_documentation_url_is_the_docs_sites_page_of_the_block() -> None:
    mkdocs = (REPOSITORY / "mkdocs.yml").read_text()
    site = re.search(r"^site_url:\s*(\S+)", mkdocs, re.MULTILINE)

    assert site is not None
    assert str(SoraCredentials._documentation_url) == f"{site.group(1).rstrip('/')}/credentials/"
    assert re.search(r":\s*credentials\.md\s*$", mkdocs, re.MULTILINE)  # the page is in the site's nav
    assert (REPOSITORY / "docs" / "credentials.md").is_file()


def test_the_server_keeps_the_titled_schema_and_the_block_loads_back(api_key: str) -> None:
    SoraCredentials(api_key=api_key, base_url="https://gateway.example/v1", max_retries=3).save(
        "titled-card", overwrite=True
    )

    with get_client(sync_client=True) as client:
        document = client.read_block_document_by_name("titled-card", block_type_slug="sora-credentials")
        block_type = client.read_block_type_by_slug("sora-credentials")
    loaded = SoraCredentials.load("titled-card")

    assert document.block_schema is not None
    stored = document.block_schema.fields["properties"]
    assert (stored["api_key"]["title"], stored["base_url"]["title"]) == ("API key", "Base URL")
    assert str(block_type.logo_url) == str(SoraCredentials._logo_url)
    assert str(block_type.documentation_url) == str(SoraCredentials._documentation_url)
    assert (loaded.api_key.get_secret_value(), loaded.max_retries) == (api_key, 3)
    assert isinstance(loaded, CredentialsBlock)
