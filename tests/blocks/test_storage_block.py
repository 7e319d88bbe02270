"""The SoraStorage block: where videos go, its secrets kept secret, and the flows' `storage=` beside `out`."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import boto3
import pytest
from prefect import get_client
from prefect.blocks.core import Block
from prefect.filesystems import WritableFileSystem

from prefect_sora import SoraStorage as RootSoraStorage
from prefect_sora._durable.storage import merge_options, secret_option_paths, under_base
from prefect_sora._errors import InvalidParameter
from prefect_sora._models import VideoRequest
from prefect_sora.blocks import SoraCredentials, SoraStorage
from prefect_sora.emulator import Emulator
from prefect_sora.flows import batch_text_to_video, remix_video, text_to_video

CANARY = "storage-CANARY-7f3a1c"


@pytest.mark.parametrize(
    ("options", "secrets"),
    [
        ({"key": "AKIA", "secret": "s", "client_kwargs": {"endpoint_url": "http://x"}}, ["key", "secret"]),
        ({"client_kwargs": {"aws_secret_access_key": "s", "region": "eu"}}, ["client_kwargs.aws_secret_access_key"]),
        ({"token": {"refresh": 1}, "anon": False}, ["token"]),  # gcsfs: a token may be a dict
        ({"account_name": "a", "account_key": "k", "sas_token": "t"}, ["account_key", "sas_token"]),
        ({"Connection-String": "DefaultEndpointsProtocol=..."}, ["Connection-String"]),
        ({"username": "u", "password": "p"}, ["password"]),
        ({"my_session_token": "t", "aws_access_key_id": "AKIA"}, ["my_session_token", "aws_access_key_id"]),
        ({"client_kwargs": {"endpoint_url": "http://x", "region_name": "us"}, "anon": True}, []),
        ({}, []),
        (None, []),
    ],
)
def test_secret_options_are_found_by_name_at_any_depth(options: dict[str, Any] | None, secrets: list[str]) -> None:
    assert secret_option_paths(options) == secrets


@pytest.mark.parametrize(
    ("base", "out", "expected"),
    [
        ("s3://b/videos/", "trailers/", "s3://b/videos/trailers/"),
        ("s3://b/videos", "trailers/", "s3://b/videos/trailers/"),
        ("s3://b/videos/", "./2026/a.mp4", "s3://b/videos/2026/a.mp4"),
        ("s3://b/videos/", "", "s3://b/videos/"),
        ("s3://b/videos/", ".", "s3://b/videos/"),
        ("s3://b/videos/", None, "s3://b/videos/"),
        ("s3://b/videos/", "s3://b/videos/late/", "s3://b/videos/late/"),
        ("file:///srv/videos/", "/srv/videos/x/", "file:///srv/videos/x/"),
    ],
)
def test_out_is_placed_under_the_base_url(base: str, out: str | None, expected: str) -> None:
    assert under_base(base, out) == expected


@pytest.mark.parametrize("out", ["../escape/", "a/../../b", "s3://other/videos/", "s3://b/videosX/", "/elsewhere/"])
def test_out_outside_the_base_url_is_refused(out: str) -> None:
    with pytest.raises(InvalidParameter) as refused:
        under_base("s3://b/videos/", out)
    assert refused.value.param == "out"


def test_options_merge_nested_dicts_later_layers_winning() -> None:
    public = {"client_kwargs": {"endpoint_url": "http://a", "region_name": "eu"}, "anon": False}
    secret = {"key": "k", "client_kwargs": {"endpoint_url": "http://b"}}

    assert merge_options(public, None, secret) == {
        "client_kwargs": {"endpoint_url": "http://b", "region_name": "eu"},
        "anon": False,
        "key": "k",
    }
    assert public["client_kwargs"]["endpoint_url"] == "http://a"  # the layers are not changed


def test_the_block_is_public_titled_a_writable_filesystem_and_registered_by_its_slug() -> None:

    assert RootSoraStorage is SoraStorage
    assert issubclass(SoraStorage, WritableFileSystem)
    assert [field.title for field in SoraStorage.model_fields.values()] == [
        "Base URL",
        "Storage options (secret)",
        "Public options",
    ]
    assert SoraStorage.model_json_schema()["secret_fields"] == ["storage_options.*"]  # the server masks them
    assert Block.get_block_class_from_key("sora-storage") is SoraStorage


def test_secrets_stay_out_of_its_repr_and_a_secret_in_public_options_is_refused_by_name() -> None:
    block = SoraStorage(base_url="memory://b/", storage_options={"secret": CANARY}, public_options={"anon": False})

    assert CANARY not in repr(block) and CANARY not in str(block.model_dump())
    assert block.get_storage_options() == {"anon": False, "secret": CANARY}
    with pytest.raises(ValueError, match="Storage options") as refused:
        SoraStorage(base_url="memory://b/", public_options={"client_kwargs": {"aws_secret_access_key": CANARY}})
    assert "client_kwargs.aws_secret_access_key" in str(refused.value)
    assert CANARY not in str(refused.value)


def test_saved_its_secrets_are_masked_by_the_server_and_load_back_whole() -> None:
    name = f"storage-{uuid.uuid4().hex[:8]}"
    SoraStorage(base_url="s3://videos/x/", storage_options={"key": "k", "secret": CANARY}).save(name)

    with get_client(sync_client=True) as client:
        document = client.read_block_document_by_name(name, block_type_slug="sora-storage", include_secrets=False)
    loaded = SoraStorage.load(name)

    assert CANARY not in str(document.data)
    assert loaded.get_storage_options() == {"key": "k", "secret": CANARY}


def test_as_a_writable_filesystem_it_reads_and_writes_under_its_base_url_only() -> None:
    base = f"memory://results-{uuid.uuid4().hex[:8]}/"
    block = SoraStorage(base_url=base)

    asyncio.run(block.write_path("deep/key", b"payload"))

    assert asyncio.run(block.read_path("deep/key")) == b"payload"
    assert block.filesystem().cat_file(f"{base}deep/key") == b"payload"
    with pytest.raises(InvalidParameter):
        asyncio.run(block.read_path("../other/key"))


def test_text_to_video_stores_under_the_blocks_base_url_with_out_relative_to_it(
    sora_emulator: Emulator, credentials: SoraCredentials
) -> None:
    base = f"memory://store-{uuid.uuid4().hex[:8]}/videos/"
    storage = SoraStorage(base_url=base)

    result = asyncio.run(text_to_video("A kite", out="trailers/", storage=storage, credentials=credentials))

    assert result.url is not None and result.url.startswith(f"{base.replace('://', ':///')}trailers/video_")
    assert storage.filesystem().exists(result.url)
    # The journal sits beside the videos, on the block's storage too.
    assert storage.filesystem().exists(f"{base}trailers/.prefect-sora/journal")


def test_a_saved_blocks_name_writes_to_s3_with_its_secret_options(
    sora_emulator: Emulator, credentials: SoraCredentials, s3_endpoint: str
) -> None:
    name = f"s3-{uuid.uuid4().hex[:8]}"
    prefix = f"named-{uuid.uuid4().hex[:8]}"
    SoraStorage(
        base_url=f"s3://videos/{prefix}/",
        storage_options={"key": "x", "secret": CANARY},
        public_options={"client_kwargs": {"endpoint_url": s3_endpoint, "region_name": "us-east-1"}},
    ).save(name)

    batch = asyncio.run(
        batch_text_to_video(
            [VideoRequest(prompt="one"), VideoRequest(prompt="two")], storage=name, credentials=credentials
        )
    )

    assert batch.stored == 2
    s3 = boto3.client(
        "s3", endpoint_url=s3_endpoint, aws_access_key_id="x", aws_secret_access_key="y", region_name="us-east-1"
    )
    keys = {item["Key"] for item in s3.list_objects_v2(Bucket="videos", Prefix=prefix)["Contents"]}
    # The default out, videos/, is relative to the block's base URL as it would be to a working directory.
    assert {f"{prefix}/videos/{item.video_id}.mp4" for item in batch.items} <= keys
    assert all(item.url and item.url.startswith(f"s3://videos/{prefix}/videos/") for item in batch.items)


@pytest.mark.parametrize(
    "options",
    [
        {"key": "x", "secret": CANARY},
        {"client_kwargs": {"endpoint_url": "http://127.0.0.1:9", "aws_secret_access_key": CANARY}},
    ],
)
def test_secrets_in_plain_storage_options_are_refused_before_any_request_naming_the_block(
    sora_emulator: Emulator, credentials: SoraCredentials, tmp_path: Any, options: dict[str, Any]
) -> None:
    with pytest.raises(InvalidParameter) as refused:
        asyncio.run(text_to_video("A kite", out=f"{tmp_path}/", storage_options=options, credentials=credentials))

    assert refused.value.param == "storage_options"
    assert "SoraStorage" in str(refused.value) and "storage=" in str(refused.value)
    assert CANARY not in str(refused.value)
    assert sora_emulator.stats()["requests_total"] == 0
    assert list(tmp_path.iterdir()) == []


def test_secrets_in_the_image_storage_options_are_refused_before_the_image_is_read(
    sora_emulator: Emulator, credentials: SoraCredentials, tmp_path: Any
) -> None:
    from prefect_sora.flows import image_to_video

    with pytest.raises(InvalidParameter) as refused:
        asyncio.run(
            image_to_video(
                "A kite",
                "s3://videos/never-read.png",
                out=f"{tmp_path}/",
                image_storage_options={"key": "x", "secret": CANARY},
                credentials=credentials,
            )
        )

    assert refused.value.param == "image_storage_options" and "environment" in str(refused.value)
    assert CANARY not in str(refused.value)
    assert sora_emulator.stats()["requests_total"] == 0


def test_non_secret_plain_options_still_work_and_lay_over_the_blocks(
    sora_emulator: Emulator, credentials: SoraCredentials
) -> None:
    base = f"memory://plain-{uuid.uuid4().hex[:8]}/"

    result = asyncio.run(
        text_to_video("A kite", storage=SoraStorage(base_url=base), storage_options={}, credentials=credentials)
    )

    assert result.ok and result.url is not None and result.url.startswith(base.replace("://", ":///"))


def test_a_saved_name_that_does_not_exist_and_an_out_outside_the_base_are_refused_before_any_request(
    sora_emulator: Emulator, credentials: SoraCredentials
) -> None:
    with pytest.raises(InvalidParameter) as missing:
        asyncio.run(text_to_video("A kite", storage=f"nope-{uuid.uuid4().hex[:8]}", credentials=credentials))
    with pytest.raises(InvalidParameter) as outside:
        asyncio.run(remix_video("video_1", "x", out="s3://elsewhere/", storage=SoraStorage(base_url="memory://in/")))

    assert (missing.value.param, outside.value.param) == ("storage", "out")
    assert sora_emulator.stats()["requests_total"] == 0


def test_a_sharded_batch_refuses_an_unsaved_block_since_its_secrets_would_travel_in_parameters(
    sora_emulator: Emulator, credentials: SoraCredentials
) -> None:
    unsaved = SoraStorage(base_url="memory://shards/", storage_options={"secret": CANARY})

    with pytest.raises(InvalidParameter) as refused:
        asyncio.run(
            batch_text_to_video(
                [VideoRequest(prompt="a"), VideoRequest(prompt="b")],
                storage=unsaved,
                credentials="any-saved-name",
                shards=2,
            )
        )

    assert refused.value.param == "storage" and "saved block's name" in str(refused.value)
    assert CANARY not in str(refused.value)
    assert sora_emulator.stats()["requests_total"] == 0
