"""Every flow's docstring example runs as written against the emulator and prints what its comment says."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

import pytest

from prefect_sora.flows import batch_text_to_video, image_to_video, remix_video, text_to_video

FENCE = re.compile(r"```python\n(.*?)```", re.DOTALL)

EXPECTED: dict[str, tuple[Any, str]] = {
    "text_to_video": (text_to_video, r"^file://{cwd}/videos/video_[0-9a-f]+\.mp4 0\.40$"),
    "batch_text_to_video": (batch_text_to_video, r"^3 1\.20$"),
    "image_to_video": (image_to_video, r"^memory:///videos/video_[0-9a-f]+\.mp4$"),
    "remix_video": (remix_video, r"^True$"),
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_the_flow_example_prints_what_it_promises(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    flow, expected = EXPECTED[name]
    (example,) = FENCE.findall(inspect.getdoc(flow.fn) or "")
    monkeypatch.chdir(tmp_path)  # examples that write files write them here

    exec(compile(inspect.cleandoc(example), f"<example of {name}>", "exec"), {"__name__": f"example_{name}"})

    printed = capsys.readouterr().out.strip().splitlines()[-1]
    assert re.match(expected.format(cwd=re.escape(str(tmp_path))), printed), printed
