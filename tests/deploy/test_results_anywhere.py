"""A parent flow on one worker reads the VideoResult of a child run on another worker that shares no folder.

Two ``prefect worker`` processes on two pools, each with its own working directory,
HOME, PREFECT_HOME and local result storage: nothing on one's disk is on the
other's. The parent (the docs' "From another flow" example, on worker A) calls
``run_deployment`` of text_to_video (on worker B), whose deployment names a
SoraStorage block on a moto S3 as its result storage, as prefect.yaml documents;
the parent then prints ``run.state.result()``. Worker B's local result storage is a
tmpfs in a mount namespace of its own (where ``unshare -m`` is allowed), as another
machine's disk would be: without the result storage the same parent fails, the
child's result being on worker B's disk only.
"""

from __future__ import annotations

import copy
import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from deploy_helpers import BIN, Server, prefect
from prefect.settings import PREFECT_API_URL, temporary_settings
from servers import REPOSITORY, create_process_pool, final_flow_run, run_deployment_now, stop_workers

from prefect_sora.blocks import SoraCredentials, SoraStorage
from prefect_sora.emulator import Emulator

pytestmark = pytest.mark.slow

POOL_A, POOL_B = "sora-pool-results-parent", "sora-pool-results-child"
CREDENTIALS = "sora-results-anywhere"
RESULTS = "results-anywhere"
DOCS_DEPLOYMENT = "sora-text-to-video/text-to-video"
#: The docs example's deployment, renamed so as not to replace the one other modules deploy.
SHARED, LOCAL = "results-anywhere", "results-local"


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(job_seconds=0.5, poll_after_ms=20) as running:
        yield running


def docs_example() -> str:
    """The python block of docs/deployments.md's "From another flow"."""
    text = (REPOSITORY / "docs" / "deployments.md").read_text()
    _, after = text.split("Call a deployment with parameters and wait for its result:", 1)
    block = re.search(r"```python\n(.*?)```", after, re.DOTALL)
    assert block is not None and DOCS_DEPLOYMENT in block[1]
    return block[1]


def parent_module() -> str:
    """The docs' example twice: calling the child that keeps its results on S3, and one that keeps them on disk."""
    example = docs_example()
    shared = example.replace(DOCS_DEPLOYMENT, f"sora-text-to-video/{SHARED}")
    local = example.replace(DOCS_DEPLOYMENT, f"sora-text-to-video/{LOCAL}").split("\n\n\n", 1)[1]
    return f"{shared}\n\n{local.replace('def weekly_trailers(', 'def weekly_trailers_local(')}"


def project_spec(results_block: str) -> dict[str, Any]:
    """The repository's text-to-video deployment on pool B (with and without the result storage), the parent on A."""
    spec = yaml.safe_load((REPOSITORY / "prefect.yaml").read_text())
    # prefect.yaml documents the setting on its pool's job variables; this test sets it as told there.
    assert "# PREFECT_DEFAULT_RESULT_STORAGE_BLOCK: sora-storage/" in (REPOSITORY / "prefect.yaml").read_text()
    (child,) = (copy.deepcopy(d) for d in spec["deployments"] if d["name"] == "text-to-video")
    child["parameters"]["credentials"] = CREDENTIALS
    child["work_pool"]["name"] = POOL_B
    shared = copy.deepcopy(child)
    shared["name"] = SHARED
    env = shared["work_pool"]["job_variables"]["env"]
    env["PREFECT_DEFAULT_RESULT_STORAGE_BLOCK"] = f"sora-storage/{results_block}"
    local = copy.deepcopy(child)
    local["name"] = LOCAL
    parent_pool = {"name": POOL_A, "work_queue_name": "default", "job_variables": {"working_dir": "."}}
    parents = [
        {"name": "weekly", "entrypoint": "parent.py:weekly_trailers", "work_pool": parent_pool},
        {"name": "weekly-local", "entrypoint": "parent.py:weekly_trailers_local", "work_pool": parent_pool},
    ]
    return {**{k: spec[k] for k in ("name", "build", "push", "pull")}, "deployments": [shared, local, *parents]}


