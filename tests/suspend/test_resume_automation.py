"""The resume automation shipped as a file is the one the sora-watcher creates."""

from __future__ import annotations

from pathlib import Path

import yaml
from prefect.events.schemas.automations import AutomationCore

from prefect_sora.flows._suspend import SUSPENDED_RUN_ROLE
from prefect_sora.flows._watcher import RESUME_AUTOMATION

FILE = Path(__file__).parents[2] / "automations" / "resume-suspended-runs.yaml"


def test_the_shipped_file_is_the_automation_the_watcher_creates() -> None:
    assert yaml.safe_load(FILE.read_text()) == RESUME_AUTOMATION


def test_it_resumes_only_runs_named_as_suspended_by_an_ending_event() -> None:
    automation = AutomationCore.model_validate(RESUME_AUTOMATION)
    trigger = automation.trigger

    assert [action.type for action in automation.actions] == ["resume-flow-run"]
    assert trigger.match_related.model_dump() == {"prefect.resource.role": SUSPENDED_RUN_ROLE}  # type: ignore[union-attr]
    assert set(trigger.expect) == {  # type: ignore[union-attr]
        "sora.video.completed",
        "sora.video.failed",
        "sora.video.cancelled",
        "sora.video.expired",
    }
