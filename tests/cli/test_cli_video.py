"""``prefect-sora status | wait | list``: one video by id, or a page of them, against the real emulator.

Jobs are made with plain HTTP (not the code under test) and read back through
the command in-process; every failure ends as one line on stderr, nothing on
stdout, and its own exit code.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from typer.testing import Result

from prefect_sora.blocks import SoraCredentials
from prefect_sora.emulator import Emulator

Run = Callable[..., Result]


def create(emulator: Emulator, prompt: str = "A koi pond", **fields: str) -> str:
    """A job made over plain HTTP, so the command under test only ever reads it."""
    body = {"model": "sora-2", "prompt": prompt, "seconds": "8", "size": "1280x720", **fields}
    answer = httpx.post(f"{emulator.base_url}/videos", json=body, headers={"Authorization": "Bearer sk-maker"})
    answer.raise_for_status()
    return str(answer.json()["id"])


def finished(emulator: Emulator, video_id: str) -> None:
    """Block until the emulator's plan for the job has ended (no CLI involved)."""
    deadline = time.monotonic() + 30
    while (plan := emulator.plan(video_id))["now"] < plan["ends_at"]:
        assert time.monotonic() < deadline, "the emulated job never ended"
        time.sleep(0.05)


@pytest.fixture
def env(sora_emulator: Emulator, api_key: str) -> dict[str, str]:
    return {"SORA_API_KEY": api_key, "SORA_BASE_URL": sora_emulator.base_url}


