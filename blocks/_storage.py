"""The SoraStorage block: where videos go, with the storage's secrets kept as secrets.

It is also a Prefect ``WritableFileSystem``, so the same block can be a flow's or a
deployment's result storage: a parent flow on another machine then reads a child
run's ``VideoResult`` from it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import fsspec
from fsspec import AbstractFileSystem
from prefect.filesystems import WritableFileSystem
from prefect.types import SecretDict
from pydantic import ConfigDict, Field, HttpUrl, field_validator

from prefect_sora._durable.storage import merge_options, secret_option_paths, under_base
from prefect_sora._errors import InvalidParameter
from prefect_sora.blocks._credentials import DOCS_SITE, LOGO_PATH, REPOSITORY_FILES


# The example below has no <, > or &: Prefect's server stores a block's code example
# HTML-escaped and its UI shows it as written.
class SoraStorage(WritableFileSystem):
    """Where the flows store videos and their resume journal: a base URL and its fsspec options.

    Keys, secrets and tokens go in `storage_options`, which Prefect stores and shows
    as secrets; only the block's name travels in a flow run's parameters (and to the
    shard runs of a sharded batch). Options that are not secret (an endpoint, a
    region, `anon`) may go in `public_options`, shown in the UI as written.

    The block is also a Prefect result storage (`result_storage=`, or
    `PREFECT_DEFAULT_RESULT_STORAGE_BLOCK=sora-storage/NAME`), so that
    `run_deployment(...).state.result()` works from any machine that reaches it.

    Attributes:
        base_url: An fsspec URL of a folder: `s3://bucket/videos/`, `gcs://...`,
            `file:///srv/videos/`, `memory://videos/`.
        storage_options: fsspec options kept secret (`key`, `secret`, `token`, ...).
        public_options: fsspec options that are not secret (`client_kwargs`'
            `endpoint_url`, `anon`, ...); a secret name here is refused.

    Example:
        Save the block once, then name it in any flow:
        ```python
        from prefect_sora.blocks import SoraStorage
        from prefect_sora.flows import text_to_video

        SoraStorage(
            base_url="s3://my-bucket/videos/",
            storage_options={"key": "AKIA...", "secret": "..."},
        ).save("videos")
        text_to_video("A lighthouse in a storm", storage="videos", out="trailers/")
        ```
    """

    _block_type_name = "Sora Storage"
    _block_type_slug = "sora-storage"
    _logo_url = HttpUrl(f"{REPOSITORY_FILES}/{LOGO_PATH}")
    _documentation_url = HttpUrl(f"{DOCS_SITE}/deployments/")
    _description = "Where prefect-sora stores videos (any fsspec URL), with the storage's keys kept secret."

    base_url: str = Field(
        title="Base URL",
        default=...,
        description="The folder videos go under, as an fsspec URL: s3://bucket/videos/, file:///srv/videos/ ... "
        "A flow's `out` is a path relative to it.",
        examples=["s3://my-bucket/videos/"],
    )
    storage_options: SecretDict | None = Field(
        title="Storage options (secret)",
        default=None,
        description='fsspec options with the secrets, e.g. {"key": "...", "secret": "..."} for S3; '
        "stored and shown as secrets.",
    )
    public_options: dict[str, Any] | None = Field(
        title="Public options",
        default=None,
        description='fsspec options that are not secret, e.g. {"client_kwargs": {"endpoint_url": '
        '"https://minio.example"}}; keys, secrets and tokens belong in Storage options.',
    )

    # An error must not quote the input: the secret options are in it.
    model_config = ConfigDict(hide_input_in_errors=True)

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        if not value.strip():
            raise InvalidParameter("base_url", value, "give the folder's fsspec URL, e.g. s3://bucket/videos/")
        return value.strip()

    @field_validator("public_options")
    @classmethod
    def _check_public(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        secrets = secret_option_paths(value)
        if secrets:
            # Names only: the values are the secrets.
            raise InvalidParameter(
                "public_options", secrets, "these hold secrets; put them in Storage options (storage_options)"
            )
        return value

    def get_storage_options(self) -> dict[str, Any]:
        """Every fsspec option, secrets included: the one way the secrets leave the block."""
        secret = self.storage_options.get_secret_value() if self.storage_options is not None else None
        return merge_options(self.public_options, secret)

    def url(self, path: str | None = None) -> str:
        """A path relative to the base URL as a full URL (empty: the base itself).

        Raises:
            InvalidParameter: ``path`` leaves the base URL.
        """
        return under_base(self.base_url, path)

    def filesystem(self) -> AbstractFileSystem:
        """The fsspec filesystem of the base URL, with every option."""
        fs, _ = fsspec.core.url_to_fs(self.base_url, **self.get_storage_options())
        return fs

    def _path(self, path: str) -> tuple[AbstractFileSystem, str]:
        fs, resolved = fsspec.core.url_to_fs(self.url(path), **self.get_storage_options())
        return fs, resolved

    async def read_path(self, path: str) -> bytes:
        """The bytes at ``path`` under the base URL (Prefect's result storage reads through this)."""

        def read() -> bytes:
            fs, resolved = self._path(path)
            return bytes(fs.cat_file(resolved))

        return await asyncio.to_thread(read)

    async def write_path(self, path: str, content: bytes) -> None:
        """Write ``content`` at ``path`` under the base URL (Prefect's result storage writes through this)."""

        def write() -> None:
            fs, resolved = self._path(path)
            parent = resolved.rsplit("/", 1)[0] if "/" in resolved else ""
            if parent:
                fs.makedirs(parent, exist_ok=True)
            fs.pipe_file(resolved, content)

        await asyncio.to_thread(write)
