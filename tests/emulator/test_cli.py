"""The emulator as users start it: the CLI command, `python -m`, and the pytest plugin."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest
from emulator_helpers import AUTH
from servers import free_port, wait_for

BIN = Path(sys.executable).parent


def start(command: list[str]) -> tuple[subprocess.Popen[str], str]:
    """Start an emulator process and read the base URL it prints, within 30 s."""
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=Path(__file__).parent
    )
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + 30
    lines: list[str] = []
    while time.monotonic() < deadline and process.poll() is None:
        if selector.select(timeout=0.1):
            line = process.stdout.readline()
            lines.append(line)
            if "http://" in line:
                words = line.split()
                return process, next(word for word in words if word.startswith("http://"))
    process.kill()
    raise AssertionError(f"the emulator did not announce its URL: {''.join(lines)!r}")


def interrupt(process: subprocess.Popen[str]) -> int:
    """Ctrl-C the process and return its exit code."""
    process.send_signal(signal.SIGINT)
    try:
        return process.wait(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()


def round_trip(base_url: str, *, headers: dict[str, str]) -> float:
    """Create a job, wait for completion; the seconds between created and completed."""
    with httpx.Client(base_url=base_url, headers=headers, timeout=10) as api:
        video = api.post("/videos", json={"model": "sora-2", "prompt": "cli fox"}).json()
        plan = httpx.get(base_url.removesuffix("/v1") + f"/_emulator/videos/{video['id']}").json()

        def completed() -> bool:
            return bool(api.get(f"/videos/{video['id']}").json()["status"] == "completed")

        wait_for(completed, 10, "the job completed", every=0.05)
        return float(plan["completed_at"] - plan["created_at"])


def test_prefect_sora_emulator_command_serves_until_ctrl_c() -> None:
    port = free_port()
    process, base_url = start(
        [str(BIN / "prefect-sora"), "emulator", "--port", str(port), "--job-seconds", "1", "--api-key", "sk-cli"]
    )
    try:
        assert base_url == f"http://127.0.0.1:{port}/v1"
        assert httpx.get(f"{base_url}/videos", headers=AUTH).status_code == 401, "--api-key restricts the bearer"
        elapsed = round_trip(base_url, headers={"Authorization": "Bearer sk-cli"})
        assert elapsed == pytest.approx(1.0, abs=1e-6)
    finally:
        code = interrupt(process)
    assert code == 0


def test_python_dash_m_entry_point_takes_every_scalar_config_field() -> None:
    process, base_url = start(
        [sys.executable, "-m", "prefect_sora.emulator", "--port", "0", "--job-seconds", "0.3", "--poll-after-ms", "15"]
    )
    try:
        assert round_trip(base_url, headers=AUTH) == pytest.approx(0.3, abs=1e-6)
        config = httpx.get(base_url.removesuffix("/v1") + "/_emulator/config").json()
        assert config["poll_after_ms"] == 15
    finally:
        code = interrupt(process)
    assert code == 0


def test_cli_takes_profile_limits_and_deviations() -> None:
    command = [str(BIN / "prefect-sora"), "emulator", "--port", "0", "--job-seconds", "0.2", "--profile", "azure"]
    command += ["--rpm", "120", "--deployment", "eu-video=sora-2", "--status-alias", "queued=pending"]
    command += ["--null-field", "quality", "--omit-field", "prompt", "--no-retry-after-headers"]
    process, base_url = start(command)
    try:
        assert base_url.endswith("/openai/v1")
        config = httpx.get(base_url.removesuffix("/openai/v1") + "/_emulator/config").json()
        assert (config["profile"], config["rpm"], config["max_running_jobs"]) == ("azure", 120, 2)
        assert config["content_ttl_seconds"] == 86400, "left out, so the profile's default"
        assert config["deployments"] == {"eu-video": "sora-2"} and config["retry_after_headers"] is False
        video = httpx.post(
            f"{base_url}/videos", json={"model": "eu-video", "prompt": "p"}, headers={"api-key": "k"}
        ).json()
        assert (video["status"], video["quality"], "prompt" in video) == ("pending", None, False)
    finally:
        code = interrupt(process)
    assert code == 0


def test_python_dash_m_takes_choices_and_switches() -> None:
    command = [sys.executable, "-m", "prefect_sora.emulator", "--port", "0", "--profile", "litellm"]
    process, base_url = start([*command, "--timestamp-format", "iso", "--no-retry-after-headers", "--rpm", "30"])
    try:
        config = httpx.get(base_url.removesuffix("/v1") + "/_emulator/config").json()
        assert (config["profile"], config["timestamp_format"], config["rpm"]) == ("litellm", "iso", 30)
        assert config["retry_after_headers"] is False
    finally:
        code = interrupt(process)
    assert code == 0


def test_importing_the_emulator_does_not_import_prefect() -> None:
    code = (
        "import sys\n"
        "import prefect_sora.emulator, prefect_sora.emulator._server, prefect_sora.emulator.__main__\n"
        "import prefect_sora.emulator.pytest_plugin\n"
        "from prefect_sora.emulator import Emulator\n"
        "with Emulator(job_seconds=0.1) as emu: pass\n"
        "assert not any(name == 'prefect' or name.startswith('prefect.') for name in sys.modules), 'prefect imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_pytest_plugin_gives_users_a_fresh_emulator_per_test(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["prefect_sora.emulator.pytest_plugin"]\n')
    (tmp_path / "test_user.py").write_text(
        textwrap.dedent(
            """
            import httpx
            import pytest
            from prefect_sora.emulator import EmulatorConfig

            AUTH = {"Authorization": "Bearer sk-user"}

            def test_first(sora_emulator):
                body = {"model": "sora-2", "prompt": "a"}
                r = httpx.post(f"{sora_emulator.base_url}/videos", json=body, headers=AUTH)
                assert r.status_code == 200
                assert sora_emulator.stats()["creates"] == 1
                assert sora_emulator.config.job_seconds == 0.2

            def test_second_starts_clean(sora_emulator):
                assert sora_emulator.stats()["creates"] == 0

            class TestOverride:
                @pytest.fixture
                def sora_emulator_config(self):
                    return EmulatorConfig(job_seconds=0.05, failure_rate=1.0)

                def test_override(self, sora_emulator):
                    assert sora_emulator.config.failure_rate == 1.0
            """
        )
    )
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout


def test_without_pillow_everything_works_and_images_are_png() -> None:
    code = textwrap.dedent(
        r"""
        import sys
        sys.modules["PIL"] = None  # import PIL now raises ImportError, as if not installed
        import struct, time, zlib, httpx
        from prefect_sora.emulator import Emulator

        # The head of a 720x1280 PNG: signature and IHDR are all the size check reads.
        ihdr = b"IHDR" + struct.pack(">IIBBBBB", 720, 1280, 8, 2, 0, 0, 0)
        png = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + ihdr + struct.pack(">I", zlib.crc32(ihdr))
        auth = {"Authorization": "Bearer sk"}
        with Emulator(job_seconds=0.1) as emu, httpx.Client(base_url=emu.base_url, headers=auth) as api:
            files = {"input_reference": ("r.png", png + bytes(64), "image/png")}
            created = api.post("/videos", data={"model": "sora-2", "prompt": "p"}, files=files)
            assert created.status_code == 200, created.text
            video_id = created.json()["id"]
            time.sleep(0.2)
            for variant in ("thumbnail", "spritesheet"):
                r = api.get(f"/videos/{video_id}/content", params={"variant": variant})
                assert r.headers["content-type"] == "image/png", r.headers
                assert r.content[:8] == b"\x89PNG\r\n\x1a\n"
            assert api.get(f"/videos/{video_id}/content").headers["content-type"] == "video/mp4"
        assert "PIL.Image" not in sys.modules
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