def isolated(root: Path, server: Server) -> tuple[Path, dict[str, str]]:
    """A machine of its own: working directory, HOME, PREFECT_HOME and local result storage under ``root``."""
    work = root / "work"
    for folder in ("work", "home", "prefect-home", "storage"):
        (root / folder).mkdir(parents=True)
    env = {
        **server.env,
        "HOME": str(root / "home"),
        "PREFECT_HOME": str(root / "prefect-home"),
        "PREFECT_LOCAL_STORAGE_PATH": str(root / "storage"),
    }
    env.pop("PREFECT_RESULTS_LOCAL_STORAGE_PATH", None)
    return work, env


@pytest.fixture(scope="module")
def server(prefect_server_process: dict[str, str]) -> Server:
    env = prefect_server_process
    return Server(api_url=env["PREFECT_API_URL"], home=Path(env["PREFECT_HOME"]), env=env)


@pytest.fixture(scope="module")
def machines(
    server: Server, emulator: Emulator, s3_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """The blocks saved, the four deployments made, and workers A (parents) and B (children) running."""
    prefix = f"results-{uuid.uuid4().hex[:8]}"
    with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
        SoraCredentials(api_key="sk-results-anywhere", base_url=emulator.base_url).save(CREDENTIALS, overwrite=True)
        SoraStorage(
            base_url=f"s3://videos/{prefix}/",
            storage_options={"key": "x", "secret": "y"},
            public_options={"client_kwargs": {"endpoint_url": s3_endpoint, "region_name": "us-east-1"}},
        ).save(RESULTS, overwrite=True)
    project = tmp_path_factory.mktemp("results-project")
    (project / "prefect.yaml").write_text(yaml.safe_dump(project_spec(RESULTS)))
    (project / "parent.py").write_text(parent_module())
    for pool in (POOL_A, POOL_B):
        create_process_pool(server.api_url, pool)
    prefect("--no-prompt", "deploy", "--all", server=server, cwd=project, timeout=180)

    started: dict[str, Any] = {"prefix": prefix, "private": private_mounts()}
    for name, pool in (("a", POOL_A), ("b", POOL_B)):
        root = tmp_path_factory.mktemp(f"machine-{name}")
        work, env = isolated(root, server)
        if name == "a":
            (work / "parent.py").write_text(parent_module())  # the parent's code is on machine A only
        log = root / "worker.log"
        with log.open("w") as handle:
            process = subprocess.Popen(
                worker_command(pool, name, root / "storage", private=started["private"] and name == "b"),
                cwd=work,
                env=env,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started[name] = {"process": process, "root": root, "work": work, "log": log}
    yield started
    stop_workers(started["a"]["process"], started["b"]["process"])


def run_to_the_end(server: Server, deployment: str, machines: dict[str, Any]) -> dict[str, Any]:
    """Start a run of ``deployment`` and wait until it is final; return it."""
    run_id = run_deployment_now(server.api_url, deployment)

    def workers_alive() -> None:
        for name in ("a", "b"):
            assert machines[name]["process"].poll() is None, machines[name]["log"].read_text()[-3000:]

    try:
        return final_flow_run(server.api_url, run_id, 240, meanwhile=workers_alive)
    except AssertionError as never:
        raise AssertionError(f"{never}: {machines['a']['log'].read_text()[-3000:]}") from None


def children_of(server: Server, parent: dict[str, Any]) -> list[dict[str, Any]]:
    tasks = server.post("/task_runs/filter", {"flow_runs": {"id": {"any_": [parent["id"]]}}})
    ids = [task["id"] for task in tasks]
    found = server.post("/flow_runs/filter", {"flow_runs": {"parent_task_run_id": {"any_": ids}}}) if ids else []
    return list(found)


def private_mounts() -> bool:
    """Whether this machine lets a process have mounts of its own (``unshare -m``: root, or a permissive sandbox)."""
    try:
        done = subprocess.run(["unshare", "-m", "--propagation", "private", "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def worker_command(pool: str, name: str, storage: Path, *, private: bool) -> list[str]:
    """``prefect worker start``; with ``private``, its local result storage a tmpfs no other process sees."""
    command = [str(BIN / "prefect"), "worker", "start", "--pool", pool, "--name", f"results-{name}"]
    if not private:
        return command
    script = 'mount -t tmpfs tmpfs "$0" && exec "$@"'
    return ["unshare", "-m", "--propagation", "private", "sh", "-c", script, str(storage), *command]


def files_under(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()]


def storage_of_b(machines: dict[str, Any]) -> Path:
    """Machine B's local result storage as machine B sees it (through its process's root when it has its own mounts)."""
    storage: Path = machines["b"]["root"] / "storage"
    if machines["private"]:
        return Path(f"/proc/{machines['b']['process'].pid}/root") / storage.relative_to("/")
    return storage


def test_a_parent_on_worker_a_reads_the_video_result_of_a_child_run_on_worker_b_through_s3(
    server: Server, machines: dict[str, Any], emulator: Emulator, s3_endpoint: str
) -> None:
    creates = emulator.stats()["creates"]

    parent = run_to_the_end(server, "weekly-trailers/weekly", machines)

    log_a = machines["a"]["log"].read_text()
    assert parent["state"]["type"] == "COMPLETED", (parent["state"], log_a[-3000:])
    (child,) = children_of(server, parent)
    assert child["state"]["type"] == "COMPLETED"
    assert child["work_pool_name"] == POOL_B and parent["work_pool_name"] == POOL_A
    # print(run.state.name, run.state.result()) on machine A: the child's VideoResult, read from S3.
    printed = re.search(r"^Completed (index=0 .*)$", log_a, re.MULTILINE)
    assert printed is not None, log_a[-3000:]
    assert "status='stored'" in printed[1] and "seconds='12'" in printed[1]
    assert "actual_usd=Decimal('1.20')" in printed[1]
    url = re.search(r"url='file://([^']+)'", printed[1])
    assert url is not None
    # The video itself stayed where the child ran: machine B's working directory.
    assert Path(url[1]).parent == machines["b"]["work"].resolve() / "videos"
    assert Path(url[1]).is_file()
    assert emulator.stats()["creates"] == creates + 1
    # The child's results went to S3 through the block, none to machine B's disk.
    s3 = boto3.client(
        "s3", endpoint_url=s3_endpoint, aws_access_key_id="x", aws_secret_access_key="y", region_name="us-east-1"
    )
    listed = s3.list_objects_v2(Bucket="videos", Prefix=f"{machines['prefix']}/")
    assert listed.get("KeyCount", 0) >= 1
    assert files_under(storage_of_b(machines)) == []


def test_without_a_shared_result_storage_the_same_parent_cannot_read_the_childs_result(
    server: Server, machines: dict[str, Any]
) -> None:
    if not machines["private"]:
        pytest.skip("no mount namespaces here (unshare -m): machine B's disk would be machine A's too")

    parent = run_to_the_end(server, "weekly-trailers-local/weekly-local", machines)

    (child,) = children_of(server, parent)
    assert child["state"]["type"] == "COMPLETED"
    # The result is on machine B's disk, which machine A cannot see: the parent fails reading it.
    assert files_under(storage_of_b(machines)) != []
    assert files_under(machines["b"]["root"] / "storage") == []  # as every other machine sees that folder
    assert parent["state"]["type"] == "FAILED", parent["state"]
    # It failed reading the result file at machine B's path, not for another reason.
    message = parent["state"]["message"]
    assert f"{machines['b']['root'] / 'storage'}/" in message and "does not exist" in message, message
