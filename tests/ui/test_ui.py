"""What a Prefect user sees, in a real browser against a real `prefect server`, a worker and the emulator.

The block's catalog card and form, a batch deployment's run form, and a batch
run with one failing item made from that form: the run and the failed item are
not green, the artifacts render and fit a 1600-px screen, and the API key is on
no page. Screenshots of each go to $PREFECT_SORA_SCREENSHOTS (``docs/`` for the
README's).
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from ui_helpers import API_KEY, Screenshots, Stack, submit, visit

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

FAILING = "A forbidden scene [emulator:fail=moderation_blocked]"


def test_the_block_card_shows_its_example_as_written_and_the_form_names_the_https_rule(
    page: Any, stack: Stack, screenshots: Screenshots
) -> None:
    card = visit(page, f"{stack.ui}/blocks/catalog/sora-credentials", expect_text="def generate")

    assert "Sora Credentials" in card
    assert "def generate(prompt: str):" in card and "&gt;" not in card and "&amp;" not in card
    screenshots.take(page, "ui-block-card.png")

    form = visit(page, f"{stack.ui}/blocks/catalog/sora-credentials/create", expect_text="Base URL")

    assert "Use https://" in form and "Allow insecure HTTP" in form, "the field says the rule and the fix"
    assert 'Property is type "None"' not in form.split("Price overrides")[0]
    screenshots.take(page, "ui-block-form.png")


def test_a_block_saved_over_plain_http_from_the_form_fails_its_run_naming_the_field_and_the_fix(
    page: Any, stack: Stack
) -> None:
    # Prefect's block forms save without checking the values; the run that loads it must say what is wrong.
    visit(page, f"{stack.ui}/blocks/catalog/sora-credentials/create", expect_text="Base URL")
    boxes = page.locator("main input:not([type=checkbox]), main textarea")

    def fill() -> None:
        for index, value in enumerate(("over-plain-http", "sk-form-typed", "http://api.example.com/v1")):
            boxes.nth(index).fill(value)

    # The form saved it (read from the API: the UI's toast is gone in seconds, and a loaded run missed it).
    saved = {"block_documents": {"name": {"any_": ["over-plain-http"]}}}
    button = page.get_by_role("button", name="Save")
    found = lambda: stack.post("/block_documents/filter", saved)  # noqa: E731
    submit(page, button, found, "the saved block", sends="/block_documents/", fill=fill)
    deployment = stack.deployment_id("text-to-video")

    run = stack.post(f"/deployments/{deployment}/create_flow_run", {"parameters": {"credentials": "over-plain-http"}})
    final = stack.wait_final(run["id"])

    assert final["state"]["type"] == "FAILED"
    message = final["state"]["message"]
    assert "base_url" in message and "https" in message and "allow_insecure_http" in message, message
    assert "sk-form-typed" not in message


def test_the_batch_run_form_offers_choices_and_a_failing_item_fails_visibly(
    page: Any, stack: Stack, screenshots: Screenshots
) -> None:
    deployment = stack.deployment_id("nightly-batch")
    url = f"{stack.ui}/deployments/deployment/{deployment}/run"
    form = visit(page, url, expect_text="Parameters")
    # The form fills in as the block schemas it needs arrive (slowly on a loaded machine):
    # give it a bounded while to settle before judging what it shows. A form still half
    # drawn after that (a request the busy server did not answer in time) is loaded again,
    # as a user would; a form that is wrong stays wrong however often it is loaded.
    for _ in range(3):
        deadline = time.monotonic() + 30
        while 'Property is type "None"' in form and time.monotonic() < deadline:
            page.wait_for_timeout(500)
            form = str(page.inner_text("body"))
        if 'Property is type "None"' not in form:
            break
        form = visit(page, url, expect_text="Parameters")

    assert 'Property is type "None"' not in form, "optional parameters without a str/None choice"
    page.get_by_role("button", name="Select Size").first.click()
    assert page.get_by_role("option").all_inner_texts() == [
        "720x1280",
        "1280x720",
        "1024x1792",
        "1792x1024",
        "1080x1920",
        "1920x1080",
    ]
    page.keyboard.press("Escape")
    assert page.get_by_role("button", name="Select Model").count() == 2  # one per batch item
    screenshots.take(page, "ui-batch-run-form.png")

    # A user makes the first item one the service refuses, and submits the form.
    prompts = page.locator("textarea")
    (first,) = [i for i in range(prompts.count()) if prompts.nth(i).input_value().startswith("Timelapse")]
    prompts.nth(first).fill(FAILING)
    before = {r["id"] for r in stack.flow_runs(deployment)}  # none, unless an earlier attempt of this test made one
    # The form accepted its values and made the run (clicked again only if the server refused
    # the click's request: after mere silence a second click could make a second run).
    made = submit(
        page,
        page.get_by_role("button", name="Submit"),
        lambda: [r for r in stack.flow_runs(deployment) if r["id"] not in before],
        "the run the form made",
        sends="/create_flow_run",
        idempotent=False,
        patience=120,
    )
    (run,) = made
    final = stack.wait_final(run["id"])

    # The run is Failed and says how many of how many were stored; the failed item's task run too.
    assert final["state"]["type"] == "FAILED", final["state"]
    assert "1 of 2 videos stored" in final["state"]["message"]
    tasks = stack.task_runs(run["id"])
    assert (tasks["video-0"]["state"]["type"], tasks["video-1"]["state"]["type"]) == ("FAILED", "COMPLETED")
    assert "moderation" in tasks["video-0"]["state"]["message"]

    text = visit(page, f"{stack.ui}/runs/flow-run/{run['id']}", expect_text="WARNING")  # the item's, in the logs
    assert "Failed" in text and "Item 0: video" in text
    if screenshots:
        page.wait_for_timeout(2500)  # the run graph (a canvas) draws a moment after the page
    screenshots.take(page, "ui-batch-failed-run.png")

    page.get_by_role("tab", name="Task Runs").click()
    page.get_by_text("1 Failed").first.wait_for()
    assert "video-0" in page.inner_text("main")

    task = visit(page, f"{stack.ui}/runs/task-run/{tasks['video-0']['id']}", expect_text="Item 0: video")
    assert "Failed" in task and "moderation" in task and "WARNING" in task
    screenshots.take(page, "ui-failed-task-run.png")

    check_artifacts(page, stack, run["id"], screenshots)


def check_artifacts(page: Any, stack: Stack, flow_run_id: str, screenshots: Screenshots) -> None:
    """The batch's own artifact keys; the cost table fits 1600 px; the summary names the item not stored."""
    artifacts = stack.post("/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [flow_run_id]}}})
    by_key = {artifact["key"]: artifact for artifact in artifacts if artifact["key"]}
    assert set(by_key) == {"sora-batch-costs", "sora-batch-summary", "sora-batch-contact-sheet"}
    (progress,) = [a for a in artifacts if a["type"] == "progress"]
    assert progress["data"] == 100
    links = [a for a in artifacts if a["type"] == "markdown" and not a["key"]]
    assert [a["description"].split(":")[0] for a in links] == ["Item 1"], "one short link title per stored video"
    assert all(len(a["description"]) < 40 for a in links)

    visit(page, f"{stack.ui}/artifacts/artifact/{by_key['sora-batch-costs']['id']}", expect_text="estimated_usd")
    overflow = page.evaluate("() => [...document.querySelectorAll('table')].map(t => t.getBoundingClientRect().right)")
    assert overflow and max(overflow) <= 1600, f"the cost table ends at {overflow} px"
    headers = page.locator("th").all_inner_texts()
    assert headers == list(json.loads(by_key["sora-batch-costs"]["data"])[0]), headers
    screenshots.take(page, "ui-batch-costs.png")

    visit(page, f"{stack.ui}/artifacts/artifact/{by_key['sora-batch-summary']['id']}", expect_text="Not stored")
    # A loaded machine may show the summary's table before the rest of it: read it once all of it is there.
    page.get_by_text("moderation", exact=False).first.wait_for(state="visible")
    summary = str(page.inner_text("body"))
    assert "1 of 2" in summary and "moderation" in summary and "idempotency_key=" in summary
    screenshots.take(page, "ui-batch-summary.png")


def test_the_saved_blocks_page_masks_the_key(page: Any, stack: Stack) -> None:
    (block,) = stack.post("/block_documents/filter", {"block_documents": {"name": {"any_": [stack.names.block]}}})

    text = visit(page, f"{stack.ui}/blocks/block/{block['id']}", expect_text="Base URL")

    assert "********" in text and API_KEY not in text
