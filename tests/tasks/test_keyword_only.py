"""Every task: awaited in an async flow, a value in a sync one; keyword-only after the first parameter.

What 0.1 took by position still works for one release, with a DeprecationWarning that
names the keyword form; nothing inside the package calls a task the deprecated way.
"""

from __future__ import annotations

import asyncio
import inspect
import warnings
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from prefect import flow

import prefect_sora
from prefect_sora import CostEstimate, SoraCredentials, Video, text_to_video
from prefect_sora.emulator import Emulator
from prefect_sora.tasks import await_video, estimate_cost, submit_video

DEPRECATED = r"by position is deprecated"

#: Each task, its first parameter, and what 0.1 took by position after it (the README's calls).
TASKS = {
    "estimate_cost": ("model", ("size", "seconds", "count")),
    "submit_video": ("credentials", ("prompt", "model", "seconds", "size", "input_reference")),
    "submit_remix": ("credentials", ("video", "prompt")),
    "submit_extension": ("credentials", ("video", "prompt", "seconds")),
    "submit_edit": ("credentials", ("video", "prompt")),
    "await_video": ("credentials", ("video",)),
    "fetch_video": ("credentials", ("video", "destination", "variant", "storage_options")),
    "create_character": ("credentials", ("video_file", "name")),
    "retrieve_character": ("credentials", ("character_id",)),
}


@pytest.mark.parametrize("name", list(TASKS))
def test_every_parameter_after_the_first_is_keyword_only(name: str) -> None:
    task = getattr(prefect_sora, name)
    first, positional = TASKS[name]
    parameters = list(inspect.signature(task.fn).parameters.values())

    assert parameters[0].name == first
    assert parameters[0].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert [p.name for p in parameters[1:] if p.kind is not inspect.Parameter.KEYWORD_ONLY] == []
    assert task.positional == positional
    assert inspect.iscoroutinefunction(task.fn)  # awaitable in an async flow, like every other task


def test_estimate_cost_is_awaited_in_an_async_flow_and_a_value_in_a_sync_one() -> None:
    @flow
    async def priced_async() -> CostEstimate:
        estimate: CostEstimate = await estimate_cost("sora-2", size="1280x720", seconds=8)
        return estimate

    @flow
    def priced_sync() -> CostEstimate:
        estimate: CostEstimate = estimate_cost("sora-2", size="1280x720", seconds=8)
        return estimate

    assert asyncio.run(priced_async()).total_usd == Decimal("0.80")
    assert priced_sync().total_usd == Decimal("0.80")


def test_the_positional_form_still_works_and_the_warning_names_the_keyword_form() -> None:
    with pytest.warns(DeprecationWarning, match=DEPRECATED) as caught:
        estimate = estimate_cost("sora-2-pro", "1920x1080", 8, 3)

    assert estimate.total_usd == Decimal("16.80")
    (warning,) = caught
    assert "estimate_cost(model, size=..., seconds=..., count=...)" in str(warning.message)
    assert warning.filename == __file__  # it points at the caller's line


def test_a_sync_flow_submits_and_waits_positionally_with_a_warning_and_pays_once(
    credentials: SoraCredentials, sora_emulator: Emulator
) -> None:
    @flow
    def old_style() -> Video:
        video = submit_video(credentials, "a heron", "sora-2", 4)
        return await_video(credentials, video)  # type: ignore[no-any-return]

    with pytest.warns(DeprecationWarning, match=DEPRECATED) as caught:
        done = old_style()

    assert done.status == "completed"
    assert sora_emulator.stats()["creates"] == 1
    messages = " | ".join(str(w.message) for w in caught)
    assert "write submit_video(credentials, prompt=..., model=..., seconds=...)" in messages
    assert "write await_video(credentials, video=...)" in messages


@pytest.mark.parametrize(
    ("args", "kwargs", "refusal"),
    [
        (("sora-2", "720x1280", 4, 1, "extra"), {}, "takes its first argument by position"),
        (("sora-2", "720x1280"), {"size": "1280x720"}, "multiple values for size"),
    ],
)
def test_too_many_or_doubled_arguments_are_refused_before_anything_runs(
    args: tuple[Any, ...], kwargs: dict[str, Any], refusal: str
) -> None:
    with warnings.catch_warnings(), pytest.raises(TypeError, match=refusal):
        warnings.simplefilter("ignore", DeprecationWarning)
        estimate_cost(*args, **kwargs)


def test_with_options_keeps_the_deprecation_path() -> None:
    renamed = estimate_cost.with_options(name="estimate-again")

    with pytest.warns(DeprecationWarning, match=DEPRECATED):
        assert renamed("sora-2", "720x1280", 4).total_usd == Decimal("0.40")


def test_the_flows_call_every_task_by_keyword(credentials: SoraCredentials, tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=f".*{DEPRECATED}", category=DeprecationWarning)
        result = asyncio.run(
            text_to_video("A red kite", out=f"{tmp_path}/", credentials=credentials, idempotency_key="kw-1")
        )

    assert result.status == "stored"