def one_line_failure(result: Result, code: int, *words: str) -> None:
    """Exit ``code``; stdout empty; stderr one line naming ``words``; no traceback."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    for word in words:
        assert word in result.stderr, (word, result.stderr)
    assert "Traceback" not in result.stderr


# -- status -------------------------------------------------------------------------------


def test_status_of_a_completed_video_shows_what_it_is_and_what_it_cost(
    run: Run, sora_emulator: Emulator, env: dict[str, str], api_key: str
) -> None:
    video_id = create(sora_emulator)
    finished(sora_emulator, video_id)

    text = run("status", video_id, env=env)
    as_json = run("status", video_id, "--json", env=env)

    assert text.exit_code == 0, text.output
    lines = dict(line.split(None, 1) for line in text.stdout.splitlines())
    assert lines["video"] == video_id
    assert lines["status"] == "completed (100%)"
    assert (lines["model"], lines["size"], lines["seconds"]) == ("sora-2", "1280x720", "8")
    assert lines["cost"] == "$0.80 (billed)"
    assert lines["expires"].endswith("in 60 min"), lines["expires"]
    video = json.loads(as_json.stdout)
    assert video["id"] == video_id and video["status"] == "completed"
    assert (video["estimated_usd"], video["actual_usd"]) == ("0.80", "0.80")
    assert video["expires_at"] - video["completed_at"] == 3600
    assert api_key not in text.output + as_json.output


def test_status_of_a_running_job_prices_it_without_billing_it(
    run: Run, sora_emulator: Emulator, env: dict[str, str]
) -> None:
    video_id = create(sora_emulator, "A slow pan [emulator:stuck]", model="sora-2-pro", size="1792x1024")

    result = run("status", video_id, "--json", env=env)

    assert result.exit_code == 0, result.output
    video = json.loads(result.stdout)
    assert video["status"] in ("queued", "in_progress")
    assert (video["estimated_usd"], video["actual_usd"]) == ("4.00", None)
    assert "$4.00 once it completes" in run("status", video_id, env=env).stdout


def test_status_of_a_failed_job_reports_it_not_billed_with_exit_0(
    run: Run, sora_emulator: Emulator, env: dict[str, str]
) -> None:
    video_id = create(sora_emulator, "A storm [emulator:fail=moderation_blocked]")
    finished(sora_emulator, video_id)

    result = run("status", video_id, env=env)

    assert result.exit_code == 0, result.output
    assert "status     failed" in result.stdout
    assert "cost       $0 (not billed)" in result.stdout
    assert "moderation_blocked" in result.stdout


def test_status_keeps_the_id_it_was_given_when_the_gateway_echoes_another(
    run: Run, sora_emulator: Emulator, env: dict[str, str]
) -> None:
    sora_emulator.configure(echo_id="reencoded")
    video_id = create(sora_emulator)

    video = json.loads(run("status", video_id, "--json", env=env).stdout)

    assert video["id"] == video_id
    assert video["echoed_id"] != video_id


def test_status_of_an_unknown_id_exits_5_in_one_line(run: Run, env: dict[str, str], api_key: str) -> None:
    result = run("status", "video_0000000000000000", env=env)

    one_line_failure(result, 5, "No such video", "video_0000000000000000", "404")
    assert api_key not in result.output


def test_no_credentials_exits_2_naming_the_block_and_the_variables(run: Run) -> None:
    result = run("status", "video_0000000000000000")

    one_line_failure(result, 2, "--block", "SORA_API_KEY", "SORA_BASE_URL")


def test_a_saved_block_is_used_by_name_and_its_key_never_printed(
    run: Run, sora_emulator: Emulator, api_key: str
) -> None:
    SoraCredentials(api_key=api_key, base_url=sora_emulator.base_url).save("cli-video-block", overwrite=True)
    video_id = create(sora_emulator)

    result = run("status", video_id, "--block", "cli-video-block", "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["id"] == video_id
    assert sora_emulator.stats()["requests_by_key"], "the block's key reached the emulator"
    assert api_key not in result.output


# -- wait ---------------------------------------------------------------------------------


def test_wait_returns_the_completed_video_polling_on_a_schedule_not_a_spin(
    run: Run, sora_emulator: Emulator, env: dict[str, str]
) -> None:
    video_id = create(sora_emulator, "A heron [emulator:seconds=1.5]")

    started = time.monotonic()
    result = run("wait", video_id, "--json", env=env)

    assert result.exit_code == 0, result.output
    video = json.loads(result.stdout)
    assert video["id"] == video_id and video["status"] == "completed" and video["actual_usd"] == "0.80"
    assert 1.0 < time.monotonic() - started < 20
    assert 2 <= sora_emulator.stats()["polls"][video_id] <= 40


def test_wait_on_a_failed_job_exits_7_with_its_reason(run: Run, sora_emulator: Emulator, env: dict[str, str]) -> None:
    video_id = create(sora_emulator, "A storm [emulator:fail=moderation_blocked]")

    result = run("wait", video_id, "--json", env=env)

    one_line_failure(result, 7, "Job failed", "moderation_blocked", video_id)


def test_wait_on_a_cancelled_job_exits_7_saying_cancelled(
    run: Run, sora_emulator: Emulator, env: dict[str, str]
) -> None:
    video_id = create(sora_emulator, "A storm [emulator:end=cancelled]")

    one_line_failure(run("wait", video_id, env=env), 7, "Cancelled", video_id)


def test_wait_on_an_expired_job_exits_6(run: Run, sora_emulator: Emulator, env: dict[str, str]) -> None:
    video_id = create(sora_emulator, "Old news [emulator:end=expired]")

    one_line_failure(run("wait", video_id, env=env), 6, "Expired", video_id)


def test_wait_past_its_timeout_exits_4_saying_how_to_resume(
    run: Run, sora_emulator: Emulator, env: dict[str, str]
) -> None:
    video_id = create(sora_emulator, "Forever [emulator:stuck]")

    started = time.monotonic()
    result = run("wait", video_id, "--timeout", "1", env=env)

    one_line_failure(result, 4, "WaitTimeout", video_id, "resume")
    assert time.monotonic() - started < 15


def test_wait_on_an_unknown_id_exits_5(run: Run, env: dict[str, str]) -> None:
    one_line_failure(run("wait", "video_0000000000000000", env=env), 5, "No such video")


# -- list ---------------------------------------------------------------------------------


def test_list_pages_through_every_job_newest_first(run: Run, sora_emulator: Emulator, env: dict[str, str]) -> None:
    made = [create(sora_emulator, f"Clip {number}") for number in range(3)]

    first = json.loads(run("list", "--limit", "2", "--json", env=env).stdout)
    second = json.loads(run("list", "--limit", "2", "--after", first["last_id"], "--json", env=env).stdout)
    oldest = json.loads(run("list", "--limit", "1", "--order", "asc", "--json", env=env).stdout)
    text = run("list", "--limit", "2", env=env)

    assert [video["id"] for video in first["data"]] == made[:0:-1] and first["has_more"] is True
    assert [video["id"] for video in second["data"]] == made[:1] and second["has_more"] is False
    assert [video["id"] for video in oldest["data"]] == made[:1]
    assert text.exit_code == 0
    assert f"2 videos; next page: --after {made[1]}" in text.stdout
    assert all(f"{video_id}  " in text.stdout for video_id in made[1:]), "ids are printed whole, never folded"


def test_list_with_a_cursor_the_gateway_does_not_know_exits_2(run: Run, env: dict[str, str]) -> None:
    one_line_failure(run("list", "--after", "video_0000000000000000", env=env), 2, "Invalid input", "after")


def test_list_refuses_a_bad_order_before_any_request(run: Run, sora_emulator: Emulator, env: dict[str, str]) -> None:
    one_line_failure(run("list", "--order", "sideways", env=env), 2, "--order")
    assert sora_emulator.stats()["requests_total"] == 0


class _NoListing(BaseHTTPRequestHandler):
    """LiteLLM's proxy as far as listing goes: GET /v1/videos is a 400 (see issue 15)."""

    def do_GET(self) -> None:
        body = json.dumps({"error": {"message": "Unsupported route", "type": "None", "param": "None", "code": "400"}})
        self.send_response(400)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def no_listing_gateway() -> Iterator[str]:
    """A loopback HTTP server that refuses listing: the emulator cannot be told to, the real proxy does."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NoListing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def test_list_on_a_gateway_that_does_not_serve_listing_says_so_and_exits_4(
    run: Run, no_listing_gateway: str, api_key: str
) -> None:
    result = run("list", "--json", env={"SORA_API_KEY": api_key, "SORA_BASE_URL": no_listing_gateway})

    one_line_failure(result, 4, "does not support listing", "400")
    assert api_key not in result.output
