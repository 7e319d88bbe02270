"""A server-issued id cannot steer a download outside its destination, nor into a URL path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from prefect_sora._durable.storage import file_name, resolve_destination
from prefect_sora._errors import InvalidParameter, UnexpectedResponse
from prefect_sora._validation import check_video_id

HOSTILE_IDS = [
    "../../etc/passwd",
    "..",
    ".",
    "/etc/passwd",
    "video/../../x",
    "..\\..\\windows\\system32",
    "C:\\temp\\x",
    "video_1/",
    "~/.ssh/id_rsa",
    "video%2F..%2F..",
    "",
    "video_1\x00.mp4",
    "vidéo",
]


@pytest.mark.parametrize("video_id", HOSTILE_IDS)
@pytest.mark.parametrize("variant", ["video", "thumbnail", "spritesheet"])
def test_a_hostile_id_yields_a_plain_file_name_inside_the_folder(tmp_path: Path, video_id: str, variant: str) -> None:
    name = file_name(video_id, variant, "video/mp4" if variant == "video" else "image/webp")  # type: ignore[arg-type]

    assert "/" not in name and "\\" not in name and "\x00" not in name
    assert not name.startswith(".")  # not hidden, not "..", not mistaken for a partial
    _, path = resolve_destination(f"{tmp_path}/", name)
    assert os.path.dirname(path) == str(tmp_path)


def test_the_file_name_follows_the_id_and_the_variant() -> None:
    assert file_name("video_123", "video", "video/mp4") == "video_123.mp4"
    assert file_name("video_123", "thumbnail", "image/webp") == "video_123.thumbnail.webp"
    assert file_name("video_123", "spritesheet", "image/jpeg") == "video_123.spritesheet.jpg"
    # An unexpected type keeps the variant's usual extension rather than inventing one.
    assert file_name("video_123", "thumbnail", "application/octet-stream") == "video_123.thumbnail.webp"


def test_a_folder_destination_gets_the_name_and_a_file_destination_is_kept(tmp_path: Path) -> None:
    (tmp_path / "existing").mkdir()

    _, into_slash = resolve_destination(f"{tmp_path}/new/", "video_1.mp4")
    _, into_dir = resolve_destination(str(tmp_path / "existing"), "video_1.mp4")
    _, as_file = resolve_destination(str(tmp_path / "clip.mp4"), "video_1.mp4")

    assert into_slash == f"{tmp_path}/new/video_1.mp4"
    assert into_dir == f"{tmp_path}/existing/video_1.mp4"
    assert as_file == f"{tmp_path}/clip.mp4"


@pytest.mark.parametrize("video_id", ["", ".", "..", " . ", "video_1\x00.mp4", "line\nbreak", "x" * 1025, None, 42])
def test_check_video_id_refuses_what_no_server_issues_as_an_id(video_id: object) -> None:
    with pytest.raises(InvalidParameter) as caught:
        check_video_id(video_id)
    assert caught.value.param == "video_id"

    with pytest.raises(UnexpectedResponse, match="unsafe video id"):
        check_video_id(video_id, from_server=True)


LITELLM_ID = "bGl0ZWxsbTpjdXN0b21fbGxtX3Byb3ZpZGVyOm9wZW5haTttb2RlbF9pZDpzb3JhLTI7dmlkZW9faWQ6dmlkZW9fMTIz/+=="


@pytest.mark.parametrize(
    "video_id",
    ["video_68d7512d07848190b3e45da0ecbebcde", "vid-1.2:3", "a..b", LITELLM_ID, "../../etc/passwd", "a b", "a?x=1#f"],
)
def test_any_id_a_server_issues_is_accepted_and_stays_one_path_segment(video_id: str) -> None:
    from urllib.parse import unquote

    import httpx

    from prefect_sora._validation import id_segment

    assert check_video_id(video_id) == video_id
    segment = id_segment(video_id)
    url = httpx.URL(f"https://gateway.example/v1/videos/{segment}/content")

    assert url.raw_path.decode().split("?")[0].split("/") == ["", "v1", "videos", segment, "content"]
    assert url.query == b""
    assert unquote(segment) == video_id


def test_a_readable_id_is_its_own_file_name_and_any_other_gets_a_hash_that_keeps_ids_apart() -> None:
    assert file_name("video_123", "video", "video/mp4") == "video_123.mp4"
    names = {file_name(video_id, "video", "video/mp4") for video_id in ("a/b", "a+b", "a_b", "a:b", "a.b", "a b")}

    assert len(names) == 6  # "a_b" as it is; the five others each with their own hash
    assert "a_b.mp4" in names
    long = file_name(LITELLM_ID, "video", "video/mp4")
    assert long.startswith("bGl0ZWxsbTpjdXN0b21fbGxt") and len(long) < 100
    assert "/" not in long and "+" not in long and "=" not in long
