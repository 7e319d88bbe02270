"""Every public task and block shows a runnable example, and each one runs and returns what it says."""

from __future__ import annotations

import inspect
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from prefect import Flow

from prefect_sora.blocks import SoraCredentials
from prefect_sora.emulator import Emulator
from prefect_sora.tasks import (
    await_video,
    create_character,
    estimate_cost,
    fetch_video,
    retrieve_character,
    submit_edit,
    submit_extension,
    submit_remix,
    submit_video,
)

FENCE = re.compile(r"```python\n(.*?)```", re.DOTALL)


def example_of(documented: Any) -> str:
    """The one ```python example in a task's or a block's docstring, dedented."""
    doc = inspect.getdoc(getattr(documented, "fn", documented)) or ""
    examples = FENCE.findall(doc)
    assert len(examples) == 1, f"{documented} should show exactly one ```python example"
    return inspect.cleandoc(examples[0])


def run_example(documented: Any, *, block_name: str | None = None, **arguments: Any) -> Any:
    """Execute the example, then call the one flow it defines.

    Prefect's block standard test suite wants the literal ``load("BLOCK_NAME")`` in a
    block's example, but Prefect refuses upper-case block names, so the test saves a
    block under ``block_name`` and the example loads that.
    """
    source = example_of(documented)
    if block_name is not None:
        assert 'load("BLOCK_NAME")' in source
        source = source.replace('load("BLOCK_NAME")', f'load("{block_name}")')
    namespace: dict[str, Any] = {"__name__": f"example_{getattr(documented, 'name', 'block')}"}
    exec(compile(source, f"<example of {documented}>", "exec"), namespace)
    flows = [value for value in namespace.values() if isinstance(value, Flow)]
    assert len(flows) == 1, "the example should define one flow"
    with warnings.catch_warnings():
        # An example shows the current form: a task called positionally after its first parameter fails it.
        warnings.filterwarnings("error", message=".*by position is deprecated", category=DeprecationWarning)
        return flows[0](**arguments)


def check_completed(result: Any, tmp_path: Path) -> None:
    assert result == "completed"


def check_video_id(result: Any, tmp_path: Path) -> None:
    assert isinstance(result, str) and result.startswith("video_")


def check_stored_file(result: Any, tmp_path: Path) -> None:
    assert result.startswith(f"file://{tmp_path}/videos/video_") and result.endswith(".mp4")
    stored = Path(result.removeprefix("file://"))
    assert stored.stat().st_size > 1000
    assert stored.read_bytes()[4:8] == b"ftyp"


def check_price(result: Any, tmp_path: Path) -> None:
    assert result == "16.80"


def check_stitched_length(result: Any, tmp_path: Path) -> None:
    assert result == "12"  # 4 s of source and 8 s of extension


def check_said(expected: str) -> Callable[[Any, Path], None]:
    def check(result: Any, tmp_path: Path) -> None:
        assert result == expected

    return check


EXAMPLES: dict[str, tuple[Any, Callable[[Any, Path], None]]] = {
    "submit_video": (submit_video, check_video_id),
    "submit_remix": (submit_remix, check_video_id),
    "await_video": (await_video, check_completed),
    "fetch_video": (fetch_video, check_stored_file),
    "estimate_cost": (estimate_cost, check_price),
    "submit_extension": (submit_extension, check_stitched_length),
    "submit_edit": (submit_edit, check_completed),
    "create_character": (create_character, check_said("Scarf Fox")),
    "retrieve_character": (retrieve_character, check_said("Professor Owl")),
}


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_the_task_example_runs_and_returns_what_it_says(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    documented, check = EXAMPLES[name]
    monkeypatch.chdir(tmp_path)  # examples that write files write them here

    check(run_example(documented), tmp_path)


def test_the_block_example_loads_a_saved_block_and_runs(sora_emulator: Emulator, api_key: str) -> None:
    SoraCredentials(api_key=api_key, base_url=sora_emulator.base_url).save("docs-example", overwrite=True)

    result = run_example(SoraCredentials, block_name="docs-example", prompt="A lighthouse")

    assert result == "completed"
    assert sora_emulator.stats()["creates"] == 1
