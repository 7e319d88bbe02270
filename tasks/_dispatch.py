"""Async tasks that also hand sync flows a value instead of a coroutine.

A Prefect 3 async task called from a sync flow returns a coroutine the flow
cannot await. ``DualTask`` checks the calling context the way Prefect's own
``async_dispatch`` does: from async code it behaves as the async task it is;
from sync code it runs the task to completion on Prefect's sync-bridge loop and
returns the result. ``.submit()``, ``.map()`` and ``.fn`` are untouched.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from prefect import Task
from prefect.context import get_run_context
from prefect.exceptions import MissingContextError
from prefect.utilities.asyncutils import run_coro_as_sync

R = TypeVar("R")


def _is_in_async_context() -> bool:
    """True inside an async task or flow run, or, outside any run, on a running event loop.

    The same rule as Prefect's private ``is_in_async_context``, from public API
    only, for a Prefect that moves or drops it.
    """
    try:
        run = get_run_context()
    except MissingContextError:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return False
        return True
    caller = getattr(run, "task", None) or getattr(run, "flow", None)
    return bool(getattr(caller, "isasync", True))


try:
    # Prefect's own check, so DualTask decides exactly as Prefect's async_dispatch does.
    from prefect._internal.compatibility.async_dispatch import is_in_async_context
except ImportError:  # private: guarded, with the same rule as the fallback
    is_in_async_context = _is_in_async_context


class DualTask(Task[..., Any]):
    """A Prefect task over an async function, callable from sync and async code alike."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        call = super().__call__(*args, **kwargs)
        if is_in_async_context():
            return call
        # With return_state=True the coroutine resolves to the State: run it all the same.
        return run_coro_as_sync(call)

    def with_options(self, **options: Any) -> DualTask:
        task = super().with_options(**options)
        task.__class__ = DualTask
        return task  # type: ignore[return-value]


def dual_task(**options: Any) -> Callable[[Callable[..., Coroutine[Any, Any, R]]], DualTask]:
    """Like ``@task(...)``, for an async function that sync flows may call too."""

    def decorate(fn: Callable[..., Coroutine[Any, Any, R]]) -> DualTask:
        return DualTask(fn=fn, **options)

    return decorate
