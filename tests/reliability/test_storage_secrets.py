"""A storage secret kept in a SoraStorage block never reaches the Prefect database, logs, artifacts or events.

The database canary test of the API key (test_secrets.py), for the S3 secret: flows
store to a moto S3 through a saved block (by name), an unsaved block passed as a
parameter, a batch with a failing item, and the block as the runs' result storage;
then every byte the session's Prefect server keeps is searched for the secret.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import boto3
import pytest

from prefect_sora.emulator import Emulator

pytestmark = pytest.mark.slow

CANARY = f"s3-secret-LEAKCHECK-{uuid.uuid4().hex}"

FLOWS = textwrap.dedent(
    """
    import asyncio, os, sys
    from prefect_sora.blocks import SoraCredentials, SoraStorage
    from prefect_sora._errors import BatchIncomplete
    from prefect_sora.flows import batch_text_to_video, text_to_video
    from prefect_sora._models import VideoRequest

    base_url, endpoint, prefix = sys.argv[1:4]
    options = {"key": "x", "secret": os.environ["STORAGE_SECRET"]}  # moto takes any secret
    public = {"client_kwargs": {"endpoint_url": endpoint, "region_name": "us-east-1"}}
    SoraCredentials(api_key="sk-storage-check", base_url=base_url).save("storage-check-sora", overwrite=True)
    SoraStorage(base_url=f"s3://videos/{prefix}/", storage_options=options, public_options=public).save(
        "storage-check", overwrite=True
    )
    # The runs' results (PREFECT_DEFAULT_RESULT_STORAGE_BLOCK) go to S3 through the block as well.
    SoraStorage(base_url=f"s3://videos/{prefix}/results/", storage_options=options, public_options=public).save(
        "storage-check-results", overwrite=True
    )
    asyncio.run(text_to_video("storage canary, saved block", credentials="storage-check-sora",
                              storage="storage-check", out="single/"))
    as_object = SoraStorage(base_url=f"s3://videos/{prefix}/", storage_options=options, public_options=public)
    asyncio.run(text_to_video("storage canary, block object", credentials="storage-check-sora", storage=as_object))
    try:
        asyncio.run(batch_text_to_video(
            [VideoRequest(prompt="fine"), VideoRequest(prompt="doomed [emulator:fail=moderation_blocked]")],
            credentials="storage-check-sora", storage="storage-check", out="batch/",
        ))
    except BatchIncomplete as exc:
        print("incomplete as expected:", exc)
    """
)


def occurrences(root: Path, text: str) -> list[str]:
    """Files under ``root`` whose bytes contain ``text`` (SQLite WAL files included)."""
    needle = text.encode()
    return [str(p) for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_an_s3_secret_in_a_storage_block_appears_nowhere_in_prefects_keeping(
    tmp_path: Path, prefect_server_process: dict[str, str], sora_emulator: Emulator, s3_endpoint: str
) -> None:
    prefix = f"canary-{uuid.uuid4().hex[:8]}"
    script = tmp_path / "flows.py"
    script.write_text(FLOWS)
    env = {
        **os.environ,
        **prefect_server_process,
        "STORAGE_SECRET": CANARY,
        "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
        "PREFECT_DEFAULT_RESULT_STORAGE_BLOCK": "sora-storage/storage-check-results",
        "PREFECT_LOGGING_LEVEL": "DEBUG",
    }

    done = subprocess.run(
        [sys.executable, str(script), sora_emulator.base_url, s3_endpoint, prefix],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )

    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "incomplete as expected" in output
    s3 = boto3.client(
        "s3", endpoint_url=s3_endpoint, aws_access_key_id="x", aws_secret_access_key="y", region_name="us-east-1"
    )
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket="videos", Prefix=prefix).get("Contents", [])]
    # Every path above really wrote through the block: three videos, and the runs' results.
    assert len([key for key in keys if key.endswith(".mp4")]) == 3
    assert {key.split("/")[1] for key in keys if key.endswith(".mp4")} == {"single", "videos", "batch"}
    assert any(key.startswith(f"{prefix}/results/") for key in keys)
    assert sora_emulator.stats()["creates"] == 4

    assert CANARY not in output
    home = Path(prefect_server_process["PREFECT_HOME"])
    # The search looks where the runs went: their prompts are in there.
    assert occurrences(home, "storage canary, block object") and occurrences(home, "storage canary, saved block")
    assert occurrences(home, CANARY) == []  # database (parameters, states, logs, artifacts, events), results
    assert occurrences(tmp_path, CANARY) == []  # the script reads it from its environment
