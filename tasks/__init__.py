"""The atomic Prefect tasks of prefect-sora: estimate, submit, await, fetch; extend, edit; characters.

Each is usable from async flows (``await``), sync flows (returns the value),
and with ``.submit()`` / ``.map()``.
"""

from prefect_sora.tasks._characters import create_character, retrieve_character
from prefect_sora.tasks._estimate import estimate_cost
from prefect_sora.tasks._extend import submit_edit, submit_extension
from prefect_sora.tasks._fetch import fetch_video
from prefect_sora.tasks._submit import submit_remix, submit_video
from prefect_sora.tasks._wait import await_video

__all__ = [
    "await_video",
    "create_character",
    "estimate_cost",
    "fetch_video",
    "retrieve_character",
    "submit_edit",
    "submit_extension",
    "submit_remix",
    "submit_video",
]
